# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Endpoints reached over HTTP, rendered for the platform of the target cluster (the platform seam).

ContinuousPipe rendered every such endpoint as an Ingress (docs/behaviour.md §9.7). The platform
(``TranslateOptions.platform``) chooses the objects; everything else an endpoint becomes (its Service,
its variables, its address) stays the same:

=========== ====================================================== ==========================================
platform    an endpoint                                            a fan-out group (``ingress.group``)
=========== ====================================================== ==========================================
kubernetes  a ``networking.k8s.io/v1`` Ingress (as ContinuousPipe)  one Ingress named after the group, one rule
                                                                   per host, one path per endpoint
gateway     an ``HTTPRoute`` attached to the cluster's Gateway      HTTPRoutes on one Gateway: the cluster's, or
            (``gateway``: the platform team's, shared)              with ``address`` a Gateway of the group
openshift   a ``route.openshift.io/v1`` Route per host             Routes on one host with their paths
=========== ====================================================== ==========================================

Fan-out (an extension of ContinuousPipe's configuration): endpoints of one deploy task whose ``ingress``
names the same ``group`` share one host or one static address, each under its ``path`` (default ``/``).
The group's ``address`` is reserved through the platform's own field: the Gateway's ``spec.addresses``;
on GKE's Ingress classes the ``kubernetes.io/ingress.global-static-ip-name`` (``gce``) or
``kubernetes.io/ingress.regional-static-ip-name`` (``gce-internal``) annotation. Other Ingress classes and
OpenShift Routes have no such field: an address there is an error naming the key.

TLS (``ssl_certificates``): Ingress ``tls`` entries as before; on a Gateway of the group, HTTPS listeners
referencing the certificates' Secrets; on the cluster's shared Gateway, its own HTTPS listeners terminate
TLS (the endpoint's certificates are not used, noted in the plan); on OpenShift, edge termination
(re-encrypt when the backend exposes 443) with the certificate referenced from its Secret
(``spec.tls.externalCertificate``, the router granted read access to those Secrets only) or copied inline
(``route_certificates: inline``); an ``automatic`` certificate is the router's default one.
"""
from __future__ import annotations

import base64
import ipaddress
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError, format_path
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate import labels, validation
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.plans import (
    ADDRESS_HTTPROUTE,
    ADDRESS_INGRESS,
    ADDRESS_ROUTE,
    GATEWAY,
    OPENSHIFT,
    Context,
    EndpointPlan,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.services import (
    ANNOTATION_ONLY_CLASSES,
    HttpEntry,
)

GATEWAY_API = "gateway.networking.k8s.io/v1"
ROUTE_API = "route.openshift.io/v1"
# the OpenShift router's service account, granted read access to the certificates Routes reference
ROUTER_SERVICE_ACCOUNT = ("openshift-ingress", "router")
STATIC_ADDRESS_ANNOTATIONS = {
    "gce": "kubernetes.io/ingress.global-static-ip-name",
    "gce-internal": "kubernetes.io/ingress.regional-static-ip-name",
}
GROUP_LABEL = "continuouspipe.io/ingress-group"


@dataclass
class RoutedHttp:
    """What ``render`` produced: objects in order, each with the components it belongs to, the Secrets
    the platform needs, the endpoints' plans by name, and notes by component."""

    secrets: List[dict] = field(default_factory=list)
    objects: List[dict] = field(default_factory=list)
    owners: Dict[Tuple[str, str], List[str]] = field(default_factory=dict)
    endpoints: Dict[str, EndpointPlan] = field(default_factory=dict)
    notes: Dict[str, List[str]] = field(default_factory=dict)

    def add(self, obj: dict, components) -> None:
        self.objects.append(obj)
        owners = self.owners.setdefault((obj["kind"], obj["metadata"]["name"]), [])
        for component in components:
            if component not in owners:
                owners.append(component)

    def note(self, component: str, text: str) -> None:
        self.notes.setdefault(component, []).append(text)


@dataclass
class Group:
    """Endpoints rendered together: a fan-out group, or one endpoint on its own."""

    name: str
    entries: List[HttpEntry]
    grouped: bool

    @property
    def address(self) -> Optional[str]:
        return next((entry.address for entry in self.entries if entry.address), None)

    @property
    def components(self) -> List[str]:
        out = []
        for entry in self.entries:
            if entry.component not in out:
                out.append(entry.component)
        return out


# --------------------------------------------------------------------------------------------------
# groups


def groups(ctx: Context, entries: List[HttpEntry]) -> List[Group]:
    """Endpoints in fan-out groups (in order of their first member) and alone; checks that a group's
    members agree on its class and address."""
    out: "OrderedDict[str, Group]" = OrderedDict()
    for entry in entries:
        name = entry.group
        if name is None:
            out["\0" + entry.endpoint.name] = Group(entry.endpoint.name, [entry], False)
            continue
        validation.dns_label(name, entry.path + ("ingress", "group"), "ingress group")
        out.setdefault(name, Group(name, [], True)).entries.append(entry)
    for group in out.values():
        _agree(group, "class_name", "class")
        _agree(group, "address", "address")
        address = group.address
        if address is not None:
            where = next(entry.path for entry in group.entries if entry.address) + ("ingress", "address")
            _check_address(address, where)
    return list(out.values())


def _agree(group: Group, attribute: str, key: str) -> None:
    first = None
    for entry in group.entries:
        value = getattr(entry, attribute)
        if value is None and attribute == "address":
            continue  # the address may be given by one member
        if first is None:
            first = (entry, value)
        elif value != first[1]:
            raise DefinitionError(
                "endpoints %r and %r are in ingress group %r with different ingress %s (%r at %s, %r)" % (
                    first[0].endpoint.name, entry.endpoint.name, group.name, key, first[1],
                    format_path(first[0].path + ("ingress", key)), value),
                entry.path + ("ingress", key), expected="the same %s for every endpoint of the group" % key)


def _check_address(value: str, path) -> None:
    try:
        ipaddress.ip_address(value)
        return
    except ValueError:
        pass
    if not naming.is_dns1123_subdomain(value):
        raise DefinitionError("ingress address %r is neither an IP address nor a name" % (value,), path,
                              expected="an IP address (203.0.113.10) or the name of a reserved address")


def _address_type(value: str) -> str:
    try:
        ipaddress.ip_address(value)
        return "IPAddress"
    except ValueError:
        return "Hostname"


# --------------------------------------------------------------------------------------------------
# entry point


def render(ctx: Context, entries: List[HttpEntry]) -> RoutedHttp:
    """The platform's objects for every endpoint reached over HTTP, and their plans."""
    out = RoutedHttp()
    if not entries:
        return out
    platform = ctx.options.platform.name
    for group in groups(ctx, entries):
        if platform == GATEWAY:
            _gateway_group(ctx, group, out)
        elif platform == OPENSHIFT:
            _openshift_group(ctx, group, out)
        else:
            _ingress_group(ctx, group, out)
    if platform == OPENSHIFT:
        _router_access(ctx, entries, out)
    return out


def _metadata(ctx: Context, name: str, group: Group, annotations=None, role=labels.ROLE_ENDPOINT,
              extra: Optional[Dict[str, str]] = None) -> dict:
    """Labels of a routing object: its component's (ContinuousPipe's labels first: the selector label and
    ``extra``), or, for a group shared by several components, the group's."""
    components = group.components
    if len(components) == 1:
        cp_labels = labels.selector(components[0])
        cp_labels.update(extra or {})
        meta_labels = labels.of_service(ctx, components[0], role, cp_labels)
    else:
        meta_labels = labels.common(ctx)
        meta_labels[labels.NAME] = group.name
        meta_labels[labels.INSTANCE] = ctx.namespace
        meta_labels[labels.COMPONENT] = role
    if group.grouped:
        meta_labels[GROUP_LABEL] = group.name
    return labels.metadata(ctx, name, meta_labels, annotations)


def _plan(entry: HttpEntry, kind: str, object_name: str, address: str, group: Group, certificates=(), notes=(),
          parent=None) -> EndpointPlan:
    return EndpointPlan(
        name=entry.endpoint.name, component=entry.component, kind=kind, object_name=object_name, address=address,
        service_type=entry.service_type, ports=({"port": entry.port.port, "protocol": entry.port.protocol},),
        hosts=tuple(entry.hosts), variables=entry.variables, certificates=tuple(certificates),
        notes=tuple(entry.notes) + tuple(notes), integrations=entry.integrations,
        path=entry.url_path if entry.explicit_path else None, group=group.name if group.grouped else None,
        parent=parent)


def _add_secret(out: RoutedHttp, secret: dict) -> None:
    if all(known["metadata"]["name"] != secret["metadata"]["name"] for known in out.secrets):
        out.secrets.append(secret)


def _tls_secrets(entry: HttpEntry, out: RoutedHttp) -> None:
    for _name, secret in entry.tls:
        if secret is not None:
            _add_secret(out, secret)


def _generated_note(entry: HttpEntry, out: RoutedHttp) -> None:
    for plan in entry.generated:
        out.note(entry.component, "TLS certificate of endpoint %r is generated at apply time into Secret %r" % (
            entry.endpoint.name, plan.secret_name))


# --------------------------------------------------------------------------------------------------
# kubernetes: Ingress


def _ingress_group(ctx: Context, group: Group, out: RoutedHttp) -> None:
    """One Ingress for the group (``IngressFactory::createIngress`` for an endpoint on its own)."""
    first = group.entries[0]
    class_name = first.class_name
    annotations = {}
    annotation_only = class_name in ANNOTATION_ONLY_CLASSES
    if class_name:
        validation.dns_subdomain(class_name, first.path + ("ingress", "class"), "ingress class")
        if ctx.options.ingress_class_annotation or annotation_only:
            annotations[labels.INGRESS_CLASS] = class_name
    secure = [entry.secure_backend for entry in group.entries]
    if any(secure) and not all(secure):
        raise DefinitionError(
            "ingress group %r mixes backends that expose port 443 (HTTPS) and backends that do not; one Ingress "
            "cannot say both" % group.name, group.entries[secure.index(False)].path + ("ingress", "group"),
            expected="endpoints whose components all expose 443, or none, in one group")
    if all(secure):
        annotations[labels.SECURE_BACKENDS] = "true"
    address = group.address
    if address is not None:
        key = STATIC_ADDRESS_ANNOTATIONS.get(class_name or "")
        if key is None:
            raise DefinitionError(
                "ingress class %r has no field for a static address this collection knows (Ingresses have none; "
                "GKE's classes gce and gce-internal read an annotation)" % (class_name,),
                next(entry.path for entry in group.entries if entry.address) + ("ingress", "address"),
                expected="class gce or gce-internal with an address, or the annotation of your ingress "
                         "controller in the endpoint's annotations")
        annotations[key] = address
    spec: dict = {}
    if class_name and not annotation_only:
        spec["ingressClassName"] = class_name
    if not group.grouped and not first.hosts and not first.explicit_path:
        spec["defaultBackend"] = _ingress_backend(first)
    else:
        rules: "OrderedDict[Optional[str], List[dict]]" = OrderedDict()
        for entry in group.entries:
            for host in entry.hosts or [None]:
                rules.setdefault(host, []).append({
                    "path": entry.url_path,
                    "pathType": "Prefix" if entry.explicit_path else "ImplementationSpecific",
                    "backend": _ingress_backend(entry)})
        spec["rules"] = [dict(({"host": host} if host else {}), http={"paths": paths}) for host, paths in rules.items()]
    tls: "OrderedDict[str, List[str]]" = OrderedDict()
    for entry in group.entries:
        _tls_secrets(entry, out)
        _generated_note(entry, out)
        for name, _secret in entry.tls:
            hosts = tls.setdefault(name, [])
            hosts.extend(host for host in entry.hosts if host not in hosts)
    if tls:
        spec["tls"] = [dict({"secretName": name}, **({"hosts": hosts} if hosts else {})) for name, hosts in tls.items()]
    meta = _metadata(ctx, group.name, group, annotations, extra={labels.SERVICE_TYPE: first.service_type})
    out.add({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec},
            group.components)
    for entry in group.entries:
        out.endpoints[entry.endpoint.name] = _plan(entry, "Ingress", group.name, ADDRESS_INGRESS, group,
                                                   certificates=entry.generated)


def _ingress_backend(entry: HttpEntry) -> dict:
    return {"service": {"name": entry.endpoint.name, "port": {"number": entry.port.port}}}


# --------------------------------------------------------------------------------------------------
# gateway: HTTPRoute (and a Gateway of a group with a static address)


def _gateway_group(ctx: Context, group: Group, out: RoutedHttp) -> None:
    platform = ctx.options.platform
    address = group.address
    if address is not None:
        parent = {"namespace": ctx.namespace, "name": group.name}
        parent_ref = {"name": group.name}
        _group_gateway(ctx, group, address, out)
    else:
        gateway = platform.gateway
        if gateway is None or not gateway.name or not gateway.namespace:
            raise DefinitionError(
                "endpoint %r is reached through a Gateway, but no Gateway is configured for the cluster"
                % group.entries[0].endpoint.name, ("gateway",),
                expected="the gateway option (or inventory variable): name and namespace of the Gateway that "
                         "HTTPRoutes attach to")
        parent = {"namespace": gateway.namespace, "name": gateway.name}
        parent_ref = {"name": gateway.name, "namespace": gateway.namespace}
        if gateway.section_name:
            parent_ref["sectionName"] = gateway.section_name
    for entry in group.entries:
        notes = []
        if address is None and (entry.tls or entry.generated):
            notes.append("TLS of endpoint %r is terminated by the HTTPS listeners of Gateway %s/%s; its certificates "
                         "are not used" % (entry.endpoint.name, parent["namespace"], parent["name"]))
        elif address is not None:
            _tls_secrets(entry, out)
            _generated_note(entry, out)
        for note in notes:
            out.note(entry.component, note)
        spec = {"parentRefs": [dict(parent_ref)]}
        if entry.hosts:
            spec["hostnames"] = list(entry.hosts)
        spec["rules"] = [{"matches": [{"path": {"type": "PathPrefix", "value": entry.url_path}}],
                          "backendRefs": [{"name": entry.endpoint.name, "port": entry.port.port}]}]
        one = Group(group.name, [entry], group.grouped)
        out.add({"apiVersion": GATEWAY_API, "kind": "HTTPRoute",
                 "metadata": _metadata(ctx, entry.endpoint.name, one), "spec": spec}, [entry.component])
        out.endpoints[entry.endpoint.name] = _plan(
            entry, "HTTPRoute", entry.endpoint.name, ADDRESS_HTTPROUTE, group,
            certificates=entry.generated if address is not None else (), notes=notes, parent=parent)


def _group_gateway(ctx: Context, group: Group, address: str, out: RoutedHttp) -> None:
    """A Gateway for a group with a static address: ``spec.addresses`` reserves it; HTTPS listeners per
    host carry the group's certificates."""
    gateway = ctx.options.platform.gateway
    where = next(entry.path for entry in group.entries if entry.address) + ("ingress", "address")
    if gateway is None or not gateway.class_name:
        raise DefinitionError(
            "ingress group %r asks for the static address %s: a Gateway of its own, whose GatewayClass is not "
            "configured" % (group.name, address), where,
            expected="the gateway option's class_name (the GatewayClass of Gateways this collection renders)")
    listeners = [{"name": "http", "protocol": "HTTP", "port": 80}]
    by_host: "OrderedDict[Optional[str], List[str]]" = OrderedDict()
    for entry in group.entries:
        for name, _secret in entry.tls:
            for host in entry.hosts or [None]:
                names = by_host.setdefault(host, [])
                if name not in names:
                    names.append(name)
    for index, (host, names) in enumerate(by_host.items(), start=1):
        listener = {"name": "https-%d" % index, "protocol": "HTTPS", "port": 443}
        if host:
            listener["hostname"] = host
        listener["tls"] = {"mode": "Terminate", "certificateRefs": [{"name": name} for name in names]}
        listeners.append(listener)
    out.add({"apiVersion": GATEWAY_API, "kind": "Gateway", "metadata": _metadata(ctx, group.name, group),
             "spec": {"gatewayClassName": gateway.class_name,
                      "addresses": [{"type": _address_type(address), "value": address}],
                      "listeners": listeners}}, group.components)


# --------------------------------------------------------------------------------------------------
# openshift: Route


def _openshift_group(ctx: Context, group: Group, out: RoutedHttp) -> None:
    if group.address is not None:
        raise DefinitionError(
            "OpenShift Routes have no static address of their own: they take the address of the router that admits "
            "them", next(entry.path for entry in group.entries if entry.address) + ("ingress", "address"),
            expected="no address on OpenShift (ask the cluster administrators for a router shard), or the gateway "
                     "platform")
    inline = ctx.options.platform.route_certificates == "inline"
    for entry in group.entries:
        notes = []
        tls = None
        if entry.tls or entry.generated:
            tls = {"termination": "reencrypt" if entry.secure_backend else "edge",
                   "insecureEdgeTerminationPolicy": "Redirect"}
            provided = [(name, secret) for name, secret in entry.tls if secret is not None]
            if provided:
                name, secret = provided[0]
                if inline:
                    tls["certificate"] = _pem(secret, "tls.crt")
                    tls["key"] = _pem(secret, "tls.key")
                else:
                    _add_secret(out, secret)
                    tls["externalCertificate"] = {"name": name}
                if len(provided) > 1:
                    notes.append("a Route carries one certificate: endpoint %r uses %r, not %s" % (
                        entry.endpoint.name, name, ", ".join(repr(other) for other, _s in provided[1:])))
            else:
                notes.append("endpoint %r is served with the router's default certificate (an automatic certificate "
                             "is not generated on OpenShift)" % entry.endpoint.name)
        for note in notes:
            out.note(entry.component, note)
        names = []
        for index, host in enumerate(entry.hosts or [None]):
            name = entry.endpoint.name if index == 0 else "%s-%d" % (entry.endpoint.name, index + 1)
            validation.dns_label(name, entry.path + ("name",), "Route name")
            if host is not None and host.startswith("*."):
                raise DefinitionError(
                    "host %r is a wildcard: a Route takes one only with wildcardPolicy Subdomain, which routers refuse "
                    "unless their administrators allow it" % host, entry.path + ("ingress", "host"),
                    expected="a host name without '*'")
            spec: dict = {}
            if host:
                spec["host"] = host
            if entry.explicit_path and entry.url_path != "/":
                spec["path"] = entry.url_path
            spec["to"] = {"kind": "Service", "name": entry.endpoint.name}
            spec["port"] = {"targetPort": entry.port.identifier}
            if tls is not None:
                spec["tls"] = dict(tls)
            out.add({"apiVersion": ROUTE_API, "kind": "Route",
                     "metadata": _metadata(ctx, name, Group(group.name, [entry], group.grouped)), "spec": spec},
                    [entry.component])
            names.append(name)
        out.endpoints[entry.endpoint.name] = _plan(entry, "Route", names[0], ADDRESS_ROUTE, group, notes=notes)


def _pem(secret: dict, key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode("utf-8", "replace")


def route_certificates_role_name(task: str) -> str:
    return "cp-route-certificates.%s" % naming.task_slug(task)


def _router_access(ctx: Context, entries: List[HttpEntry], out: RoutedHttp) -> None:
    """Routes referencing their certificates' Secrets: the router may read those Secrets, no other."""
    referenced: List[str] = []
    components: Set[str] = set()
    for obj in out.objects:
        name = (((obj.get("spec") or {}).get("tls") or {}).get("externalCertificate") or {}).get("name")
        if obj["kind"] == "Route" and name and name not in referenced:
            referenced.append(name)
    if not referenced:
        return
    for entry in entries:
        if any(name in referenced for name, _secret in entry.tls):
            components.add(entry.component)
    name = route_certificates_role_name(ctx.task.identifier)
    validation.dns_subdomain(name, ("tasks", ctx.task.identifier), "Role name")
    role_labels = labels.common(ctx)
    role_labels[labels.COMPONENT] = labels.ROLE_TLS
    namespace, account = ROUTER_SERVICE_ACCOUNT
    owners = [entry.component for entry in entries if entry.component in components]
    out.add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
             "metadata": labels.metadata(ctx, name, dict(role_labels)),
             "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"],
                        "resourceNames": sorted(referenced)}]}, owners)
    out.add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": labels.metadata(ctx, name, dict(role_labels)),
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
             "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]}, owners)
