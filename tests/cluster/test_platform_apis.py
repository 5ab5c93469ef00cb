"""Smoke tests of the platform APIs of the local control plane (cluster ``ocp-eu``).

The CustomResourceDefinitions are the upstream ones (sigs.k8s.io/gateway-api, github.com/openshift/api,
extracted by tests/cluster/crds.sh), served and validated by the real kube-apiserver (OpenAPI schema and
CEL rules). What is simulated is only what a controller would write: kwok Stages play the gateway
controller and the OpenShift router (status only; nothing routes traffic).
"""
from __future__ import annotations

import json
import os
import time
import uuid

import pytest
from kubernetes import client

pytestmark = pytest.mark.skipif(bool(os.environ.get("CP_TEST_KUBECONFIG")),
                                reason="smoke tests of the local control plane; CP_TEST_KUBECONFIG is set")

GATEWAY_API = ("gateway.networking.k8s.io", "v1")
ROUTE_API = ("route.openshift.io", "v1")


def wait_for(pred, *, timeout: float = 60, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        time.sleep(interval)


@pytest.fixture
def platform(platform_cluster):
    with platform_cluster.api_client() as api:
        yield api


@pytest.fixture
def namespace(platform):
    name = f"platform-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(platform).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    client.CoreV1Api(platform).delete_namespace(name)


def custom(api):
    return client.CustomObjectsApi(api)


def test_the_platform_apis_are_served_from_the_upstream_crds(platform):
    groups = {group.name: [v.version for v in group.versions] for group in client.ApisApi(platform).get_api_versions().groups}
    assert "v1" in groups["gateway.networking.k8s.io"]
    assert "v1" in groups["route.openshift.io"]
    crds = client.ApiextensionsV1Api(platform).list_custom_resource_definition().items
    by_name = {crd.metadata.name: crd for crd in crds}
    httproutes = by_name["httproutes.gateway.networking.k8s.io"]
    assert httproutes.metadata.annotations["gateway.networking.k8s.io/bundle-version"] == "v1.6.3"
    assert httproutes.metadata.annotations["gateway.networking.k8s.io/channel"] == "standard"
    assert "api-approved.openshift.io" in by_name["routes.route.openshift.io"].metadata.annotations


def addressed(api, namespace, name):
    """The Gateway once it has an address, else None."""
    gateway = custom(api).get_namespaced_custom_object(*GATEWAY_API, namespace, "gateways", name)
    return gateway if (gateway.get("status") or {}).get("addresses") else None


def test_the_shared_gateway_is_programmed_with_an_address(platform):
    gateway = wait_for(lambda: addressed(platform, "gateway-system", "shared"), what="the shared Gateway's address")
    conditions = {c["type"]: c["status"] for c in gateway["status"]["conditions"]}
    assert conditions == {"Accepted": "True", "Programmed": "True"}
    assert gateway["status"]["addresses"][0]["value"].startswith("127.")


def test_a_gateway_requesting_a_static_address_gets_it(platform, namespace):
    body = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "shop"},
            "spec": {"gatewayClassName": "standard", "addresses": [{"type": "IPAddress", "value": "127.77.0.9"}],
                     "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}}
    custom(platform).create_namespaced_custom_object(*GATEWAY_API, namespace, "gateways", body)
    gateway = wait_for(lambda: addressed(platform, namespace, "shop"), what="the Gateway's address")
    assert gateway["status"]["addresses"] == [{"type": "IPAddress", "value": "127.77.0.9"}]


def test_an_httproute_is_accepted_for_each_generation(platform, namespace):
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "web"},
             "spec": {"parentRefs": [{"name": "shared", "namespace": "gateway-system", "sectionName": "http"}],
                      "hostnames": ["web.example.com"],
                      "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                                 "backendRefs": [{"name": "web", "port": 80}]}]}}
    api = custom(platform)
    api.create_namespaced_custom_object(*GATEWAY_API, namespace, "httproutes", route)

    def accepted(generation):
        live = api.get_namespaced_custom_object(*GATEWAY_API, namespace, "httproutes", "web")
        parents = (live.get("status") or {}).get("parents") or []
        settled = all(c["observedGeneration"] == generation and c["status"] == "True"
                      for p in parents for c in p["conditions"])
        return parents if parents and settled else None

    parents = wait_for(lambda: accepted(1), what="the route accepted")
    assert parents[0]["parentRef"]["name"] == "shared" and parents[0]["parentRef"]["sectionName"] == "http"
    api.patch_namespaced_custom_object(*GATEWAY_API, namespace, "httproutes", "web",
                                       {"spec": {"hostnames": ["shop.example.com"]}})
    wait_for(lambda: accepted(2), what="generation 2 accepted")


def test_the_api_server_validates_routes_with_the_upstream_schema(platform, namespace):
    api = custom(platform)
    bad = {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "bad"},
           "spec": {"to": {"kind": "Service", "name": "web"},
                    "tls": {"termination": "passthrough", "insecureEdgeTerminationPolicy": "Allow"}}}
    with pytest.raises(client.ApiException) as refused:
        api.create_namespaced_custom_object(*ROUTE_API, namespace, "routes", bad)
    assert refused.value.status == 422
    assert "passthrough" in json.loads(refused.value.body)["message"]
    missing_to = {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "bad"}, "spec": {}}
    with pytest.raises(client.ApiException) as refused:
        api.create_namespaced_custom_object(*ROUTE_API, namespace, "routes", missing_to)
    assert refused.value.status == 422


def test_routes_are_admitted_by_the_router_stand_in(platform, namespace, platform_cluster):
    api = custom(platform)
    for name, host in (("web", None), ("shop", "shop.example.com")):
        spec = {"to": {"kind": "Service", "name": "web"}, "port": {"targetPort": "http"}}
        if host:
            spec.update(host=host, path="/api", tls={"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"})
        api.create_namespaced_custom_object(*ROUTE_API, namespace, "routes",
                                            {"apiVersion": "route.openshift.io/v1", "kind": "Route",
                                             "metadata": {"name": name}, "spec": spec})

    def admitted(name):
        live = api.get_namespaced_custom_object(*ROUTE_API, namespace, "routes", name)
        ingress = (live.get("status") or {}).get("ingress") or []
        return ingress[0] if ingress and ingress[0]["conditions"][0]["status"] == "True" else None

    generated = wait_for(lambda: admitted("web"), what="route web admitted")
    assert generated["host"] == f"web-{namespace}.apps.{platform_cluster.name}.test"
    assert generated["routerName"] == "default"
    assert wait_for(lambda: admitted("shop"))["host"] == "shop.example.com"
    api.patch_namespaced_custom_object(*ROUTE_API, namespace, "routes", "shop", {"spec": {"host": "new.example.com"}})
    wait_for(lambda: (admitted("shop") or {}).get("host") == "new.example.com", what="re-admission under the new host")
