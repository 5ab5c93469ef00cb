"""Workloads, containers, probes, multi-container pods (docs/behaviour.md §9.5, §10.3)."""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

from translate_fixtures import container, find, kinds, render, web

PATH = "tasks.deployment.deploy.services.web"


# --------------------------------------------------------------------------------------------------
# Deployment


def test_deployment_selector_is_exactly_the_component_identifier():
    deployment = find(render(web()), "Deployment", "web")
    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["spec"]["selector"] == {"matchLabels": {"component-identifier": "web"}}
    template_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert template_labels["component-identifier"] == "web"


def test_replicas_omitted_when_unset():
    assert "replicas" not in find(render(web()), "Deployment", "web")["spec"]


@pytest.mark.parametrize("replicas", [0, 3, "2"])
def test_replicas_when_set(replicas):
    assert find(render(web(replicas=replicas)), "Deployment", "web")["spec"]["replicas"] == int(replicas)


def test_replicas_not_a_number():
    with pytest.raises(DefinitionError) as error:
        render(web(replicas="many"))
    assert error.value.key_path == PATH + ".specification.scalability.number_of_replicas"


@pytest.mark.parametrize("volumes, max_unavailable", [
    ([], 0),
    ([{"name": "cache", "type": "emptyDirectory"}], 1),
    ([{"name": "data", "type": "persistent", "capacity": "1Gi"}], 1),
    ([{"name": "sock", "type": "hostPath", "path": "/var/run/x.sock"}], 1),
])
def test_rolling_update_max_unavailable_depends_on_volumes(volumes, max_unavailable):
    strategy = find(render(web(volumes=volumes)), "Deployment", "web")["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": max_unavailable}}


def test_pod_spec_defaults():
    spec = find(render(web()), "Deployment", "web")["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert "volumes" not in spec


def test_bare_pod_when_not_scalable():
    rendered = render(web(scalable=False, strategy={"attached": True}))
    pod = find(rendered, "Pod", "web")
    assert pod["apiVersion"] == "v1"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert ("Deployment", "web") not in kinds(rendered)
    plan = rendered.components["web"]
    assert (plan.workload.kind, plan.attached, plan.wait) == ("Pod", True, False)


# --------------------------------------------------------------------------------------------------
# Containers


def test_container_fields():
    item = container(render(web(command=["sh", "-c", "echo hi"],
                                ports=[{"identifier": "http", "port": 80}, {"identifier": "dns", "port": 53, "protocol": "udp"}])),
                     "web")
    assert item["name"] == "web"
    assert item["image"] == "acme/web"
    assert item["imagePullPolicy"] == "Always"
    assert item["command"] == ["sh", "-c", "echo hi"]
    assert item["ports"] == [{"name": "http", "containerPort": 80, "protocol": "TCP"},
                             {"name": "dns", "containerPort": 53, "protocol": "UDP"}]
    for absent in ("args", "env", "resources", "securityContext", "readinessProbe", "livenessProbe", "volumeMounts"):
        assert absent not in item


@pytest.mark.parametrize("privileged", [True, False])
def test_privileged_only_when_set(privileged):
    assert container(render(web(privileged=privileged)), "web")["securityContext"] == {"privileged": privileged}


@pytest.mark.parametrize("resources, expected", [
    ({"requests": {"cpu": "100m", "memory": "250Mi"}, "limits": {"cpu": "1", "memory": "3Gi"}},
     {"requests": {"cpu": "100m", "memory": "250Mi"}, "limits": {"cpu": "1", "memory": "3Gi"}}),
    ({"requests": {"cpu": "100m"}, "limits": {}}, {"requests": {"cpu": "100m"}}),
    ({"requests": {"cpu": "100m", "memory": None}, "limits": {"memory": ""}}, {"requests": {"cpu": "100m"}}),
    ({"requests": {}, "limits": {}}, None),
])
def test_resources_unset_values_omitted(resources, expected):
    assert container(render(web(resources=resources)), "web").get("resources") == expected


def test_invalid_resource_quantity():
    with pytest.raises(DefinitionError) as error:
        render(web(resources={"limits": {"memory": "2 GB"}}))
    assert error.value.key_path == PATH + ".specification.resources.limits.memory"


def test_missing_image():
    with pytest.raises(DefinitionError) as error:
        render({"name": "web"})
    assert error.value.key_path == PATH + ".specification.source.image"


# --------------------------------------------------------------------------------------------------
# Probes


@pytest.mark.parametrize("probe, expected", [
    ({"type": "http", "port": 80, "path": "/health"}, {"httpGet": {"path": "/health", "port": 80}}),
    ({"type": "http", "port": "8080", "path": "/", "scheme": "https", "host": "localhost"},
     {"httpGet": {"path": "/", "port": 8080, "host": "localhost", "scheme": "HTTPS"}}),
    ({"type": "http", "port": "http"}, {"httpGet": {"port": "http"}}),
    ({"type": "tcp", "port": 5432}, {"tcpSocket": {"port": 5432}}),
    ({"type": "exec", "command": ["pg_isready", "-q"]}, {"exec": {"command": ["pg_isready", "-q"]}}),
    ({"type": "tcp", "port": 80, "initial_delay_seconds": "5", "timeout_seconds": 2, "period_seconds": 3,
      "success_threshold": 1, "failure_threshold": "4"},
     {"tcpSocket": {"port": 80}, "initialDelaySeconds": 5, "timeoutSeconds": 2, "periodSeconds": 3,
      "successThreshold": 1, "failureThreshold": 4}),
])
@pytest.mark.parametrize("key, field", [("readiness_probe", "readinessProbe"), ("liveness_probe", "livenessProbe")])
def test_probes(probe, expected, key, field):
    assert container(render(web(strategy={key: probe})), "web")[field] == expected


@pytest.mark.parametrize("probe, key", [
    ({"type": "http"}, "port"),
    ({"type": "tcp", "port": "not a port!"}, "port"),
    ({"type": "exec"}, "command"),
    ({"type": "grpc", "port": 80}, "type"),
    ({"type": "tcp", "port": 80, "period_seconds": "often"}, "period_seconds"),
    ({"type": "tcp", "port": 70000}, "port"),
])
def test_probe_errors_name_the_key(probe, key):
    with pytest.raises(DefinitionError) as error:
        render(web(strategy={"readiness_probe": probe}))
    assert error.value.key_path == PATH + ".deployment_strategy.readiness_probe." + key


# --------------------------------------------------------------------------------------------------
# Wait timeout (§10.3)


@pytest.mark.parametrize("probe, timeout", [
    (None, 1800),
    ({"type": "tcp", "port": 80, "initial_delay_seconds": 5, "period_seconds": 5, "failure_threshold": 10}, 115),
    ({"type": "tcp", "port": 80, "initial_delay_seconds": 0, "period_seconds": 10, "failure_threshold": 3}, 90),
    ({"type": "tcp", "port": 80, "period_seconds": 5, "failure_threshold": 10}, 1800),
])
def test_wait_timeout(probe, timeout):
    strategy = {"readiness_probe": probe} if probe else {}
    assert render(web(strategy=strategy)).components["web"].wait_timeout == timeout


def test_plan_flags():
    plan = render(web(strategy={"locked": True, "reset": True})).components["web"]
    assert (plan.locked, plan.reset, plan.attached, plan.wait, plan.pod) == (True, True, False, True, None)
    assert plan.workload.to_dict() == {"kind": "Deployment", "name": "web"}
    assert [ref.to_dict() for ref in plan.objects] == [{"kind": "Service", "name": "web"},
                                                       {"kind": "Deployment", "name": "web"}]


# --------------------------------------------------------------------------------------------------
# Multi-container pods


def _sidecar(**overrides):
    data = {"name": "php_fpm", "pod": "web", "image": "acme/fpm", "ports": [{"identifier": "fpm", "port": 9000}]}
    data.update(overrides)
    return data


def test_sidecar_joins_the_host_pod():
    rendered = render(web(endpoints=[{"name": "web-lb"}]), _sidecar(
        volumes=[{"name": "run", "type": "emptyDirectory"}], volume_mounts=[{"name": "run", "mount_path": "/run/php"}],
        strategy={"readiness_probe": {"type": "tcp", "port": 9000, "initial_delay_seconds": 1, "period_seconds": 1,
                                      "failure_threshold": 1}}))
    assert ("Deployment", "php-fpm") not in kinds(rendered)
    spec = find(rendered, "Deployment", "web")["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["web", "php-fpm"]
    assert spec["volumes"] == [{"name": "run", "emptyDir": {}}]
    assert find(rendered, "Deployment", "web")["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 1
    ports = find(rendered, "Service", "web-lb")["spec"]["ports"]
    assert [(p["name"], p["targetPort"]) for p in ports] == [("http", 80), ("fpm", 9000)]
    sidecar = rendered.components["php-fpm"]
    assert sidecar.pod == "web"
    assert sidecar.workload.to_dict() == {"kind": "Deployment", "name": "web"}
    assert sidecar.wait_timeout == rendered.components["web"].wait_timeout == 1800


def test_sidecar_ports_in_the_default_service():
    rendered = render(web(), _sidecar())
    assert [p["port"] for p in find(rendered, "Service", "web")["spec"]["ports"]] == [80, 9000]
    assert ("Service", "php-fpm") not in kinds(rendered)


def test_sidecar_can_name_the_host_by_identifier():
    rendered = render(web(name="my_web"), _sidecar(pod="my-web"))
    assert [c["name"] for c in find(rendered, "Deployment", "my-web")["spec"]["template"]["spec"]["containers"]] == [
        "my-web", "php-fpm"]


@pytest.mark.parametrize("services, key, message", [
    ([web(), _sidecar(ports=[{"identifier": "http", "port": 9000}])],
     "services.php_fpm.specification.ports[0].identifier", "port identifier 'http' is already used"),
    ([web(), _sidecar(ports=[{"identifier": "fpm", "port": 80}])],
     "services.php_fpm.specification.ports[0].port", "port 80/TCP is already exposed"),
    ([web(), _sidecar(pod="nginx")], "services.php_fpm.pod", "not a service of this deploy task"),
    ([_sidecar(pod="php_fpm")], "services.php_fpm.pod", "its own pod"),
    ([web(), _sidecar(), _sidecar(name="x", pod="php_fpm")], "services.x.pod", "itself a container"),
    ([web(), _sidecar(endpoints=[{"name": "fpm"}])], "services.php_fpm.endpoints", "declare its endpoints on"),
    ([web(), _sidecar(replicas=2)], "services.php_fpm.specification.scalability.number_of_replicas", "replicas"),
    ([web(), web(name="Web")], "services.Web", "has the identifier 'web', like service 'web'"),
    ([web(), _sidecar(name="web2", identifier="web")], "services.web2", "like service 'web'"),
])
def test_multi_container_errors(services, key, message):
    with pytest.raises(DefinitionError) as error:
        render(*services)
    assert error.value.key_path == "tasks.deployment.deploy." + key
    assert message in error.value.message


def test_same_port_number_with_other_protocols_is_fine():
    rendered = render(web(ports=[{"identifier": "dns", "port": 53, "protocol": "UDP"},
                                 {"identifier": "dns-tcp", "port": 53, "protocol": "TCP"}]))
    assert len(find(rendered, "Service", "web")["spec"]["ports"]) == 2


@pytest.mark.parametrize("identifier", ["Port_80", "a-very-long-port-name", "80", "a--b"])
def test_invalid_port_names(identifier):
    with pytest.raises(DefinitionError) as error:
        render(web(ports=[{"identifier": identifier, "port": 80}]))
    assert error.value.key_path == PATH + ".specification.ports[0].identifier"


def test_invalid_protocol():
    with pytest.raises(DefinitionError) as error:
        render(web(ports=[{"identifier": "http", "port": 80, "protocol": "HTTP"}]))
    assert error.value.key_path == PATH + ".specification.ports[0].protocol"
