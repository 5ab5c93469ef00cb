"""The platform seam (translate/routes.py) and the fan-out extension: rules a user would notice, and the
errors that name the key to fix. The full outputs are golden files (endpoint-matrix-*, fan-out*,
openshift-inline-certificates)."""
from __future__ import annotations

import base64

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

from translate_fixtures import find, kinds, render, web

GATEWAY = {"platform": {"name": "gateway", "gateway": {"name": "shared", "namespace": "gateway-system"}}}
OPENSHIFT = {"platform": {"name": "openshift"}}
CERT = {"name": "shop", "cert": base64.b64encode(b"-----BEGIN CERTIFICATE-----\nAA==\n").decode(),
        "key": base64.b64encode(b"-----BEGIN PRIVATE KEY-----\nAA==\n").decode()}


def endpoint(name="web", **ingress):
    ingress.setdefault("hosts", ["shop.example.com"])
    return {"name": name, "ingress": ingress}


def test_without_a_platform_endpoints_are_ingresses_as_before():
    rendered = render(web(endpoints=[endpoint(class_name="nginx")]))
    assert ("Ingress", "web") in kinds(rendered)
    assert rendered.plan()["platform"] == {"name": "kubernetes"}


@pytest.mark.parametrize("options,kind", [(GATEWAY, "HTTPRoute"), (OPENSHIFT, "Route")])
def test_the_platform_chooses_the_routing_object(options, kind):
    rendered = render(web(endpoints=[endpoint(class_name="gce")]), options_data=options)
    assert [k for k, _name in kinds(rendered) if k in ("Ingress", "HTTPRoute", "Route")] == [kind]
    # GCE's NodePort is an Ingress matter: HTTPRoutes and Routes reach a ClusterIP Service
    assert find(rendered, "Service", "web")["spec"]["type"] == "ClusterIP"
    plan = rendered.public_endpoints[0]
    assert (plan.kind, plan.object_name, plan.hosts) == (kind, "web", ("shop.example.com",))


def test_an_httproute_attaches_to_the_configured_gateway_with_its_path():
    options = {"platform": {"name": "gateway", "gateway": {"name": "public", "namespace": "infra",
                                                           "section_name": "https"}}}
    rendered = render(web(endpoints=[endpoint(path="/api")]), options_data=options)
    route = find(rendered, "HTTPRoute", "web")["spec"]
    assert route["parentRefs"] == [{"name": "public", "namespace": "infra", "sectionName": "https"}]
    assert route["rules"] == [{"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
                               "backendRefs": [{"name": "web", "port": 80}]}]
    assert rendered.public_endpoints[0].parent == {"namespace": "infra", "name": "public"}


def test_the_gateway_platform_needs_a_gateway():
    with pytest.raises(DefinitionError) as error:
        render(web(endpoints=[endpoint()]), options_data={"platform": {"name": "gateway"}})
    assert error.value.path == ("gateway",)
    assert "name and namespace" in error.value.expected


def test_a_route_references_its_certificate_and_the_router_may_read_only_that_secret():
    rendered = render(web(endpoints=[dict(endpoint(), ssl_certificates=[CERT])]), options_data=OPENSHIFT)
    tls = find(rendered, "Route", "web")["spec"]["tls"]
    assert tls == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect",
                   "externalCertificate": {"name": "web-shop"}}
    role = find(rendered, "Role", "cp-route-certificates.deployment")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"],
                              "resourceNames": ["web-shop"]}]
    binding = find(rendered, "RoleBinding", "cp-route-certificates.deployment")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "router", "namespace": "openshift-ingress"}]
    # the Role and RoleBinding belong to the component (pruned with it)
    assert {"kind": "Role", "name": "cp-route-certificates.deployment"} in rendered.plan()["components"]["web"]["objects"]


def test_inline_route_certificates_carry_the_pem_and_no_secret():
    options = {"platform": {"name": "openshift", "route_certificates": "inline"}}
    rendered = render(web(ports=[{"identifier": "https", "port": 443}],
                          endpoints=[dict(endpoint(), ssl_certificates=[CERT])]), options_data=options)
    tls = find(rendered, "Route", "web")["spec"]["tls"]
    assert tls["termination"] == "reencrypt"
    assert tls["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert tls["key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert not [name for kind, name in kinds(rendered) if kind in ("Secret", "Role")]


def test_an_inline_route_key_is_masked_wherever_manifests_are_shown():
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.manifests import MASK, masked

    options = {"platform": {"name": "openshift", "route_certificates": "inline"}}
    route = find(render(web(endpoints=[dict(endpoint(), ssl_certificates=[CERT])]), options_data=options), "Route", "web")
    shown = masked(route)
    assert shown["spec"]["tls"]["key"] == MASK and route["spec"]["tls"]["key"] != MASK
    assert shown["spec"]["tls"]["certificate"] == route["spec"]["tls"]["certificate"]


def test_several_hosts_give_several_routes():
    rendered = render(web(endpoints=[endpoint(hosts=["a.example.com", "b.example.com"])]), options_data=OPENSHIFT)
    routes = [(name, find(rendered, "Route", name)["spec"]["host"]) for kind, name in kinds(rendered) if kind == "Route"]
    assert routes == [("web", "a.example.com"), ("web-2", "b.example.com")]


def test_pods_run_under_restricted_v2_on_openshift():
    rendered = render(web(), options_data=OPENSHIFT)
    spec = find(rendered, "Deployment", "web")["spec"]["template"]["spec"]
    assert spec["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert spec["containers"][0]["securityContext"] == {"allowPrivilegeEscalation": False,
                                                        "capabilities": {"drop": ["ALL"]}}
    assert "runAsUser" not in str(spec)
    plain = render(web())
    assert "securityContext" not in find(plain, "Deployment", "web")["spec"]["template"]["spec"]


@pytest.mark.parametrize("service,key", [
    (web(privileged=True), ("specification", "runtime_policy", "privileged")),
    (web(volumes=[{"name": "logs", "type": "hostPath", "path": "/var/log"}],
         volume_mounts=[{"name": "logs", "mount_path": "/logs"}]), ("specification", "volumes", 0, "type")),
    (web(volumes=[{"name": "share", "type": "nfs", "server": "nfs.example", "path": "/export"}],
         volume_mounts=[{"name": "share", "mount_path": "/share"}]), ("specification", "volumes", 0, "type")),
])
def test_what_restricted_v2_refuses_is_an_error_naming_its_key(service, key):
    with pytest.raises(DefinitionError) as error:
        render(service, options_data=OPENSHIFT)
    assert error.value.path == ("tasks", "deployment", "deploy", "services", "web") + key
    assert "restricted-v2" in str(error.value)


def shop(address=None, admin_class="gce"):
    group = {"group": "shop"}
    return [
        web(endpoints=[endpoint(class_name="gce", address=address, **group)]),
        {"name": "api", "image": "acme/api", "ports": [{"identifier": "http", "port": 8080}],
         "endpoints": [endpoint("api", class_name="gce", path="/api", **group)]},
        {"name": "admin", "image": "acme/admin", "ports": [{"identifier": "http", "port": 80}],
         "endpoints": [endpoint("admin", class_name=admin_class, hosts=["admin.example.com"], **group)]},
    ]


def test_a_fan_out_group_is_one_ingress_with_a_rule_per_host():
    rendered = render(*shop(address="shop-ip"))
    assert [name for kind, name in kinds(rendered) if kind == "Ingress"] == ["shop"]
    ingress = find(rendered, "Ingress", "shop")
    assert ingress["metadata"]["annotations"]["kubernetes.io/ingress.global-static-ip-name"] == "shop-ip"
    rules = {rule["host"]: [(p["path"], p["backend"]["service"]["name"]) for p in rule["http"]["paths"]]
             for rule in ingress["spec"]["rules"]}
    assert rules == {"shop.example.com": [("/", "web"), ("/api", "api")], "admin.example.com": [("/", "admin")]}
    plans = {plan.name: plan for plan in rendered.public_endpoints}
    assert {name: (plan.object_name, plan.group, plan.path) for name, plan in plans.items()} == {
        "web": ("shop", "shop", None), "api": ("shop", "shop", "/api"), "admin": ("shop", "shop", None)}
    # the shared Ingress belongs to every component of the group
    for component in ("web", "api", "admin"):
        assert {"kind": "Ingress", "name": "shop"} in rendered.plan()["components"][component]["objects"]


def test_the_members_of_a_group_agree_on_their_class():
    with pytest.raises(DefinitionError) as error:
        render(*shop(admin_class="nginx"))
    assert error.value.path == ("tasks", "deployment", "deploy", "services", "admin", "endpoints", 0, "ingress",
                                "class")
    assert "web" in str(error.value) and "admin" in str(error.value)


def test_a_static_address_needs_a_field_of_the_platform():
    services = shop(address="203.0.113.10")
    services[0]["endpoints"][0]["ingress"]["class_name"] = "nginx"
    for service in services[1:]:
        service["endpoints"][0]["ingress"]["class_name"] = "nginx"
    with pytest.raises(DefinitionError) as error:
        render(*services)
    assert error.value.path[-2:] == ("ingress", "address")
    with pytest.raises(DefinitionError) as error:
        render(*shop(address="203.0.113.10"), options_data=OPENSHIFT)
    assert "router" in str(error.value) and error.value.path[-1] == "address"


def test_a_group_with_an_address_gets_a_gateway_of_its_own():
    options = {"platform": {"name": "gateway", "gateway": {"name": "shared", "namespace": "gateway-system",
                                                           "class_name": "eu-lb"}}}
    rendered = render(*shop(address="203.0.113.10"), options_data=options)
    gateway = find(rendered, "Gateway", "shop")["spec"]
    assert gateway["gatewayClassName"] == "eu-lb"
    assert gateway["addresses"] == [{"type": "IPAddress", "value": "203.0.113.10"}]
    for name in ("web", "api", "admin"):
        assert find(rendered, "HTTPRoute", name)["spec"]["parentRefs"] == [{"name": "shop"}]
    with pytest.raises(DefinitionError) as error:
        render(*shop(address="203.0.113.10"), options_data=GATEWAY)
    assert "class_name" in error.value.expected


@pytest.mark.parametrize("path", ["api", "/a b", "/a//b", "/a/../b", "/a%2Fb", "/a/.", "/a?x"])
def test_an_invalid_path_names_its_key(path):
    with pytest.raises(DefinitionError) as error:
        render(web(endpoints=[endpoint(path=path)]))
    assert error.value.path[-2:] == ("ingress", "path")


def test_a_group_name_must_be_a_kubernetes_name():
    with pytest.raises(DefinitionError) as error:
        render(web(endpoints=[endpoint(group="Shop_1")]))
    assert error.value.path[-2:] == ("ingress", "group")


def test_a_group_cannot_mix_https_and_http_backends_in_one_ingress():
    services = shop()
    services[1]["ports"] = [{"identifier": "https", "port": 443}]
    with pytest.raises(DefinitionError) as error:
        render(*services)
    assert "443" in str(error.value)
