"""continuouspipe.kubernetes.deploy through ansible-playbook (a real Ansible run against localhost,
the collection from .build/collections) against a real control plane."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from deploy_helpers import listed, live, settle

ROOT = Path(__file__).resolve().parents[2]

PROJECT = """
tasks:
  deployment:
    deploy:
      cluster: local
      services:
        web:
          specification:
            source:
              image: registry.example/web
              tag: ${TAG}
            ports: [80]
            environment_variables:
              - name: DB_PASSWORD
                value: ${DB_PASSWORD}
              - name: GREETING
                value: hello
            resources:
              requests: {cpu: "${CPU}", memory: 64Mi}
          endpoints:
            - name: web-public
              type: LoadBalancer
        worker:
          specification:
            source:
              image: registry.example/worker
              tag: "1"
"""


@pytest.fixture
def project(tmp_path):
    path = tmp_path / "project"
    path.mkdir()
    (path / "continuous-pipe.yml").write_text(PROJECT)
    return path


FLOW = "5e1b2c3d-1111-2222-3333-444455556666"


def args(project, namespace, tag="1", cpu="100m", password="pa55-Word", **extra):
    out = {"source_dir": str(project), "branch": "main", "namespace": namespace, "flow_uuid": FLOW,
           "variables": {"TAG": tag, "CPU": cpu}, "secret_variables": {"DB_PASSWORD": password}}
    out.update(extra)
    return out


def test_deploy_module_deploys_then_changes_nothing(ansible, project, env_namespace, kube, writes):
    first = ansible.run("continuouspipe.kubernetes.deploy", args(project, env_namespace))
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] and first["release"] == 1 and first["task"] == "deployment"
    assert first["services"]["web"] == {"created": True, "updated": False, "deleted": False, "unchanged": False}
    assert {o["action"] for o in first["objects"]} == {"created"}
    address = first["endpoints"][0]["address"]
    assert first["variables"]["SERVICE_WEB_PUBLIC_PUBLIC_ENDPOINT"] == address
    assert set(first["timings"]) >= {"load", "translate", "plan", "apply", "endpoints", "wait", "prune", "history"}
    settle(kube)
    writes.start()
    second = ansible.run("continuouspipe.kubernetes.deploy", args(project, env_namespace))
    assert not second.get("failed"), second.get("msg")
    assert second["changed"] is False and second["release"] == 1
    assert all(flags["unchanged"] for flags in second["services"].values())
    assert writes.metric_writes() == {}
    assert writes.audit_writes() == []


def test_deploy_module_update_and_failed_rollout_rolled_back(ansible, project, env_namespace, kube):
    assert not ansible.run("continuouspipe.kubernetes.deploy", args(project, env_namespace)).get("failed")
    update = ansible.run("continuouspipe.kubernetes.deploy", args(project, env_namespace, tag="2"))
    assert not update.get("failed"), update.get("msg")
    assert update["services"]["web"]["updated"] and update["services"]["worker"]["unchanged"]
    assert update["release"] == 2
    # 500 CPUs: the new pod can never be scheduled; the deploy fails fast and goes back to release 2
    failed = ansible.run("continuouspipe.kubernetes.deploy",
                         args(project, env_namespace, tag="3", cpu="500", wait_timeout=900))
    assert failed.get("failed")
    assert "Unschedulable" in failed["msg"] and "rolled back to release 2" in failed["msg"]
    assert failed["rolled_back"] is True and failed["rolled_back_to"] == 2
    assert failed["timings"]["wait"] < 30
    web = live(kube, "Deployment", "web", env_namespace)
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/web:2"


def test_deploy_module_check_mode_and_diff_write_nothing_and_mask_secrets(ansible, project, env_namespace, kube,
                                                                          writes):
    settle(kube)
    writes.start()
    check = ansible.run("continuouspipe.kubernetes.deploy", args(project, env_namespace, password="canary-ck-1"),
                        check=True, diff=True)
    assert not check.get("failed"), check.get("msg")
    assert check["changed"] and live(kube, "Namespace", env_namespace, None) is None
    assert writes.metric_writes() == {}
    assert ansible.run("continuouspipe.kubernetes.deploy", args(project, env_namespace, password="canary-ck-1"))["changed"]
    settle(kube)
    writes.start()
    check = ansible.run("continuouspipe.kubernetes.deploy", args(project, env_namespace, tag="2",
                                                                 password="canary-ck-2"), check=True, diff=True)
    assert check["changed"]
    assert writes.metric_writes() == {}
    assert writes.metric_writes(dry_run=True)  # the API server validated the changes
    headers = {d["before_header"] for d in check["diff"]}
    assert {"Deployment/web", "Secret/web-secrets"} <= headers
    secret_diff = next(d for d in check["diff"] if d["before_header"] == "Secret/web-secrets")
    assert "******** (changed)" in secret_diff["after"]
    text = json.dumps(check) + ansible.last_output
    for canary in ("canary-ck-1", "canary-ck-2"):
        assert canary not in text and base64.b64encode(canary.encode()).decode() not in text
    assert live(kube, "Deployment", "web", env_namespace)["spec"]["template"]["spec"]["containers"][0]["image"] \
        == "registry.example/web:1"


def test_secret_canary_appears_nowhere_but_in_its_secret(ansible, project, env_namespace, kube):
    canary = "cAnArY-0b5e7d-secret"
    encoded = base64.b64encode(canary.encode()).decode()
    result = ansible.run("continuouspipe.kubernetes.deploy", args(project, env_namespace, password=canary),
                         diff=True, verbosity=3)
    assert not result.get("failed"), result.get("msg")
    updated = ansible.run("continuouspipe.kubernetes.deploy", args(project, env_namespace, tag="2", password=canary),
                          diff=True, verbosity=3)
    for text in (json.dumps(result), json.dumps(updated), ansible.last_output):
        assert canary not in text and encoded not in text
    holders = []
    for kind in ("ConfigMap", "Secret", "Service", "Deployment", "ReplicaSet", "Pod", "Event", "Namespace"):
        items = listed(kube, kind, None if kind == "Namespace" else env_namespace)
        for obj in items:
            blob = json.dumps(obj)
            if canary in blob or encoded in blob:
                holders.append("%s/%s" % (kind, obj["metadata"]["name"]))
    assert [h for h in holders if not h.startswith("Secret/cp-release.")] == ["Secret/web-secrets"]


def test_deploy_module_reports_definition_errors_without_touching_the_cluster(ansible, project, env_namespace, kube):
    result = ansible.run("continuouspipe.kubernetes.deploy", {
        "source_dir": str(project), "branch": "main", "namespace": env_namespace, "variables": {"TAG": "1"},
        "flow_uuid": FLOW, "secret_variables": {"DB_PASSWORD": "x"}})
    assert result.get("failed") and 'undefined variable "CPU"' in result["msg"]
    assert live(kube, "Namespace", env_namespace, None) is None


def test_rollback_module_returns_to_a_release(ansible, project, env_namespace, kube):
    for tag in ("1", "2"):
        assert not ansible.run("continuouspipe.kubernetes.deploy", args(project, env_namespace, tag=tag)).get("failed")
    check = ansible.run("continuouspipe.kubernetes.rollback", {"namespace": env_namespace, "task": "deployment"},
                        check=True, diff=True)
    assert check["changed"] and live(kube, "Deployment", "web", env_namespace)["spec"]["template"]["spec"][
        "containers"][0]["image"] == "registry.example/web:2"
    assert any("registry.example/web:1" in d["after"] for d in check["diff"])
    back = ansible.run("continuouspipe.kubernetes.rollback", {"namespace": env_namespace, "task": "deployment"})
    assert not back.get("failed"), back.get("msg")
    assert back["changed"] and back["rolled_back_to"] == 1 and back["release"] == 3
    web = live(kube, "Deployment", "web", env_namespace)
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/web:1"
    assert web["status"]["updatedReplicas"] == 1
    again = ansible.run("continuouspipe.kubernetes.rollback", {"namespace": env_namespace, "task": "deployment",
                                                               "release": 3})
    assert not again.get("failed") and again["changed"] is False
    missing = ansible.run("continuouspipe.kubernetes.rollback", {"namespace": env_namespace, "task": "deployment",
                                                                 "release": 42})
    assert missing.get("failed") and "release 42" in missing["msg"] and "1 (superseded)" in missing["msg"]
