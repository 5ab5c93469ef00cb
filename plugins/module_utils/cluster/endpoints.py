# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public endpoints: which objects they are, and waiting for their addresses (behaviour note §10.4).

Addresses by object:

* internal Service: ``<service>.<namespace>.svc.cluster.local``, known at once;
* NodePort Service: the node address (``node_port_address``, else ``unknown-node-address`` as in
  ContinuousPipe) and each port's ``nodePort``;
* LoadBalancer Service: the first ``status.loadBalancer.ingress[]`` entry, ``hostname`` else ``ip``;
* Ingress: waits for ``status.loadBalancer.ingress[]`` like a LoadBalancer, then, when it has rules,
  each rule host is an address (the first one is the endpoint's address).

Each poll is one LIST of Services and one LIST of Ingresses. Timeout: 900 s by default
(``endpoint_timeout``), then ``Endpoint still not found. Timed-out.`` like ContinuousPipe.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError

UNKNOWN_NODE_ADDRESS = "unknown-node-address"


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
    kind = obj.get("kind")
    if kind == "Ingress":
        return True
    if kind != "Service":
        return False
    labels = (obj.get("metadata") or {}).get("labels") or {}
    service_type = (obj.get("spec") or {}).get("type") or "ClusterIP"
    if labels.get("internal-endpoint") == "true" or "source-of-ingress" in labels:
        return True
    return service_type in ("LoadBalancer", "NodePort")


def endpoint_object_keys(plans) -> set:
    """(kind, name) of every object an EndpointPlan names (an Ingress endpoint: its Service too)."""
    keys = set()
    for plan in plans or []:
        keys.add((plan.kind, plan.object_name))
        if plan.kind == "Ingress":
            keys.add(("Service", plan.object_name))
    return keys


def _lb_address(obj: dict) -> Optional[str]:
    for entry in ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        if entry.get("hostname"):
            return entry["hostname"]
        if entry.get("ip"):
            return entry["ip"]
    return None


def _service_ports(service: Optional[dict]) -> List[dict]:
    out = []
    for port in ((service or {}).get("spec") or {}).get("ports") or []:
        out.append({key: port[key] for key in ("name", "port", "protocol", "nodePort") if key in port})
    return out


def address_of(plan, service: Optional[dict], ingress: Optional[dict], namespace: str,
               node_port_address: Optional[str] = None) -> Optional[EndpointAddress]:
    """The address of one endpoint from its live objects, or None while it has none."""
    found = _address_of(plan, service, ingress, namespace, node_port_address)
    if found is not None:
        found.integrations = tuple(getattr(plan, "integrations", ()) or ())
    return found


def _address_of(plan, service, ingress, namespace, node_port_address):
    mode = getattr(plan, "address", None) or "load_balancer"
    variables = tuple(getattr(plan, "variables", ()) or ())
    if mode == "internal":
        address = getattr(plan, "internal_address", None) or "%s.%s.svc.cluster.local" % (plan.object_name, namespace)
        ports = _service_ports(service) or [dict(port) for port in getattr(plan, "ports", ()) or ()]
        return EndpointAddress(plan.name, address, ports, variables=variables, kind=plan.kind, object_name=plan.object_name)
    if mode == "node_port":
        if service is None:
            return None
        ports = _service_ports(service)
        if any("nodePort" not in port for port in ports):
            return None
        return EndpointAddress(plan.name, node_port_address or UNKNOWN_NODE_ADDRESS, ports, variables=variables,
                               kind=plan.kind, object_name=plan.object_name)
    if mode == "ingress":
        if ingress is None or _lb_address(ingress) is None:
            return None
        hosts = list(getattr(plan, "hosts", ()) or ()) or [
            rule["host"] for rule in (ingress.get("spec") or {}).get("rules") or [] if rule.get("host")]
        address = hosts[0] if hosts else _lb_address(ingress)
        ports = _service_ports(service) or [dict(port) for port in getattr(plan, "ports", ()) or ()]
        return EndpointAddress(plan.name, address, ports, hosts=hosts, variables=variables, kind=plan.kind,
                               object_name=plan.object_name)
    # load balancer
    if service is None or _lb_address(service) is None:
        return None
    return EndpointAddress(plan.name, _lb_address(service), _service_ports(service), variables=variables,
                           kind=plan.kind, object_name=plan.object_name)


def known_addresses(plans, live, namespace: str, node_port_address: Optional[str] = None) -> Dict[str, EndpointAddress]:
    """Addresses readable from a live snapshot (``plan.LiveState``) without waiting."""
    out = {}
    for plan in plans or []:
        found = address_of(plan, live.get("Service", plan.object_name), live.get("Ingress", plan.object_name),
                           namespace, node_port_address)
        if found is not None:
            out[plan.name] = found
    return out


def wait_addresses(cluster, namespace: str, plans, timeout: float = 900, poll: float = 0.5,
                   node_port_address: Optional[str] = None, clock=time.monotonic, sleep=time.sleep,
                   progress=None, progress_interval: float = 10.0) -> Dict[str, EndpointAddress]:
    """Poll until every endpoint has an address; raise ClusterError at the timeout.

    ``progress(line)`` is told, at most every ``progress_interval`` seconds, which endpoints still
    have no address."""
    plans = list(plans or [])
    found: Dict[str, EndpointAddress] = {}
    started = clock()
    deadline = started + timeout
    reported = started
    services_resource = cluster.resource("v1", "Service")
    ingress_resource = cluster.resource("networking.k8s.io/v1", "Ingress")
    while True:
        pending = [plan for plan in plans if plan.name not in found]
        if not pending:
            return {plan.name: found[plan.name] for plan in plans}
        services = {item["metadata"]["name"]: item for item in cluster.list(services_resource, namespace)}
        ingresses = {}
        if any(plan.address == "ingress" or plan.kind == "Ingress" for plan in pending):
            ingresses = {item["metadata"]["name"]: item for item in cluster.list(ingress_resource, namespace)}
        for plan in pending:
            address = address_of(plan, services.get(plan.object_name), ingresses.get(plan.object_name), namespace,
                                 node_port_address)
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
