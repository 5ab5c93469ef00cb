# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Services and endpoints (docs/behaviour.md §9.6, §9.7, §9.8, §10.4).

Default Service (``ServiceTransformer``): when ``from_cluster`` and no endpoint of the component
produced a Service; named after the component, ``LoadBalancer`` when ``from_external`` else
``ClusterIP``, every port of the pod, the ``kubernetesReverseProxy`` annotation when
``reverse_proxy.domain_names`` is set. Deviation: ContinuousPipe sent a port-less Service for a
component without ports, which the API server rejects; it is skipped here (noted in the plan).

Endpoints (``IngressFactory::createObjectsFromEndpoint``), one Service named after the endpoint,
selecting the component's pods, plus — depending on ``type``, ``ingress`` and ``ssl_certificates``
(§9.7 matrix, see ``endpoint_shape``) — a ``networking.k8s.io/v1`` Ingress and its
``kubernetes.io/tls`` Secrets. Ingress: ``ingressClassName`` (+ the legacy annotation unless
disabled; classes ``gce``/``gce-internal`` get the annotation only, as GKE requires),
``ingress.kubernetes.io/secure-backends: "true"`` when port 443 is exposed, one rule per
host with path ``/`` (``pathType: ImplementationSpecific``, the closest to the v1beta1 path-less
rule), or a default backend when there is no host; backend port 443, else 80, else the first port;
one TLS entry per certificate Secret with all rule hosts. Endpoint annotations go on the Service
only. Static IPs are not translated into the deprecated ``spec.loadBalancerIP``: annotations that
carry one are kept verbatim (noted in the plan).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate import labels, secrets, validation
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.plans import (
    ADDRESS_INGRESS,
    ADDRESS_INTERNAL,
    ADDRESS_LOAD_BALANCER,
    ADDRESS_NODE_PORT,
    CertificatePlan,
    Context,
    EndpointPlan,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.variables import endpoint_variables
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.workloads import PodGroup

CLUSTER_IP = "ClusterIP"
NODE_PORT = "NodePort"
LOAD_BALANCER = "LoadBalancer"
GCE_CLASS = "gce"
# GKE's Ingress controllers read only the legacy annotation and do not accept ``ingressClassName``.
ANNOTATION_ONLY_CLASSES = ("gce", "gce-internal")


@dataclass
class Rendered:
    """Objects and plans rendered for one endpoint (or the default Service)."""

    secrets: List[dict] = field(default_factory=list)
    services: List[dict] = field(default_factory=list)
    ingresses: List[dict] = field(default_factory=list)
    endpoints: List[EndpointPlan] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class Shape:
    """What an endpoint becomes: its Service type, whether it has an Ingress, whether internal."""

    service_type: str
    ingress: bool = False
    internal: bool = False


def endpoint_shape(endpoint: model.Endpoint) -> Shape:
    """The §9.7 matrix, row by row.

    ============ ========== ============ ===========================================
    type         ingress    certificates objects (Service type)
    ============ ========== ============ ===========================================
    unset        no         none         Service (LoadBalancer)
    unset        no         ≥1           Service (ClusterIP), Ingress (default backend)
    unset/ingress yes, ≠gce any          Service (ClusterIP), Ingress
    unset/ingress yes, gce  any          Service (NodePort), Ingress
    ingress      no         none         Service (NodePort), Ingress (default backend)
    ingress      no         ≥1           Service (ClusterIP), Ingress
    NodePort     no         ignored      Service (NodePort)
    NodePort     yes        any          Service (NodePort), Ingress
    internal     ignored    ignored      Service (ClusterIP) labelled internal-endpoint
    other        ignored    ignored      Service (LoadBalancer)
    ============ ========== ============ ===========================================
    """
    kind = endpoint.type
    has_block = endpoint.ingress is not None
    has_certificates = bool(endpoint.ssl_certificates)
    if kind == "internal":
        return Shape(CLUSTER_IP, internal=True)
    if kind == NODE_PORT:
        return Shape(NODE_PORT, ingress=has_block)
    if kind in (None, "", "ingress"):
        if has_block:
            gce = (endpoint.ingress.class_name or "") == GCE_CLASS
            return Shape(NODE_PORT if gce else CLUSTER_IP, ingress=True)
        if has_certificates:
            return Shape(CLUSTER_IP, ingress=True)
        if kind == "ingress":
            return Shape(NODE_PORT, ingress=True)
        return Shape(LOAD_BALANCER)
    return Shape(LOAD_BALANCER)


def service_ports(ports: List[model.Port]) -> List[dict]:
    """Service ports: every port of the pod, ``targetPort`` by number."""
    return [{"name": port.identifier, "port": port.port, "targetPort": port.port, "protocol": port.protocol}
            for port in ports]


def backend_port(ports: List[model.Port]) -> int:
    """``IngressFactory::getExposedPort``: 443 if exposed, else 80, else the first port."""
    numbers = [port.port for port in ports]
    for preferred in (443, 80):
        if preferred in numbers:
            return preferred
    return numbers[0]


def _plan_ports(ports: List[model.Port]) -> Tuple[dict, ...]:
    return tuple({"port": port.port, "protocol": port.protocol} for port in ports)


def _static_ip_notes(annotations) -> List[str]:
    notes = []
    for key in sorted(annotations):
        if "loadbalancerip" in key.lower().replace("-", "").replace("_", ""):
            notes.append("annotation %s (static load balancer IP) is kept as an annotation; "
                         "spec.loadBalancerIP is not set" % key)
    return notes


# --------------------------------------------------------------------------------------------------
# Default Service


def default_service(ctx: Context, group: PodGroup, ports: List[model.Port], has_endpoints: bool) -> Rendered:
    """The component's own Service (§9.6), unless an endpoint replaced it or it has no port."""
    host = group.host
    out = Rendered()
    if not host.from_cluster or has_endpoints:
        return out
    if not ports:
        out.notes.append("no default Service: the component exposes no port "
                         "(ContinuousPipe sent a port-less Service, which Kubernetes rejects)")
        return out
    path = ctx.service_path(host)
    validation.service_name(host.identifier, path, "service identifier")
    annotations = {}
    if host.reverse_proxy_domains:
        annotations[labels.REVERSE_PROXY] = json.dumps(
            {"hosts": [{"host": domain, "port": "80"} for domain in host.reverse_proxy_domains]},
            separators=(",", ":"))
    service_type = LOAD_BALANCER if host.from_external else CLUSTER_IP
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": labels.metadata(
            ctx, host.identifier,
            labels.of_service(ctx, host.identifier, labels.ROLE_SERVICE, labels.selector(host.identifier)),
            annotations),
        "spec": {"type": service_type, "selector": labels.selector(host.identifier), "ports": service_ports(ports)},
    }
    out.services.append(obj)
    if service_type == LOAD_BALANCER:
        out.endpoints.append(EndpointPlan(
            name=host.identifier, component=host.identifier, kind="Service", object_name=host.identifier,
            address=ADDRESS_LOAD_BALANCER, service_type=service_type, ports=_plan_ports(ports),
            variables=endpoint_variables(host.identifier)))
    return out


# --------------------------------------------------------------------------------------------------
# Endpoints


# what of a vendor block is reported; credentials (authentication, api_key) never are
CLOUDFLARE_KEYS = ("zone_identifier", "proxied", "ttl", "backend_address")
HTTPLABS_KEYS = ("project_identifier", "middlewares")


def vendor_integrations(endpoint: model.Endpoint, hosts: List[str]) -> Tuple[Dict[str, object], ...]:
    """CloudFlare DNS record and HttpLabs stack of an endpoint (Appendix C), credentials left out.

    ContinuousPipe called those vendors' APIs itself; here they are handed over, with the address
    once known, to a later task (community.general.cloudflare_dns, an HttpLabs API call).
    """
    out = []
    zone = endpoint.cloud_flare_zone
    if zone:
        record = {"provider": "cloudflare"}
        record.update({key: zone[key] for key in CLOUDFLARE_KEYS if zone.get(key) is not None})
        record["hostnames"] = [zone["hostname"]] if zone.get("hostname") else list(hosts)
        out.append(record)
    stack = endpoint.httplabs
    if stack:
        entry = {"provider": "httplabs"}
        entry.update({key: stack[key] for key in HTTPLABS_KEYS if stack.get(key) is not None})
        if stack.get("incoming"):
            entry["incoming"] = stack["incoming"]
        out.append(entry)
    return tuple(out)


def render_endpoint(ctx: Context, group: PodGroup, endpoint: model.Endpoint, index: int,
                    ports: List[model.Port]) -> Rendered:
    """Service (+ Ingress + TLS Secrets) of one endpoint (§9.7)."""
    identifier = group.identifier
    path = ctx.service_path(group.host) + ("endpoints", index)
    validation.service_name(endpoint.name, path + ("name",), "endpoint name")
    if not ports:
        raise DefinitionError("The component should expose at least one port", path,
                              expected="ports in the specification of a service with endpoints")
    shape = endpoint_shape(endpoint)
    out = Rendered()
    hosts = _hosts(endpoint, path)
    certificates, generated = _certificates(ctx, identifier, endpoint, path, shape, hosts, out)

    cp_labels = labels.selector(identifier)
    if shape.ingress:
        cp_labels[labels.SOURCE_OF_INGRESS] = endpoint.name
    if shape.internal:
        cp_labels[labels.INTERNAL_ENDPOINT] = "true"
    out.services.append({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": labels.metadata(
            ctx, endpoint.name, labels.of_service(ctx, identifier, labels.ROLE_ENDPOINT, cp_labels),
            dict(endpoint.annotations or {})),
        "spec": {"type": shape.service_type, "selector": labels.selector(identifier), "ports": service_ports(ports)},
    })
    notes = tuple(_static_ip_notes(endpoint.annotations or {}))
    variables = endpoint_variables(endpoint.name)
    integrations = vendor_integrations(endpoint, hosts)

    if shape.ingress:
        port = backend_port(ports)
        out.ingresses.append(_ingress(ctx, identifier, endpoint, shape, hosts, certificates, ports, port, path))
        protocol = next(p.protocol for p in ports if p.port == port)
        out.endpoints.append(EndpointPlan(
            name=endpoint.name, component=identifier, kind="Ingress", object_name=endpoint.name,
            address=ADDRESS_INGRESS, service_type=shape.service_type,
            ports=({"port": port, "protocol": protocol},), hosts=tuple(hosts), variables=variables,
            certificates=tuple(generated), notes=notes, integrations=integrations))
    else:
        if shape.internal:
            address, internal = ADDRESS_INTERNAL, "%s.%s.svc.cluster.local" % (endpoint.name, ctx.namespace)
        else:
            address = ADDRESS_LOAD_BALANCER if shape.service_type == LOAD_BALANCER else ADDRESS_NODE_PORT
            internal = None
        out.endpoints.append(EndpointPlan(
            name=endpoint.name, component=identifier, kind="Service", object_name=endpoint.name,
            address=address, service_type=shape.service_type, ports=_plan_ports(ports),
            internal_address=internal, variables=variables, notes=notes, integrations=integrations))
    out.notes.extend(notes)
    return out


def _hosts(endpoint: model.Endpoint, path) -> List[str]:
    """The ingress rule hosts, distinct, in order."""
    hosts: List[str] = []
    if endpoint.ingress is None:
        return hosts
    for host in endpoint.ingress.hosts:
        validation.host(host, path + ("ingress", "host"))
        if host not in hosts:
            hosts.append(host)
    return hosts


def _certificates(ctx: Context, identifier: str, endpoint: model.Endpoint, path, shape: Shape,
                  hosts: List[str], out: Rendered) -> Tuple[List[str], List[CertificatePlan]]:
    """TLS Secrets of an endpoint that has an Ingress; returns (secret names, generated plans).

    ``automatic`` certificates follow ``GenerateWhileCreatingDeploymentRequest``: the endpoint needs
    an ingress with exactly one host; the Secret ``<endpoint>-automatic`` is generated at apply time.
    """
    names: List[str] = []
    generated: List[CertificatePlan] = []
    for index, certificate in enumerate(endpoint.ssl_certificates):
        cert_path = path + ("ssl_certificates", index)
        if certificate.automatic:
            if endpoint.ingress is None:
                raise DefinitionError("Can only generate SSL certificates with ingresses", cert_path,
                                      expected="an ingress block on an endpoint with an automatic certificate")
            if not hosts:
                raise DefinitionError("Can only generate SSL certificates for ingresses with an hostname", cert_path,
                                      expected="an ingress host")
            if len(hosts) != 1:
                raise DefinitionError(
                    "Cannot generate SSL certificate, found %d hostname(s) while expecting 1" % len(hosts), cert_path,
                    expected="exactly one ingress host")
        if not shape.ingress:
            continue  # ignored by ContinuousPipe for endpoints without an Ingress (§9.7)
        if certificate.automatic:
            name = secrets.automatic_secret_name(endpoint)
            validation.dns_subdomain(name, cert_path, "TLS secret name")
            generated.append(CertificatePlan(secret_name=name, host=hosts[0]))
            out.notes.append("TLS certificate %r of endpoint %r is generated at apply time into Secret %r" % (
                certificate.name, endpoint.name, name))
        else:
            secret = secrets.tls_secret(ctx, identifier, endpoint, certificate, cert_path)
            name = secret["metadata"]["name"]
            out.secrets.append(secret)
        if name not in names:
            names.append(name)
    return names, generated


def _ingress(ctx: Context, identifier: str, endpoint: model.Endpoint, shape: Shape, hosts: List[str],
             certificates: List[str], ports: List[model.Port], port: int, path) -> dict:
    """The ``networking.k8s.io/v1`` Ingress of an endpoint (``IngressFactory::createIngress``)."""
    class_name: Optional[str] = endpoint.ingress.class_name if endpoint.ingress is not None else None
    annotations = {}
    annotation_only = class_name in ANNOTATION_ONLY_CLASSES
    if class_name:
        validation.dns_subdomain(class_name, path + ("ingress", "class"), "ingress class")
        if ctx.options.ingress_class_annotation or annotation_only:
            annotations[labels.INGRESS_CLASS] = class_name
    if any(p.port == 443 for p in ports):
        annotations[labels.SECURE_BACKENDS] = "true"
    backend = {"service": {"name": endpoint.name, "port": {"number": port}}}
    spec: dict = {}
    if class_name and not annotation_only:
        spec["ingressClassName"] = class_name
    if hosts:
        spec["rules"] = [{"host": host, "http": {"paths": [
            {"path": "/", "pathType": "ImplementationSpecific", "backend": backend}]}} for host in hosts]
    else:
        spec["defaultBackend"] = backend
    if certificates:
        spec["tls"] = [dict({"secretName": name}, **({"hosts": list(hosts)} if hosts else {}))
                       for name in certificates]
    cp_labels = labels.selector(identifier)
    cp_labels[labels.SERVICE_TYPE] = shape.service_type
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": labels.metadata(
            ctx, endpoint.name, labels.of_service(ctx, identifier, labels.ROLE_ENDPOINT, cp_labels), annotations),
        "spec": spec,
    }
