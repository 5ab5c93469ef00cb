"""The connection variables of AWX against a real API server, side by side with kubernetes.core.

The local control plane's kubeconfig has two contexts: ``<cluster>`` (the admin, current) and
``<cluster>-limited`` (a token without any permission). Reading the namespace ``default`` succeeds
with the first and is forbidden (403) with the second, so the outcome says which context each tool
used. kubernetes.core.k8s_info runs with its own ansible-playbook (``make kcore``), this
collection's environment_info with the development one; each scenario is one task whose
``environment:`` holds the K8S_AUTH_* variables, as an AWX credential injects them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".build" / "collections"
sys.path.insert(0, str(ROOT / "tests" / "unit"))
from test_connection_kcore import kcore_python  # noqa: E402  pylint: disable=wrong-import-position

OK, FORBIDDEN, REFUSED = "ok", "forbidden", "refused"


def scenarios(cluster) -> list:
    """(name, K8S_AUTH_* variables, connection options of the task, kubernetes.core, this collection)."""
    admin, limited = cluster.context, "%s-limited" % cluster.name
    ca = str(cluster.local.pki / "ca.crt")
    bearer = {"K8S_AUTH_HOST": cluster.server, "K8S_AUTH_API_KEY": cluster.tokens["limited"],
              "K8S_AUTH_VERIFY_SSL": "True", "K8S_AUTH_SSL_CA_CERT": ca}
    kubeconfig = cluster.kubeconfig
    return [
        ("awx kubeconfig credential, the task chooses the admin context",
         {"K8S_AUTH_KUBECONFIG": kubeconfig}, {"context": admin}, OK, OK),
        ("awx kubeconfig credential, the task chooses the limited context",
         {"K8S_AUTH_KUBECONFIG": kubeconfig}, {"context": limited}, FORBIDDEN, FORBIDDEN),
        ("the task's kubeconfig with the context variable",
         {"K8S_AUTH_CONTEXT": limited}, {"kubeconfig": kubeconfig}, FORBIDDEN, FORBIDDEN),
        ("the task's kubeconfig and context over both variables",
         {"K8S_AUTH_KUBECONFIG": "/nonexistent/kubeconfig", "K8S_AUTH_CONTEXT": limited},
         {"kubeconfig": kubeconfig, "context": admin}, OK, OK),
        ("both variables alone", {"K8S_AUTH_KUBECONFIG": kubeconfig, "K8S_AUTH_CONTEXT": limited}, {},
         FORBIDDEN, FORBIDDEN),
        ("awx bearer token credential alone", dict(bearer, K8S_AUTH_API_KEY=cluster.tokens["admin"]), {}, OK, OK),
        ("the task's token over the credential's", bearer, {"api_key": cluster.tokens["admin"]}, OK, OK),
        # kubernetes.core skips the task's kubeconfig and context and uses the credential's token
        ("awx bearer token credential next to the task's kubeconfig and context",
         bearer, {"kubeconfig": kubeconfig, "context": admin}, FORBIDDEN, REFUSED),
    ]


def run(tool: str, cluster, tmp_path: Path) -> list:
    """Run every scenario as one task of one playbook with ``tool``; the outcome of each."""
    cases = scenarios(cluster)
    out = tmp_path / ("%s.json" % tool)
    if tool == "kubernetes.core":
        module, args, command = "kubernetes.core.k8s_info", {"kind": "Namespace", "name": "default"}, \
            [str(Path(kcore_python()).parent / "ansible-playbook")]
        env_path = None
    else:
        module, args, command = "continuouspipe.kubernetes.environment_info", \
            {"name": "default", "drift": False, "history": False}, [str(Path(sys.executable).parent / "ansible-playbook")]
        env_path = str(COLLECTIONS)
    tasks = [{"name": "case %d" % index, module: dict(args, **options), "environment": variables,
              "register": "case_%d" % index, "ignore_errors": True}
             for index, (dummy, variables, options, dummy2, dummy3) in enumerate(cases)]
    tasks.append({"name": "results", "ansible.builtin.copy": {
        "dest": str(out), "content": "{{ %s | to_json }}" % ("[" + ", ".join(
            "case_%d" % index for index in range(len(cases))) + "]")}})
    playbook = tmp_path / ("%s.yml" % tool)
    playbook.write_text(yaml.safe_dump([{"name": tool, "hosts": "localhost", "gather_facts": False,
                                         "tasks": tasks}], sort_keys=False))
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("K8S_AUTH_", "ANSIBLE_")) and key != "KUBECONFIG"}
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="False", HOME=str(tmp_path),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    if env_path:
        env["ANSIBLE_COLLECTIONS_PATH"] = env_path
    done = subprocess.run(command + [str(playbook)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          check=False, timeout=600)
    assert out.exists(), done.stdout[-4000:] + done.stderr[-2000:]
    outcomes = []
    for result in json.loads(out.read_text()):
        message = str(result.get("msg", ""))
        if not result.get("failed"):
            outcomes.append(OK)
        elif "403" in message or "forbidden" in message.lower():
            outcomes.append(FORBIDDEN)
        elif "K8S_AUTH_HOST" in message and "names another server" in message:
            outcomes.append(REFUSED)
        else:
            outcomes.append("failed: " + message[:300])
    return outcomes


@pytest.fixture
def side_by_side(cluster, tmp_path):
    return scenarios(cluster), run("kubernetes.core", cluster, tmp_path), run("ours", cluster, tmp_path)


def test_awx_variables_and_task_options_like_kubernetes_core(side_by_side):
    cases, theirs, ours = side_by_side
    for (name, dummy, dummy2, expected_kcore, expected_ours), kcore, mine in zip(cases, theirs, ours):
        assert (kcore, mine) == (expected_kcore, expected_ours), name
    # the same outcome everywhere but the one refusal
    assert sum(k == m for k, m in zip(theirs, ours)) == len(cases) - 1
