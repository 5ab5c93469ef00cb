"""Default Services (docs/behaviour.md §9.6) and endpoints (§9.7, §9.8, §10.4)."""
from __future__ import annotations

import json

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

from translate_fixtures import find, kinds, render, web

CERT = {"name": "cert", "cert": "Q0VSVA==", "key": "S0VZ"}


def _endpoint_objects(rendered, name):
    return [(kind, obj_name) for kind, obj_name in kinds(rendered) if obj_name.startswith(name)]


# --------------------------------------------------------------------------------------------------
# §9.7 matrix, row by row: (type, ingress block, certificates) → (objects, Service type, Ingress backend)

MATRIX = [
    pytest.param(None, None, [], [("Service", "ep")], "LoadBalancer", None, id="unset-no-ingress-no-cert"),
    pytest.param(None, None, [CERT], [("Secret", "ep-cert"), ("Service", "ep"), ("Ingress", "ep")],
                 "ClusterIP", "default", id="unset-no-ingress-cert"),
    pytest.param(None, {"class_name": "nginx", "hosts": ["a.example.com"]}, [], [("Service", "ep"), ("Ingress", "ep")],
                 "ClusterIP", "rules", id="unset-ingress-nginx"),
    pytest.param("ingress", {"class_name": "nginx", "hosts": ["a.example.com"]}, [CERT],
                 [("Secret", "ep-cert"), ("Service", "ep"), ("Ingress", "ep")], "ClusterIP", "rules",
                 id="ingress-ingress-nginx-cert"),
    pytest.param(None, {"class_name": "gce", "hosts": ["a.example.com"]}, [], [("Service", "ep"), ("Ingress", "ep")],
                 "NodePort", "rules", id="unset-ingress-gce"),
    pytest.param("ingress", {"class_name": "gce"}, [CERT], [("Secret", "ep-cert"), ("Service", "ep"), ("Ingress", "ep")],
                 "NodePort", "default", id="ingress-ingress-gce-cert"),
    pytest.param("ingress", None, [], [("Service", "ep"), ("Ingress", "ep")], "NodePort", "default",
                 id="ingress-no-block-no-cert"),
    pytest.param("ingress", None, [CERT], [("Secret", "ep-cert"), ("Service", "ep"), ("Ingress", "ep")],
                 "ClusterIP", "default", id="ingress-no-block-cert"),
    pytest.param("NodePort", None, [CERT], [("Service", "ep")], "NodePort", None, id="nodeport-no-block"),
    pytest.param("NodePort", {"class_name": "nginx", "hosts": ["a.example.com"]}, [CERT],
                 [("Secret", "ep-cert"), ("Service", "ep"), ("Ingress", "ep")], "NodePort", "rules",
                 id="nodeport-ingress"),
    pytest.param("internal", {"class_name": "nginx", "hosts": ["a.example.com"]}, [CERT], [("Service", "ep")],
                 "ClusterIP", None, id="internal"),
    pytest.param("LoadBalancer", {"class_name": "nginx", "hosts": ["a.example.com"]}, [CERT], [("Service", "ep")],
                 "LoadBalancer", None, id="loadbalancer"),
    pytest.param("service", None, [], [("Service", "ep")], "LoadBalancer", None, id="other-type"),
    pytest.param("nodeport", None, [], [("Service", "ep")], "LoadBalancer", None, id="lowercase-nodeport-is-other"),
]


@pytest.mark.parametrize("type_, ingress, certificates, objects, service_type, backend", MATRIX)
def test_endpoint_matrix(type_, ingress, certificates, objects, service_type, backend):
    endpoint = {"name": "ep", "type": type_, "ingress": ingress, "ssl_certificates": certificates}
    rendered = render(web(endpoints=[endpoint]))
    assert _endpoint_objects(rendered, "ep") == objects
    service = find(rendered, "Service", "ep")
    assert service["spec"]["type"] == service_type
    assert service["spec"]["selector"] == {"component-identifier": "web"}
    has_ingress = backend is not None
    assert (service["metadata"]["labels"].get("source-of-ingress") == "ep") is has_ingress
    assert (service["metadata"]["labels"].get("internal-endpoint") == "true") is (type_ == "internal")
    # The endpoint replaces the default Service.
    assert ("Service", "web") not in kinds(rendered)
    if has_ingress:
        spec = find(rendered, "Ingress", "ep")["spec"]
        assert ("defaultBackend" in spec) is (backend == "default")
        assert ("rules" in spec) is (backend == "rules")
        assert find(rendered, "Ingress", "ep")["metadata"]["labels"]["service-type"] == service_type


@pytest.mark.parametrize("type_, ingress, address", [
    (None, None, "load_balancer"),
    ("NodePort", None, "node_port"),
    ("internal", None, "internal"),
    (None, {"class_name": "nginx", "hosts": ["a.example.com"]}, "ingress"),
])
def test_public_endpoint_plans(type_, ingress, address):
    rendered = render(web(endpoints=[{"name": "ep", "type": type_, "ingress": ingress}]))
    (plan,) = rendered.public_endpoints
    assert plan.address == address
    assert plan.name == "ep" and plan.component == "web"
    assert plan.variables == ("SERVICE_EP_PUBLIC_ENDPOINT", "ENDPOINT_EP_PUBLIC_ENDPOINT")
    assert rendered.components["web"].public_endpoints == ("ep",)
    if address == "internal":
        assert plan.internal_address == "ep.00000000-0000-0000-0000-000000000000-master.svc.cluster.local"
    if address == "ingress":
        assert (plan.kind, plan.hosts) == ("Ingress", ("a.example.com",))


def test_endpoint_annotations_go_on_the_service_only_sorted():
    rendered = render(web(endpoints=[{
        "name": "ep", "annotations": {"z.example.com/b": "2", "a.example.com/a": "1"},
        "ingress": {"class_name": "nginx", "hosts": ["a.example.com"]}}]))
    assert list(find(rendered, "Service", "ep")["metadata"]["annotations"]) == ["a.example.com/a", "z.example.com/b"]
    assert "a.example.com/a" not in find(rendered, "Ingress", "ep")["metadata"].get("annotations", {})


def test_static_ip_annotation_is_kept_and_noted():
    rendered = render(web(endpoints=[{"name": "ep", "annotations": {"metallb.universe.tf/loadBalancerIPs": "1.2.3.4"}}]))
    service = find(rendered, "Service", "ep")
    assert service["metadata"]["annotations"] == {"metallb.universe.tf/loadBalancerIPs": "1.2.3.4"}
    assert "loadBalancerIP" not in service["spec"]
    assert any("static load balancer IP" in note for note in rendered.public_endpoints[0].notes)


# --------------------------------------------------------------------------------------------------
# Ingress details


@pytest.mark.parametrize("ports, backend, secure", [
    ([8080, 443, 80], 443, True),
    ([8080, 80], 80, False),
    ([8080, 9000], 8080, False),
])
def test_ingress_backend_port_prefers_443_then_80_then_first(ports, backend, secure):
    service = web(ports=[{"identifier": "p%d" % port, "port": port} for port in ports],
                  endpoints=[{"name": "ep", "ingress": {"class_name": "nginx", "hosts": ["a.example.com"]}}])
    ingress = find(render(service), "Ingress", "ep")
    rule_backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert rule_backend == {"service": {"name": "ep", "port": {"number": backend}}}
    annotations = ingress["metadata"].get("annotations", {})
    assert (annotations.get("ingress.kubernetes.io/secure-backends") == "true") is secure


def test_ingress_rules_per_host_with_root_path_and_tls_for_every_host():
    service = web(endpoints=[{"name": "ep", "ingress": {"class_name": "nginx", "hosts": ["a.example.com", "b.example.com"]},
                              "ssl_certificates": [CERT, dict(CERT, name="second")]}])
    spec = find(render(service), "Ingress", "ep")["spec"]
    assert [rule["host"] for rule in spec["rules"]] == ["a.example.com", "b.example.com"]
    for rule in spec["rules"]:
        assert rule["http"]["paths"][0]["path"] == "/"
        assert rule["http"]["paths"][0]["pathType"] == "ImplementationSpecific"
    assert spec["tls"] == [
        {"secretName": "ep-cert", "hosts": ["a.example.com", "b.example.com"]},
        {"secretName": "ep-second", "hosts": ["a.example.com", "b.example.com"]},
    ]


@pytest.mark.parametrize("annotation", [True, False])
def test_ingress_class_name_and_legacy_annotation_option(annotation):
    service = web(endpoints=[{"name": "ep", "ingress": {"class_name": "nginx", "hosts": ["a.example.com"]}}])
    ingress = find(render(service, options_data={"ingress_class_annotation": annotation}), "Ingress", "ep")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert (ingress["metadata"].get("annotations", {}).get("kubernetes.io/ingress.class") == "nginx") is annotation


def test_gce_class_is_written_as_the_annotation_only():
    service = web(endpoints=[{"name": "ep", "ingress": {"class_name": "gce", "hosts": ["a.example.com"]}}])
    ingress = find(render(service, options_data={"ingress_class_annotation": False}), "Ingress", "ep")
    assert "ingressClassName" not in ingress["spec"]
    assert ingress["metadata"]["annotations"]["kubernetes.io/ingress.class"] == "gce"


def test_ingress_without_class_has_neither_class_nor_annotation():
    service = web(endpoints=[{"name": "ep", "ingress": {"hosts": ["a.example.com"]}}])
    ingress = find(render(service), "Ingress", "ep")
    assert "ingressClassName" not in ingress["spec"]
    assert "kubernetes.io/ingress.class" not in ingress["metadata"].get("annotations", {})


def test_invalid_ingress_host_names_the_key():
    service = web(endpoints=[{"name": "ep", "ingress": {"hosts": ["Feature_X.example.com"]}}])
    with pytest.raises(DefinitionError) as error:
        render(service)
    assert error.value.key_path == "tasks.deployment.deploy.services.web.endpoints[0].ingress.host"


def test_wildcard_host_is_accepted():
    service = web(endpoints=[{"name": "ep", "ingress": {"hosts": ["*.example.com"]}}])
    assert find(render(service), "Ingress", "ep")["spec"]["rules"][0]["host"] == "*.example.com"


# --------------------------------------------------------------------------------------------------
# Automatic certificates (§9.8)


def test_automatic_certificate_is_planned_not_generated():
    service = web(endpoints=[{"name": "ep", "ingress": {"class_name": "nginx", "hosts": ["a.example.com"]},
                              "ssl_certificates": [{"name": "mine", "cert": "automatic", "key": "automatic"}]}])
    rendered = render(service)
    assert ("Secret", "ep-automatic") not in kinds(rendered)
    assert find(rendered, "Ingress", "ep")["spec"]["tls"] == [{"secretName": "ep-automatic", "hosts": ["a.example.com"]}]
    (plan,) = rendered.public_endpoints
    assert [c.to_dict() for c in plan.certificates] == [{"secret_name": "ep-automatic", "host": "a.example.com"}]
    assert any("generated at apply time" in note for note in rendered.components["web"].notes)


@pytest.mark.parametrize("ingress, message", [
    (None, "Can only generate SSL certificates with ingresses"),
    ({"class_name": "nginx"}, "Can only generate SSL certificates for ingresses with an hostname"),
    ({"hosts": ["a.example.com", "b.example.com"]}, "Cannot generate SSL certificate, found 2 hostname(s) while expecting 1"),
])
def test_automatic_certificate_errors(ingress, message):
    service = web(endpoints=[{"name": "ep", "ingress": ingress,
                              "ssl_certificates": [{"name": "auto", "cert": "automatic", "key": "automatic"}]}])
    with pytest.raises(DefinitionError) as error:
        render(service)
    assert error.value.message == message
    assert error.value.key_path == "tasks.deployment.deploy.services.web.endpoints[0].ssl_certificates[0]"


# --------------------------------------------------------------------------------------------------
# Default Service (§9.6)


def test_default_service_cluster_ip():
    rendered = render(web())
    service = find(rendered, "Service", "web")
    assert service["spec"] == {"type": "ClusterIP", "selector": {"component-identifier": "web"},
                               "ports": [{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}]}
    assert service["metadata"]["labels"]["component-identifier"] == "web"
    assert rendered.public_endpoints == []


def test_default_service_load_balancer_is_a_public_endpoint_named_after_the_component():
    rendered = render(web(name="my_front", from_external=True))
    assert find(rendered, "Service", "my-front")["spec"]["type"] == "LoadBalancer"
    (plan,) = rendered.public_endpoints
    assert (plan.name, plan.address) == ("my-front", "load_balancer")
    assert plan.variables == ("SERVICE_MY_FRONT_PUBLIC_ENDPOINT", "ENDPOINT_MY_FRONT_PUBLIC_ENDPOINT")


def test_no_default_service_when_not_from_cluster_even_if_from_external():
    rendered = render(web(from_cluster=False, from_external=True))
    assert [ref[0] for ref in kinds(rendered)] == ["Namespace", "Deployment"]
    assert rendered.public_endpoints == []


def test_no_default_service_without_ports_is_noted():
    rendered = render({"name": "worker", "image": "acme/worker"})
    assert ("Service", "worker") not in kinds(rendered)
    assert any("no default Service" in note for note in rendered.components["worker"].notes)


def test_reverse_proxy_annotation_on_the_default_service():
    service = find(render(web(reverse_proxy_domains=["example.com"])), "Service", "web")
    annotation = service["metadata"]["annotations"]["kubernetesReverseProxy"]
    assert annotation == '{"hosts":[{"host":"example.com","port":"80"}]}'
    assert json.loads(annotation) == {"hosts": [{"host": "example.com", "port": "80"}]}


# --------------------------------------------------------------------------------------------------
# Errors


def test_endpoint_without_ports_is_an_error():
    with pytest.raises(DefinitionError) as error:
        render({"name": "web", "image": "acme/web", "endpoints": [{"name": "ep"}]})
    assert error.value.message == "The component should expose at least one port"
    assert error.value.key_path == "tasks.deployment.deploy.services.web.endpoints[0]"


@pytest.mark.parametrize("name", ["Web_Public", "1web", "a" * 64])
def test_invalid_endpoint_name(name):
    with pytest.raises(DefinitionError) as error:
        render(web(endpoints=[{"name": name}]))
    assert error.value.key_path == "tasks.deployment.deploy.services.web.endpoints[0].name"


def test_service_identifier_starting_with_a_digit_cannot_name_a_service():
    with pytest.raises(DefinitionError) as error:
        render(web(name="1web"))
    assert "Service" in str(error.value)


def test_two_endpoints_with_one_name_are_an_error():
    with pytest.raises(DefinitionError) as error:
        render(web(endpoints=[{"name": "ep"}]), web(name="api", endpoints=[{"name": "ep"}]))
    assert "Service 'ep'" in error.value.message


def test_non_base64_certificate_is_an_error_without_echoing_it():
    service = web(endpoints=[{"name": "ep", "ssl_certificates": [{"name": "c", "cert": "not base64!!", "key": "S0VZ"}]}])
    with pytest.raises(DefinitionError) as error:
        render(service)
    assert error.value.key_path == "tasks.deployment.deploy.services.web.endpoints[0].ssl_certificates[0].cert"
    assert "not base64!!" not in str(error.value)


def test_vendor_integrations_are_planned_without_their_credentials():
    """CloudFlare and HttpLabs (ContinuousPipe called their APIs) are handed over, credentials left out."""
    rendered = render(web(endpoints=[
        {"name": "dev", "ingress": {"class_name": "nginx", "hosts": ["dev.example.com"]},
         "cloud_flare_zone": {"zone_identifier": "zone-1", "proxied": True, "ttl": 300,
                              "authentication": {"email": "ops@example.com", "api_key": "cf-canary-key"}}},
        {"name": "proxy", "type": "LoadBalancer",
         "httplabs": {"api_key": "hl-canary-key", "project_identifier": "p-1", "incoming": "web.httplabs.io",
                      "middlewares": [{"name": "basic_authentication"}]}},
        {"name": "plain", "type": "LoadBalancer"},
    ]))
    plans = {plan.name: plan.to_dict() for plan in rendered.public_endpoints}
    assert plans["dev"]["integrations"] == [{"provider": "cloudflare", "zone_identifier": "zone-1", "proxied": True,
                                             "ttl": 300, "hostnames": ["dev.example.com"]}]
    assert plans["proxy"]["integrations"] == [{"provider": "httplabs", "project_identifier": "p-1",
                                               "middlewares": [{"name": "basic_authentication"}],
                                               "incoming": "web.httplabs.io"}]
    assert plans["plain"]["integrations"] == []
    text = json.dumps([plan.to_dict() for plan in rendered.public_endpoints]) + json.dumps(rendered.objects)
    assert "canary-key" not in text and "ops@example.com" not in text


def test_cloudflare_record_name_from_record_suffix_wins_over_ingress_hosts():
    rendered = render(web(endpoints=[
        {"name": "dev", "ingress": {"class_name": "nginx", "hosts": ["dev.example.com"]},
         "cloud_flare_zone": {"zone_identifier": "zone-1", "hostname": "feature-x-dev.example.org"}}]))
    (plan,) = rendered.public_endpoints
    assert plan.integrations[0]["hostnames"] == ["feature-x-dev.example.org"]
