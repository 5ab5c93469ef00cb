"""environment_info against a real API server: services, endpoints, releases and drift of environments
deployed by the deploy module, and of namespaces ContinuousPipe created.

Modules run as Ansible runs them on the target (``call``: the module file executed by Python with a
JSON arguments file), and once through ansible-playbook.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from deploy_helpers import wait_for

FLOW = "5e1f0000-aaaa-4bbb-8ccc-0000000000e1"
PASSWORD = "hunter2-%s" % uuid.uuid4().hex[:8]

PROJECT = """\
tasks:
  app:
    deploy:
      environment:
        name: '"info-" ~ code_reference.branch'
      services:
        web:
          specification:
            source: {image: registry.example/web:1.0}
            ports: [80]
            scalability: {number_of_replicas: 1}
            environment_variables:
              - {name: PASSWORD, value: '${PASSWORD}'}
              - {name: MODE, value: production}
          endpoints:
            - name: web-lb
            - name: web-public
              ingress:
                class: standard
                host: web.info.example.test
        worker:
          specification:
            source: {image: registry.example/worker:1.0}
            accessibility: {from_cluster: false}
"""


@pytest.fixture
def deployed(cluster, call, tmp_path):
    """The PROJECT deployed by the deploy module into a fresh environment; yields (namespace, source args)."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "continuous-pipe.yml").write_text(PROJECT)
    branch = "b-%s" % uuid.uuid4().hex[:8]
    source = {"source_dir": str(tmp_path / "app"), "branch": branch, "sha": "c0ffee", "flow_uuid": FLOW,
              "secret_variables": {"PASSWORD": PASSWORD}}
    result = call("deploy", source)
    assert not result.get("failed"), result
    namespace = "info-%s" % branch
    assert result["namespace"] == namespace
    yield namespace, source
    cluster.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)


def describe(call, namespace, **args):
    result = call("environment_info", dict({"name": namespace}, **args))
    assert not result.get("failed"), result
    assert len(result["environments"]) == 1, result
    return result, result["environments"][0]


def by(items, **match):
    found = [item for item in items if all(item.get(key) == value for key, value in match.items())]
    assert len(found) == 1, (match, items)
    return found[0]


def test_an_environment_deployed_by_deploy(call, deployed, writes):
    namespace = deployed[0]
    writes.start()
    result, env = describe(call, namespace)
    assert writes.audit_writes(namespace=namespace) == [], "environment_info wrote to the cluster"
    assert result["changed"] is False
    assert env["managed_by"] == "continuouspipe.kubernetes" and env["flow_uuid"] == FLOW and env["phase"] == "Active"

    web = by(env["services"], name="web")
    assert web["kind"] == "Deployment" and web["task"] == "app"
    assert web["images"] == ["registry.example/web:1.0"]
    assert (web["desired"], web["ready"], web["available"], web["state"], web["is_ready"]) == (1, 1, 1, "ready", True)
    assert by(env["services"], name="worker")["images"] == ["registry.example/worker:1.0"]

    lb = by(env["endpoints"], name="web-lb")
    assert lb["type"] == "LoadBalancer" and lb["public"] and lb["component"] == "web"
    assert len(lb["addresses"]) == 1 and lb["addresses"][0].startswith("127.")
    assert lb["internal_address"] == "web-lb.%s.svc.cluster.local" % namespace
    assert lb["ports"][0]["port"] == 80
    ingress = by(env["endpoints"], name="web-public", kind="Ingress")
    assert ingress["hosts"] == ["web.info.example.test"] and ingress["addresses"] and ingress["ready"]
    assert by(env["endpoints"], name="web-public", kind="Service")["internal_address"] == \
        "web-public.%s.svc.cluster.local" % namespace

    release = env["release"]
    assert release["number"] == 1 and release["task"] == "app" and release["status"] == "deployed"
    assert release["code_reference"]["branch"] == namespace[len("info-"):]
    assert release["code_reference"]["sha"] == "c0ffee"
    assert [item["number"] for item in env["history"]] == [1]
    assert env["current_releases"] == [release]
    assert "objects" not in json.dumps(env["history"])
    assert env["drift"] == [] and env["drifted"] is False
    assert PASSWORD not in json.dumps(result)


def test_drift_shows_changes_by_hand_and_never_a_secret_value(call, cluster, deployed):
    namespace = deployed[0]

    def kubectl(*args):
        return cluster.kubectl(*args, "-n", namespace)

    by_hand = "by-hand-%s" % uuid.uuid4().hex[:8]
    kubectl("scale", "deployment", "web", "--replicas=2")
    kubectl("set", "image", "deployment/worker", "worker=registry.example/worker:hotfix")
    kubectl("patch", "secret", "web-secrets", "-p", json.dumps({"stringData": {"PASSWORD": by_hand, "NEW": by_hand}}))
    kubectl("delete", "service", "web-lb")
    kubectl("create", "service", "clusterip", "stray", "--tcp=80")
    kubectl("label", "service", "stray", "continuouspipe.io/task=app", "app.kubernetes.io/managed-by=continuouspipe.kubernetes")
    # additions by others are not drift
    kubectl("label", "deployment", "web", "owner=team-a")
    kubectl("annotate", "deployment", "worker", "note=investigating")

    result, env = describe(call, namespace)
    assert env["drifted"] is True
    drift = {(item["kind"], item["name"]): item for item in env["drift"]}
    assert set(drift) == {("Deployment", "web"), ("Deployment", "worker"), ("Secret", "web-secrets"),
                          ("Service", "web-lb"), ("Service", "stray")}, env["drift"]
    assert drift[("Deployment", "web")]["state"] == "changed"
    assert drift[("Deployment", "web")]["differences"] == [{"path": "spec.replicas", "expected": 1, "actual": 2}]
    assert drift[("Deployment", "worker")]["differences"] == [{
        "path": "spec.template.spec.containers[0].image", "expected": "registry.example/worker:1.0",
        "actual": "registry.example/worker:hotfix"}]
    assert drift[("Secret", "web-secrets")]["differences"] == [{"path": "data.NEW"}, {"path": "data.PASSWORD"}]
    assert drift[("Service", "web-lb")]["state"] == "missing"
    assert drift[("Service", "stray")]["state"] == "extra"
    assert all(item["task"] == "app" and item["release"] == 1 for item in env["drift"])
    text = json.dumps(result)
    assert PASSWORD not in text and by_hand not in text

    quick = call("environment_info", {"name": namespace, "drift": False, "history": False})["environments"][0]
    assert "drift" not in quick and "history" not in quick and quick["release"]["number"] == 1


def test_a_new_release_supersedes_the_previous_one(call, deployed):
    namespace, source = deployed
    path = Path(source["source_dir"]) / "continuous-pipe.yml"
    path.write_text(path.read_text().replace("registry.example/worker:1.0", "registry.example/worker:2.0"))
    result = call("deploy", source)
    assert result["changed"] and not result.get("failed"), result
    env = describe(call, namespace)[1]
    assert env["release"]["number"] == 2
    assert [(item["number"], item["status"]) for item in env["history"]] == [(2, "deployed"), (1, "superseded")]
    assert by(env["services"], name="worker")["images"] == ["registry.example/worker:2.0"]
    assert env["drift"] == []
    limited = describe(call, namespace, history_limit=1)[1]
    assert [item["number"] for item in limited["history"]] == [2]


def test_listing_environments_with_selectors(call, cluster, deployed, kube_namespace):
    namespace = deployed[0]
    listed = call("environment_info", {"drift": False})
    names = [env["name"] for env in listed["environments"]]
    assert namespace in names and kube_namespace not in names  # a namespace that is not an environment
    assert names == sorted(names)
    mine = call("environment_info", {"flow_uuid": FLOW, "history": False})
    assert namespace in [env["name"] for env in mine["environments"]]
    assert all(env["flow_uuid"] == FLOW for env in mine["environments"])
    selected = call("environment_info", {"label_selectors": ["continuouspipe.io/environment=%s" % namespace]})
    assert [env["name"] for env in selected["environments"]] == [namespace]
    none = call("environment_info", {"label_selectors": ["continuouspipe.io/environment=%s" % namespace],
                                     "flow_uuid": str(uuid.uuid4())})
    assert none["environments"] == []
    assert call("environment_info", {"name": "absent-%s" % uuid.uuid4().hex[:8]})["environments"] == []


def test_a_namespace_continuouspipe_created(call, cluster):
    """No release, no collection labels: listed as ContinuousPipe's, workloads and problems shown."""
    namespace = "cp-legacy-%s" % uuid.uuid4().hex[:6]
    cluster.kubectl("create", "namespace", namespace)
    try:
        cluster.kubectl("label", "namespace", namespace, "created-by=continuous-pipe",
                        "continuous-pipe-environment=%s" % namespace, "flow=%s" % FLOW)
        deployment = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "namespace": namespace, "labels": {"component-identifier": "api"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"component-identifier": "api"}},
                     "template": {"metadata": {"labels": {"component-identifier": "api",
                                                          "kwok-test/behavior": "image-pull-error"}},
                                  "spec": {"containers": [{"name": "api", "image": "registry.example/missing:1"}]}}},
        }
        cluster.kubectl("apply", "-f", "-", input=json.dumps(deployment))

        def pulling():
            env = describe(call, namespace)[1]
            api = by(env["services"], name="api")
            return env if "ImagePullBackOff" in api["problems"] else None

        env = wait_for(pulling, what="ImagePullBackOff reported")
        api = by(env["services"], name="api")
        assert api["state"] == "unavailable" and api["is_ready"] is False and api["ready"] == 0
        assert env["managed_by"] == "continuouspipe" and env["release"] is None
        assert env["history"] == [] and env["drift"] == [] and env["current_releases"] == []
        listed = call("environment_info", {"flow_uuid": FLOW, "drift": False})
        assert namespace in [item["name"] for item in listed["environments"]]
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_through_ansible_playbook(ansible, deployed):
    namespace = deployed[0]
    result = ansible.run("continuouspipe.kubernetes.environment_info", {"name": namespace}, check=True)
    assert not result.get("failed") and not result["changed"], result
    assert result["environments"][0]["release"]["number"] == 1
    assert PASSWORD not in ansible.last_output and PASSWORD not in json.dumps(result)
