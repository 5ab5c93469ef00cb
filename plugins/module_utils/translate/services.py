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
selecting the component's pods; an endpoint reached over HTTP (the ``ingress`` shapes of the §9.7 matrix,
see ``endpoint_shape``) also becomes an ``HttpEntry``, which ``routes`` renders for the platform (an
Ingress as ContinuousPipe did, an HTTPRoute or a Route), with its ``kubernetes.io/tls`` Secrets. The
backend port is 443, else 80, else the first port. Endpoint annotations go on the Service only. Static
IPs are not translated into the deprecated ``spec.loadBalancerIP``: annotations that carry one are kept
verbatim (noted in the plan); a fan-out group's ``address`` is reserved through the platform's own field
(``routes``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model, naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate import labels, secrets, validation
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.plans import (
    ADDRESS_INTERNAL,
    ADDRESS_LOAD_BALANCER,
    ADDRESS_NODE_PORT,
    CertificatePlan,
    Context,
    EndpointPlan,
    KUBERNETES,
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
class HttpEntry:
    """An endpoint reached over HTTP from outside (an Ingress in ContinuousPipe), before ``routes``
    renders it for the platform: Ingress, HTTPRoute or Route, alone or in a fan-out group."""

    endpoint: model.Endpoint
    component: str
    path: Tuple  # key path of the endpoint, for errors
    service_type: str
    hosts: List[str]
    url_path: str
    port: model.Port
    secure_backend: bool
    tls: List[Tuple[str, Optional[dict]]]  # (Secret name, rendered Secret; None when generated at apply time)
    generated: List[CertificatePlan]
    variables: Tuple[str, ...]
    notes: Tuple[str, ...]
    integrations: Tuple[Dict[str, object], ...]

    @property
    def explicit_path(self) -> bool:
        return self.endpoint.ingress is not None and self.endpoint.ingress.path is not None

    @property
    def group(self) -> Optional[str]:
        return self.endpoint.ingress.group if self.endpoint.ingress is not None else None

    @property
    def address(self) -> Optional[str]:
        return self.endpoint.ingress.address if self.endpoint.ingress is not None else None

    @property
    def class_name(self) -> Optional[str]:
        return self.endpoint.ingress.class_name if self.endpoint.ingress is not None else None


@dataclass
class Rendered:
    """Objects and plans rendered for one endpoint (or the default Service).

    ``endpoints`` holds the plans of endpoints whose address is a Service's; ``http`` the endpoints
    reached over HTTP, rendered by ``routes`` for the platform; ``slots`` both in definition order
    (a plan, or the name of an HTTP endpoint whose plan ``routes`` makes).
    """

    secrets: List[dict] = field(default_factory=list)
    services: List[dict] = field(default_factory=list)
    http: List[HttpEntry] = field(default_factory=list)
    endpoints: List[EndpointPlan] = field(default_factory=list)
    slots: List[object] = field(default_factory=list)
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
        plan = EndpointPlan(
            name=host.identifier, component=host.identifier, kind="Service", object_name=host.identifier,
            address=ADDRESS_LOAD_BALANCER, service_type=service_type, ports=_plan_ports(ports),
            variables=endpoint_variables(host.identifier))
        out.endpoints.append(plan)
        out.slots.append(plan)
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
    if shape.ingress and ctx.options.platform.name != KUBERNETES:
        # NodePort was for GCE's Ingress controller; HTTPRoutes and Routes reach a ClusterIP Service
        shape = Shape(CLUSTER_IP, ingress=True)
    out = Rendered()
    hosts = _hosts(endpoint, path)
    tls, generated = _certificates(ctx, identifier, endpoint, path, shape, hosts, out)

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
        number = backend_port(ports)
        out.http.append(HttpEntry(
            endpoint=endpoint, component=identifier, path=path, service_type=shape.service_type, hosts=hosts,
            url_path=_url_path(endpoint, path), port=next(p for p in ports if p.port == number),
            secure_backend=any(p.port == 443 for p in ports), tls=tls, generated=generated, variables=variables,
            notes=notes, integrations=integrations))
        out.slots.append(endpoint.name)
    else:
        if shape.internal:
            address, internal = ADDRESS_INTERNAL, naming.service_dns_name(endpoint.name, ctx.namespace)
        else:
            address = ADDRESS_LOAD_BALANCER if shape.service_type == LOAD_BALANCER else ADDRESS_NODE_PORT
            internal = None
        plan = EndpointPlan(
            name=endpoint.name, component=identifier, kind="Service", object_name=endpoint.name,
            address=address, service_type=shape.service_type, ports=_plan_ports(ports),
            internal_address=internal, variables=variables, notes=notes, integrations=integrations)
        out.endpoints.append(plan)
        out.slots.append(plan)
        if endpoint.ingress is not None and (endpoint.ingress.group or endpoint.ingress.address or endpoint.ingress.path):
            out.notes.append("endpoint %r is not reached over HTTP (type %s): its ingress path, group and address "
                             "are not used" % (endpoint.name, endpoint.type))
    out.notes.extend(notes)
    return out


_URL_PATH = re.compile(r"^/(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})*$")


def _url_path(endpoint: model.Endpoint, path) -> str:
    """The path prefix of an endpoint (``ingress.path``, default ``/``), valid for Ingress, HTTPRoute and Route."""
    value = endpoint.ingress.path if endpoint.ingress is not None else None
    if value is None:
        return "/"
    where = path + ("ingress", "path")
    lowered = str(value).lower()
    if not isinstance(value, str) or not _URL_PATH.match(value) or len(value) > 1024 or "//" in value \
            or "/./" in value or "/../" in value or "%2f" in lowered or value.endswith(("/.", "/..")):
        raise DefinitionError("ingress path %r is not a valid URL path prefix" % (value,), where,
                              expected="an absolute path such as /api (letters, digits and -._~!$&'()*+,;=:@/, "
                                       "no '//', '/./' or '/../')")
    return value


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
                  hosts: List[str], out: Rendered) -> Tuple[List[Tuple[str, Optional[dict]]], List[CertificatePlan]]:
    """TLS certificates of an endpoint reached over HTTP; returns ((Secret name, Secret or None), …) and
    the certificates to generate. ``routes`` decides which of the Secrets the platform needs.

    ``automatic`` certificates follow ``GenerateWhileCreatingDeploymentRequest``: the endpoint needs
    an ingress with exactly one host; the Secret ``<endpoint>-automatic`` is generated at apply time.
    """
    names: List[Tuple[str, Optional[dict]]] = []
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
            secret = None
        else:
            secret = secrets.tls_secret(ctx, identifier, endpoint, certificate, cert_path)
            name = secret["metadata"]["name"]
        if name not in [known for known, _secret in names]:
            names.append((name, secret))
    return names, generated
