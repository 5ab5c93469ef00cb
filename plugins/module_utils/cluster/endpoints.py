# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public endpoints: which objects they are, and reading their addresses (docs/behaviour.md §10.4).

This module is the one reader of live addresses: a deploy waits for them (``wait_addresses``), a rerun
reads them from the live snapshot (``known_addresses``), a run task takes the environment's
(``live_variables``), ``environment_info`` describes them (``describe``). Addresses by object:

* internal Service: ``<service>.<namespace>.svc.cluster.local``, known at once;
* NodePort Service: the node address (``node_port_address``, else ``unknown-node-address`` as in
  ContinuousPipe) and each port's ``nodePort``;
* LoadBalancer Service: the first ``status.loadBalancer.ingress[]`` entry, ``hostname`` else ``ip``;
* Ingress: waits for ``status.loadBalancer.ingress[]`` like a LoadBalancer, then, when it has rules,
  each rule host is an address (the first one is the endpoint's address; an endpoint of a fan-out group:
  its own hosts);
* HTTPRoute (Gateway API): waits until its Gateway (``parentRefs``) reports it ``Accepted`` for its
  current generation; its first host name is the address, else its Gateway's first address;
* Route (OpenShift): waits until a router reports it ``Admitted``; the host it was admitted under (the
  router's generated one when the Route has none) is the address.

A route its controller refused (``Accepted=False``, ``Admitted=False``: a host another namespace holds, a
listener that does not allow it) fails at once with the controller's reason, rather than at the timeout.
Each poll is one LIST per kind of the pending endpoints (plus one GET per Gateway a host-less HTTPRoute
takes its address from). Timeout: 900 s by default (``endpoint_timeout``), then ``Endpoint still not
found. Timed-out.`` like ContinuousPipe.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import kinds, naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError

UNKNOWN_NODE_ADDRESS = "unknown-node-address"
SERVICE_LABEL = "continuouspipe.io/service"
TASK_LABEL = "continuouspipe.io/task"
# address reading mode of a plan (translate/plans.py ADDRESS_*) → the kind whose object holds it
_MODE_KIND = {"ingress": "Ingress", "httproute": "HTTPRoute", "route": "Route"}


class EndpointRejected(ClusterError):
    """A route that its controller (a Gateway, an OpenShift router) refused: it will not get an address."""


@dataclass
class EndpointAddress:
    name: str
    address: str
    ports: List[dict] = field(default_factory=list)
    hosts: List[str] = field(default_factory=list)
    variables: Tuple[str, ...] = ()
    kind: str = "Service"
    object_name: str = ""
    integrations: Tuple[dict, ...] = ()

    def to_dict(self) -> dict:
        out = {"name": self.name, "address": self.address, "ports": list(self.ports)}
        if self.hosts:
            out["hosts"] = list(self.hosts)
        if self.integrations:
            out["integrations"] = [dict(integration) for integration in self.integrations]
        return out


def integration_warnings(addresses: Dict[str, EndpointAddress]) -> List[str]:
    """One warning per vendor record ContinuousPipe would have managed itself."""
    out = []
    for endpoint in addresses.values():
        for integration in endpoint.integrations:
            provider = integration.get("provider")
            what = "DNS record(s) %s" % ", ".join(integration.get("hostnames") or []) if provider == "cloudflare" \
                else "proxy stack %s" % (integration.get("incoming") or "")
            out.append("endpoint %s: the %s %s is not managed by this collection; it is in this result's "
                       "endpoints[].integrations with the address %s (docs/migration.md shows the task to add)"
                       % (endpoint.name, provider, what.strip(), endpoint.address))
    return out


def is_public_endpoint_object(obj: dict) -> bool:
    """ContinuousPipe's PublicEndpointObjectVoter: objects deployed in the endpoint phase."""
    return kinds.is_public_endpoint(obj)


def endpoint_object_keys(plans) -> set:
    """(kind, name) of every object an EndpointPlan names, and of the Service it leads to."""
    keys = set()
    for plan in plans or []:
        keys.add((plan.kind, plan.object_name))
        keys.add(("Service", plan.name if plan.kind != "Service" else plan.object_name))
    return keys


# --------------------------------------------------------------------------------------------------
# readers (pure: live objects in, addresses out)


def lb_addresses(obj: Optional[dict]) -> List[str]:
    """``status.loadBalancer.ingress[]``: each entry's host name, else its IP."""
    out = []
    for entry in (((obj or {}).get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        address = entry.get("hostname") or entry.get("ip")
        if address:
            out.append(address)
    return out


def _lb_address(obj: Optional[dict]) -> Optional[str]:
    found = lb_addresses(obj)
    return found[0] if found else None


def _service_ports(service: Optional[dict]) -> List[dict]:
    out = []
    for port in ((service or {}).get("spec") or {}).get("ports") or []:
        out.append({key: port[key] for key in ("name", "port", "protocol", "nodePort") if key in port})
    return out


def _condition(conditions, kind: str) -> Optional[dict]:
    for condition in conditions or []:
        if condition.get("type") == kind:
            return condition
    return None


def route_admission(route: Optional[dict]) -> Tuple[Optional[str], Optional[str]]:
    """(host it was admitted under, why a router refused it): (None, None) while no router said."""
    refused = None
    for ingress in ((route or {}).get("status") or {}).get("ingress") or []:
        admitted = _condition(ingress.get("conditions"), "Admitted") or {}
        if admitted.get("status") == "True" and ingress.get("host"):
            return ingress["host"], None
        if admitted.get("status") == "False":
            refused = "%s: %s" % (admitted.get("reason") or "not admitted", admitted.get("message") or "")
    return None, refused


def _same_parent(reference: dict, parent: dict, namespace: str) -> bool:
    return reference.get("name") == parent.get("name") and \
        (reference.get("namespace") or namespace) == (parent.get("namespace") or namespace)


def httproute_acceptance(route: Optional[dict], parent: Optional[dict], namespace: str
                         ) -> Tuple[bool, Optional[str]]:
    """(accepted by ``parent`` for the route's current generation, why it was refused)."""
    generation = ((route or {}).get("metadata") or {}).get("generation") or 0
    for status in ((route or {}).get("status") or {}).get("parents") or []:
        if parent is not None and not _same_parent(status.get("parentRef") or {}, parent, namespace):
            continue
        accepted = _condition(status.get("conditions"), "Accepted") or {}
        if (accepted.get("observedGeneration") or 0) < generation:
            continue  # what the controller said about an earlier generation
        if accepted.get("status") == "True":
            return True, None
        if accepted.get("status") == "False":
            return False, "%s: %s" % (accepted.get("reason") or "not accepted", accepted.get("message") or "")
    return False, None


def gateway_addresses(gateway: Optional[dict]) -> List[str]:
    return [entry["value"] for entry in ((gateway or {}).get("status") or {}).get("addresses") or []
            if entry.get("value")]


def address_of(plan, objects, namespace: str, node_port_address: Optional[str] = None, gateways=None
               ) -> Optional[EndpointAddress]:
    """The address of one endpoint from its live objects (``objects[(kind, name)]``), or None while it has
    none; raises EndpointRejected when its controller refused it. ``gateways[(namespace, name)]`` are the
    live Gateways host-less HTTPRoutes take their address from."""
    found = _address_of(plan, objects, namespace, node_port_address, gateways or {})
    if found is not None:
        found.integrations = tuple(getattr(plan, "integrations", ()) or ())
    return found


def _address_of(plan, objects, namespace, node_port_address, gateways):
    mode = getattr(plan, "address", None) or "load_balancer"
    variables = tuple(getattr(plan, "variables", ()) or ())
    service = objects.get(("Service", plan.name if plan.kind != "Service" else plan.object_name))
    planned_ports = [dict(port) for port in getattr(plan, "ports", ()) or ()]

    def found(address, ports, hosts=()):
        return EndpointAddress(plan.name, address, ports, hosts=list(hosts), variables=variables, kind=plan.kind,
                               object_name=plan.object_name)

    if mode == "internal":
        return found(getattr(plan, "internal_address", None) or naming.service_dns_name(plan.object_name, namespace),
                     _service_ports(service) or planned_ports)
    if mode == "node_port":
        ports = _service_ports(service)
        if service is None or any("nodePort" not in port for port in ports):
            return None
        return found(node_port_address or UNKNOWN_NODE_ADDRESS, ports)
    if mode == "ingress":
        ingress = objects.get(("Ingress", plan.object_name))
        if ingress is None or _lb_address(ingress) is None:
            return None
        hosts = list(getattr(plan, "hosts", ()) or ())
        if not hosts and not getattr(plan, "group", None):
            hosts = [rule["host"] for rule in (ingress.get("spec") or {}).get("rules") or [] if rule.get("host")]
        return found(hosts[0] if hosts else _lb_address(ingress), _service_ports(service) or planned_ports, hosts)
    if mode == "route":
        route = objects.get(("Route", plan.object_name))
        host, refused = route_admission(route)
        if refused:
            raise EndpointRejected("Route %s of endpoint %s was not admitted by the router: %s"
                                   % (plan.object_name, plan.name, refused))
        if host is None:
            return None
        return found(host, _service_ports(service) or planned_ports, [host])
    if mode == "httproute":
        route = objects.get(("HTTPRoute", plan.object_name))
        parent = getattr(plan, "parent", None)
        accepted, refused = httproute_acceptance(route, parent, namespace)
        if refused:
            raise EndpointRejected("HTTPRoute %s of endpoint %s was not accepted by Gateway %s: %s" % (
                plan.object_name, plan.name, _parent_text(parent, namespace), refused))
        if not accepted:
            return None
        hosts = list(getattr(plan, "hosts", ()) or ())
        if hosts:
            return found(hosts[0], _service_ports(service) or planned_ports, hosts)
        key = ((parent or {}).get("namespace") or namespace, (parent or {}).get("name"))
        addresses = gateway_addresses(gateways.get(key))
        if not addresses:
            return None
        return found(addresses[0], _service_ports(service) or planned_ports)
    # load balancer
    if service is None or _lb_address(service) is None:
        return None
    return found(_lb_address(service), _service_ports(service))


def _parent_text(parent: Optional[dict], namespace: str) -> str:
    return "%s/%s" % ((parent or {}).get("namespace") or namespace, (parent or {}).get("name"))


def known_addresses(plans, live, namespace: str, node_port_address: Optional[str] = None) -> Dict[str, EndpointAddress]:
    """Addresses readable from a live snapshot (``plan.LiveState``) without waiting (a refused route: none)."""
    out = {}
    for plan in plans or []:
        objects = {("Service", plan.name if plan.kind != "Service" else plan.object_name):
                   live.get("Service", plan.name if plan.kind != "Service" else plan.object_name),
                   (plan.kind, plan.object_name): live.get(plan.kind, plan.object_name)}
        if getattr(plan, "address", None) == "httproute" and not getattr(plan, "hosts", None):
            continue  # its address is its Gateway's: read when waiting
        try:
            found = address_of(plan, objects, namespace, node_port_address)
        except EndpointRejected:
            continue
        if found is not None:
            out[plan.name] = found
    return out


# --------------------------------------------------------------------------------------------------
# waiting


def wait_addresses(cluster, namespace: str, plans, timeout: float = 900, poll: float = 0.5,
                   node_port_address: Optional[str] = None, clock=time.monotonic, sleep=time.sleep,
                   progress=None, progress_interval: float = 10.0) -> Dict[str, EndpointAddress]:
    """Poll until every endpoint has an address; raise ClusterError at the timeout, EndpointRejected at once
    when a controller refused a route.

    ``progress(line)`` is told, at most every ``progress_interval`` seconds, which endpoints still
    have no address."""
    plans = list(plans or [])
    found: Dict[str, EndpointAddress] = {}
    started = clock()
    deadline = started + timeout
    reported = started
    while True:
        pending = [plan for plan in plans if plan.name not in found]
        if not pending:
            return {plan.name: found[plan.name] for plan in plans}
        objects = _list_for(cluster, namespace, pending)
        gateways = _gateways_for(cluster, namespace, pending, objects)
        for plan in pending:
            address = address_of(plan, objects, namespace, node_port_address, gateways)
            if address is not None:
                found[plan.name] = address
        if len(found) == len(plans):
            # in the endpoints' order, not the order their addresses came in: the variables made of
            # them go into pod templates, which must not change from one run to the next
            return {plan.name: found[plan.name] for plan in plans}
        now = clock()
        if now > deadline:
            missing = [plan for plan in plans if plan.name not in found]
            raise ClusterError("Endpoint still not found. Timed-out after %ds waiting for the address of %s" % (
                timeout, ", ".join("%s (%s/%s)" % (plan.name, plan.kind, plan.object_name) for plan in missing)))
        if progress is not None and progress_interval and now - reported >= progress_interval:
            reported = now
            missing = [plan for plan in plans if plan.name not in found]
            progress("waiting %ds for the address of %s%s" % (
                now - started, ", ".join("endpoint %s (%s/%s)" % (plan.name, plan.kind, plan.object_name)
                                         for plan in missing),
                "; %s has one" % ", ".join(sorted(found)) if found else ""))
        sleep(poll)


def _list_for(cluster, namespace: str, plans) -> Dict[Tuple[str, str], dict]:
    """One LIST of Services and one of each routing kind the pending endpoints need."""
    wanted = ["Service"]
    for plan in plans:
        kind = _MODE_KIND.get(getattr(plan, "address", None) or "")
        if kind and kind not in wanted:
            wanted.append(kind)
    objects = {}
    for kind in wanted:
        entry = kinds.of(kind)
        for item in cluster.list(cluster.resource(entry.api_version, kind), namespace):
            objects[(kind, item["metadata"]["name"])] = item
    return objects


def _gateways_for(cluster, namespace: str, plans, objects) -> Dict[Tuple[str, str], dict]:
    """The Gateways whose address host-less, accepted HTTPRoutes take (one GET each)."""
    out: Dict[Tuple[str, str], dict] = {}
    for plan in plans:
        parent = getattr(plan, "parent", None)
        if getattr(plan, "address", None) != "httproute" or getattr(plan, "hosts", None) or not parent:
            continue
        key = (parent.get("namespace") or namespace, parent.get("name"))
        if key in out or not httproute_acceptance(objects.get(("HTTPRoute", plan.object_name)), parent, namespace)[0]:
            continue
        try:
            gateway = cluster.get(cluster.resource(kinds.of("Gateway").api_version, "Gateway"), key[1], key[0])
        except ClusterError as error:
            if error.status in (401, 403):
                raise ClusterError("endpoint %s has no host name, so its address is Gateway %s/%s's, which this "
                                   "identity may not read (%s); give the endpoint a host" % (
                                       plan.name, key[0], key[1], error), status=error.status)
            raise
        out[key] = gateway or {}
    return out


def variables(addresses: Dict[str, EndpointAddress]) -> Dict[str, str]:
    """SERVICE_<X>_PUBLIC_ENDPOINT / ENDPOINT_<X>_PUBLIC_ENDPOINT for later tasks."""
    out = {}
    for endpoint in addresses.values():
        names = endpoint.variables or _default_variables(endpoint.name)
        for name in names:
            out[name] = endpoint.address
    return out


def _default_variables(name: str) -> Tuple[str, str]:
    slug = "".join(ch if ch.isalnum() else "_" for ch in name).upper()
    return ("SERVICE_%s_PUBLIC_ENDPOINT" % slug, "ENDPOINT_%s_PUBLIC_ENDPOINT" % slug)


# --------------------------------------------------------------------------------------------------
# the endpoints of a live environment (environment_info, run tasks)


def _labels(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("labels") or {}


def _component(obj: dict) -> Optional[str]:
    labels = _labels(obj)
    return labels.get(SERVICE_LABEL) or labels.get(naming.COMPONENT_LABEL)


def _served(cluster, kind: str) -> bool:
    try:
        cluster.resource(kinds.of(kind).api_version, kind)
        return True
    except ClusterError as error:
        if error.status == 404:
            return False
        raise


def describe_service(service: dict, namespace: str) -> dict:
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    service_type = spec.get("type") or "ClusterIP"
    ports = []
    for port in spec.get("ports") or []:
        entry = {"name": port.get("name"), "port": port.get("port"), "protocol": port.get("protocol", "TCP"),
                 "target_port": port.get("targetPort")}
        if port.get("nodePort"):
            entry["node_port"] = port["nodePort"]
        ports.append(entry)
    addresses = lb_addresses(service) if service_type == "LoadBalancer" else []
    addresses += list(spec.get("externalIPs") or [])
    selector = spec.get("selector") or {}
    return {
        "name": meta.get("name"),
        "kind": "Service",
        "type": service_type,
        "component": _labels(service).get(SERVICE_LABEL) or selector.get(naming.COMPONENT_LABEL)
        or _labels(service).get(naming.COMPONENT_LABEL),
        "task": _labels(service).get(TASK_LABEL),
        "public": service_type in ("LoadBalancer", "NodePort") or bool(spec.get("externalIPs")),
        "addresses": addresses,
        "hosts": [],
        "internal_address": naming.service_dns_name(meta.get("name"), namespace),
        "cluster_ip": spec.get("clusterIP"),
        "ports": ports,
        "ready": bool(addresses) if service_type == "LoadBalancer" else True,
    }


def _routing_entry(obj: dict, hosts: List[str], addresses: List[str], backends: List[str], ready: bool,
                   **extra) -> dict:
    out = {
        "name": (obj.get("metadata") or {}).get("name"),
        "kind": obj.get("kind"),
        "type": obj.get("kind"),
        "component": _component(obj),
        "task": _labels(obj).get(TASK_LABEL),
        "public": True,
        "addresses": addresses,
        "hosts": hosts,
        "backends": backends,
        "internal_address": None,
        "ports": [],
        "ready": ready,
    }
    out.update(extra)
    return out


def describe_ingress(ingress: dict) -> dict:
    meta = ingress.get("metadata") or {}
    spec = ingress.get("spec") or {}
    hosts, backends = [], []
    for rule in spec.get("rules") or []:
        if rule.get("host") and rule["host"] not in hosts:
            hosts.append(rule["host"])
        for path in ((rule.get("http") or {}).get("paths")) or []:
            service = ((path.get("backend") or {}).get("service")) or {}
            if service.get("name") and service["name"] not in backends:
                backends.append(service["name"])
    tls_hosts = sorted({host for tls in spec.get("tls") or [] for host in tls.get("hosts") or []})
    addresses = lb_addresses(ingress)
    return _routing_entry(ingress, hosts, addresses, backends, bool(addresses), tls_hosts=tls_hosts,
                          **{"class": spec.get("ingressClassName")
                             or (meta.get("annotations") or {}).get("kubernetes.io/ingress.class")})


def describe_httproute(route: dict, namespace: str) -> dict:
    spec = route.get("spec") or {}
    backends = []
    for rule in spec.get("rules") or []:
        for backend in rule.get("backendRefs") or []:
            if backend.get("name") and backend["name"] not in backends:
                backends.append(backend["name"])
    parents = ["%s/%s" % (ref.get("namespace") or namespace, ref.get("name")) for ref in spec.get("parentRefs") or []]
    accepted = bool(parents) and all(httproute_acceptance(route, ref, namespace)[0] for ref in spec.get("parentRefs") or [])
    return _routing_entry(route, list(spec.get("hostnames") or []), [], backends, accepted, parents=parents)


def describe_route(route: dict) -> dict:
    spec = route.get("spec") or {}
    host, _refused = route_admission(route)
    hosts = [host] if host else ([spec["host"]] if spec.get("host") else [])
    target = (spec.get("to") or {}).get("name")
    return _routing_entry(route, hosts, [], [target] if target else [], host is not None,
                          path=spec.get("path") or "/", tls=((spec.get("tls") or {}).get("termination")))


def describe(cluster, namespace: str) -> List[dict]:
    """Every Service (internal DNS name, load balancer addresses, node ports) and routing object
    (Ingress, HTTPRoute, Route: hosts, backends, whether its controller took it) of the namespace."""
    out = [describe_service(item, namespace) for item in cluster.list(cluster.resource("v1", "Service"), namespace)]
    readers = (("Ingress", describe_ingress), ("HTTPRoute", lambda obj: describe_httproute(obj, namespace)),
               ("Route", describe_route))
    for kind, reader in readers:
        if kind != "Ingress" and not _served(cluster, kind):
            continue
        out += [reader(item) for item in cluster.list(cluster.resource(kinds.of(kind).api_version, kind), namespace)]
    return sorted(out, key=lambda entry: (entry["kind"] == "Service", entry["name"] or ""))


def live_variables(cluster, namespace: str) -> Dict[str, str]:
    """``SERVICE_<E>_PUBLIC_ENDPOINT`` → address for the public endpoints live in the namespace (§6.5).

    Load balancers: their address; routing objects (Ingress, HTTPRoute, Route): their first host (an
    Ingress without one: its address), under the name of the Service they lead to; internal endpoints:
    their cluster DNS name. Endpoints without an address yet, and node ports, are left out.
    """
    out = {}
    routed = {}
    for entry in describe(cluster, namespace):
        if entry["kind"] == "Service":
            continue
        address = entry["hosts"][0] if entry["hosts"] else (entry["addresses"][0] if entry["addresses"] else None)
        if address and (entry["ready"] or entry["kind"] == "Ingress"):
            for backend in entry["backends"] or [entry["name"]]:
                routed.setdefault(backend, address)
    for service in cluster.list(cluster.resource("v1", "Service"), namespace):
        if not kinds.is_public_service(service):
            continue
        meta = service.get("metadata") or {}
        labels = meta.get("labels") or {}
        address = None
        if labels.get(kinds.INTERNAL_ENDPOINT_LABEL) == "true":
            address = naming.service_dns_name(meta.get("name"), namespace)
        elif kinds.SOURCE_OF_INGRESS_LABEL in labels:
            address = routed.get(meta.get("name"))
        elif ((service.get("spec") or {}).get("type")) == "LoadBalancer":
            address = _lb_address(service)
        if address:
            out[naming.service_public_endpoint_variable(meta.get("name"))] = address
    return out
