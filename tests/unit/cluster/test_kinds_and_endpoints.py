"""The kind registry (module_utils/kinds.py) and the pure address readers of cluster/endpoints.py: live
objects in, addresses out (the deploy against a real API server is in tests/integration)."""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import kinds
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import endpoints, platform, projects
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import plan as planning
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import prune
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.plans import EndpointPlan

# --------------------------------------------------------------------------------------------------
# the registry


def test_an_unknown_kind_is_applied_with_the_other_objects_and_deleted_with_the_services():
    entry = kinds.of("Widget")
    assert (entry.phase, entry.order, entry.prune_order) == (kinds.OTHER_PHASE, 4, 2)
    # between the endpoints (order 4, phase 2) and the workloads (order 5, phase 4): one answer everywhere
    assert planning.apply_order({"kind": "Widget"}) == entry.order
    assert kinds.phase_of({"kind": "Widget", "metadata": {"name": "w"}}) == kinds.OTHER_PHASE


def test_every_workload_kind_is_deleted_first_and_applied_last():
    for kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod"):
        entry = kinds.of(kind)
        assert entry.phase == kinds.WORKLOAD_PHASE and entry.prune_order == 0, kind
        assert entry.order >= 5


def test_routing_kinds_are_public_endpoints_and_deleted_before_their_services():
    for kind in ("Ingress", "HTTPRoute", "Route"):
        assert kinds.phase_of({"kind": kind, "metadata": {"name": "x"}}) == kinds.ENDPOINT_PHASE
        assert kinds.prune_order(kind) < kinds.prune_order("Service")
    assert kinds.phase_of({"kind": "Service", "spec": {"type": "ClusterIP"}, "metadata": {"name": "s"}}) == \
        kinds.SUPPORT_PHASE
    assert kinds.phase_of({"kind": "Service", "spec": {"type": "LoadBalancer"}, "metadata": {"name": "s"}}) == \
        kinds.ENDPOINT_PHASE
    assert kinds.phase_of({"kind": "Service", "metadata": {"name": "s"}}, {("Service", "s")}) == kinds.ENDPOINT_PHASE


def test_the_listed_kinds_follow_the_platform_and_kubernetes_keeps_its_own():
    assert planning.BASE_KINDS == (("v1", "Secret"), ("v1", "PersistentVolumeClaim"), ("v1", "Service"),
                                   ("networking.k8s.io/v1", "Ingress"), ("apps/v1", "Deployment"), ("v1", "Pod"))
    openshift = dict((kind, api) for api, kind in kinds.listed_kinds("openshift"))
    assert "Route" in openshift and "Ingress" not in openshift and "Role" in openshift
    gateway = {kind for _api, kind in kinds.listed_kinds("gateway")}
    assert {"HTTPRoute", "Gateway"} <= gateway and "Route" not in gateway


def test_prune_orders_deletions_by_the_registry():
    live = planning.LiveState("ns")
    for kind, name in (("Secret", "s"), ("Route", "r"), ("Deployment", "d"), ("Service", "v"), ("Role", "o")):
        live.put({"kind": kind, "metadata": {"name": name, "labels": {
            planning.TASK_LABEL: "app", planning.MANAGED_BY_LABEL: planning.MANAGED_BY}}})
    deletions, _kept = prune.plan_prune(live, "app", set())
    assert [change.kind for change in deletions] == ["Deployment", "Route", "Service", "Role", "Secret"]
    assert [[c.kind for c in group] for group in prune.phases(deletions)] == [
        ["Deployment"], ["Route"], ["Service"], ["Role", "Secret"]]


def test_the_environment_record_stands_for_the_namespace():
    record = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": kinds.ENVIRONMENT_RECORD}}
    assert kinds.is_anchor(record) and kinds.phase_of(record) == kinds.NAMESPACE_PHASE
    stamped = planning.stamp(record, "app", "ns", "flow-1", "created")
    labels = stamped["metadata"]["labels"]
    assert planning.TASK_LABEL not in labels and labels[planning.PROJECT_LABEL] == "flow-1"
    assert stamped["metadata"]["namespace"] == "ns"
    assert stamped["metadata"]["annotations"][planning.ORIGIN_ANNOTATION] == "created"
    assert not kinds.is_anchor({"kind": "ConfigMap", "metadata": {"name": "settings"}})


# --------------------------------------------------------------------------------------------------
# addresses


def plan(**fields):
    data = dict(name="web", component="web", kind="Route", object_name="web", address="route", service_type="ClusterIP")
    data.update(fields)
    return EndpointPlan(**data)


def route(host=None, admitted="True", reason=None):
    status = {"ingress": [{"host": host, "routerName": "default",
                           "conditions": [{"type": "Admitted", "status": admitted, "reason": reason}]}]}
    return {"kind": "Route", "metadata": {"name": "web"}, "spec": {}, "status": status if host or reason else {}}


def test_a_route_address_is_the_host_a_router_admitted():
    assert endpoints.address_of(plan(), {("Route", "web"): route()}, "ns") is None
    found = endpoints.address_of(plan(), {("Route", "web"): route("web-ns.apps.example.com")}, "ns")
    assert found.address == "web-ns.apps.example.com" and found.hosts == ["web-ns.apps.example.com"]


def test_a_route_the_router_refused_fails_at_once():
    with pytest.raises(endpoints.EndpointRejected) as refused:
        endpoints.address_of(plan(), {("Route", "web"): route("a.example.com", "False", "HostAlreadyClaimed")}, "ns")
    assert "HostAlreadyClaimed" in str(refused.value)


def httproute(generation, observed, status="True", reason="Accepted", parent=None):
    parent = parent or {"name": "shared", "namespace": "gateway-system"}
    return {"kind": "HTTPRoute", "metadata": {"name": "web", "generation": generation},
            "status": {"parents": [{"parentRef": parent, "conditions": [
                {"type": "Accepted", "status": status, "reason": reason, "observedGeneration": observed}]}]}}


def test_an_httproute_is_ready_when_its_gateway_accepted_its_generation():
    gateway_plan = plan(kind="HTTPRoute", address="httproute", hosts=("shop.example.com",),
                        parent={"namespace": "gateway-system", "name": "shared"})
    objects = {("HTTPRoute", "web"): httproute(2, 1)}
    assert endpoints.address_of(gateway_plan, objects, "ns") is None  # what was said about generation 1
    objects = {("HTTPRoute", "web"): httproute(2, 2)}
    assert endpoints.address_of(gateway_plan, objects, "ns").address == "shop.example.com"
    # another Gateway's word does not count
    objects = {("HTTPRoute", "web"): httproute(2, 2, parent={"name": "other", "namespace": "gateway-system"})}
    assert endpoints.address_of(gateway_plan, objects, "ns") is None
    with pytest.raises(endpoints.EndpointRejected) as refused:
        endpoints.address_of(gateway_plan, {("HTTPRoute", "web"): httproute(2, 2, "False", "NotAllowedByListeners")},
                             "ns")
    assert "NotAllowedByListeners" in str(refused.value) and "gateway-system/shared" in str(refused.value)


def test_a_hostless_httproute_takes_its_gateways_address():
    gateway_plan = plan(kind="HTTPRoute", address="httproute", parent={"namespace": "infra", "name": "edge"})
    objects = {("HTTPRoute", "web"): httproute(1, 1, parent={"name": "edge", "namespace": "infra"})}
    gateways = {("infra", "edge"): {"status": {"addresses": [{"type": "IPAddress", "value": "203.0.113.7"}]}}}
    assert endpoints.address_of(gateway_plan, objects, "ns", gateways=gateways).address == "203.0.113.7"
    assert endpoints.address_of(gateway_plan, objects, "ns", gateways={}) is None


def test_a_grouped_ingress_endpoint_keeps_its_own_hosts():
    ingress = {"kind": "Ingress", "metadata": {"name": "shop"},
               "spec": {"rules": [{"host": "shop.example.com"}, {"host": "admin.example.com"}]},
               "status": {"loadBalancer": {"ingress": [{"ip": "127.1.2.3"}]}}}
    admin = plan(name="admin", kind="Ingress", object_name="shop", address="ingress", hosts=("admin.example.com",),
                 group="shop")
    assert endpoints.address_of(admin, {("Ingress", "shop"): ingress}, "ns").address == "admin.example.com"
    hostless = plan(name="api", kind="Ingress", object_name="shop", address="ingress", group="shop")
    assert endpoints.address_of(hostless, {("Ingress", "shop"): ingress}, "ns").address == "127.1.2.3"


def test_internal_addresses_use_the_one_dns_name():
    internal = plan(kind="Service", address="internal", object_name="db")
    assert endpoints.address_of(internal, {}, "prod").address == "db.prod.svc.cluster.local"


def test_routing_objects_lead_their_service_to_its_variable():
    entry = endpoints.describe_route(route("web-ns.apps.example.com") | {"spec": {"to": {"name": "web"}}})
    assert entry["backends"] == ["web"] and entry["ready"] and entry["hosts"] == ["web-ns.apps.example.com"]


# --------------------------------------------------------------------------------------------------
# platform options and project requests


def test_render_without_a_cluster_chooses_gateway_only_when_a_gateway_is_given():
    chosen, _why = platform.without_cluster({"platform": "auto"})
    assert chosen.name == "kubernetes"
    chosen, _why = platform.without_cluster({"platform": "auto", "gateway": {"name": "g", "namespace": "n"}})
    assert chosen.name == "gateway" and chosen.gateway.name == "g"
    with pytest.raises(DefinitionError):
        platform.without_cluster({"platform": "auto", "gateway": {"name": "g"}})


def test_a_project_request_is_what_oc_new_project_sends():
    assert projects.project_request("shop-main", "flow-1") == {
        "apiVersion": "project.openshift.io/v1", "kind": "ProjectRequest", "metadata": {"name": "shop-main"},
        "displayName": "shop-main", "description": "ContinuousPipe environment of project flow-1"}
