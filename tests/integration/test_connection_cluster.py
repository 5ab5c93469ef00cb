"""Reaching a real API server: kubeconfig and context, host and token, the variables AWX injects,
module_defaults, exec credential plugins, TLS verification, and credentials that never leak.

(Named ``test_connection_cluster`` so that it does not clash with tests/unit/test_connection.py.)
Every test runs modules through Ansible against the local control plane (tests/cluster): the
kube-apiserver has static bearer tokens (``admin`` in system:masters, ``limited`` without any
permission), a private CA, and a kubeconfig with one context per user.
"""
from __future__ import annotations

import json
import os
import re
import stat
import sys
import textwrap
import uuid
from pathlib import Path

import ansible_runner
import yaml

COLLECTIONS_PATH = Path(__file__).resolve().parents[2] / ".build" / "collections"
BAD_HOST = "https://127.0.0.1:1"  # nothing listens there


def unique_namespace(request, prefix: str = "") -> str:
    stem = re.sub(r"[^a-z0-9-]+", "-", (prefix or request.node.name).lower()).strip("-")[:40].strip("-")
    return "%s-%s" % (stem, uuid.uuid4().hex[:6])


def admin_token(cluster) -> str:
    return cluster.tokens["admin"]


def ca_path(cluster) -> str:
    return str(cluster.local.pki / "ca.crt")


def leaked(secret: str, *texts) -> bool:
    return any(secret in (text if isinstance(text, str) else json.dumps(text)) for text in texts)


# --------------------------------------------------------------------------------------------------
# ansible-runner: a playbook run the way AWX runs it (env/envvars, env/extravars, events)


def run_playbook(tmp_path: Path, tasks: list, envvars: dict = None, module_defaults: dict = None,
                 extravars: dict = None, timeout: int = 300):
    """Run one play against localhost with ansible-runner; return (runner, {task name: result}).

    Secrets go in ``extravars`` (``{{ token }}`` in the tasks), as they would come from a vault: a
    literal in the playbook is shown back by Ansible's error display.
    """
    private = tmp_path / ("runner-%s" % uuid.uuid4().hex[:6])
    (private / "project").mkdir(parents=True)
    (private / "inventory").mkdir()
    play = {"name": "connection test", "hosts": "localhost", "gather_facts": False, "tasks": tasks}
    if module_defaults:
        play["module_defaults"] = module_defaults
    (private / "project" / "site.yml").write_text(yaml.safe_dump([play], sort_keys=False))
    (private / "inventory" / "hosts").write_text(
        "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    env = {"ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_RETRY_FILES_ENABLED": "False", "ANSIBLE_LOCALHOST_WARNING": "False",
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    env.update(envvars or {})
    saved = {name: os.environ.pop(name) for name in list(os.environ) if name.startswith("K8S_AUTH_")}
    try:
        runner = ansible_runner.run(private_data_dir=str(private), playbook="site.yml", envvars=env, quiet=True,
                                    extravars=extravars or {}, timeout=timeout)
    finally:
        os.environ.update(saved)
    results = {}
    for event in runner.events:
        if event.get("event") in ("runner_on_ok", "runner_on_failed"):
            data = event["event_data"]
            results[data.get("task")] = dict(data.get("res") or {}, _event=event["event"])
    return runner, results


def artifacts_text(runner) -> str:
    """stdout and every job event, as AWX stores them."""
    parts = [runner.stdout.read()]
    events_dir = Path(runner.config.artifact_dir) / "job_events"
    for path in sorted(events_dir.glob("*.json")):
        parts.append(path.read_text())
    return "\n".join(parts)


INFO = "continuouspipe.kubernetes.environment_info"


def info_task(name: str, namespace: str, **args) -> dict:
    return {"name": name, INFO: dict({"name": namespace}, **args)}


# --------------------------------------------------------------------------------------------------
# kubeconfig, context, host and token


def test_kubeconfig_and_context(ansible, cluster, kube_namespace):
    result = ansible.run(INFO, {"name": kube_namespace, "drift": False})
    assert not result.get("failed"), result
    assert [env["name"] for env in result["environments"]] == [kube_namespace]


def test_the_context_selects_the_user(ansible, cluster, kube_namespace):
    result = ansible.run(INFO, {"name": kube_namespace, "context": "%s-limited" % cluster.context})
    assert result.get("failed"), result
    assert "403" in result["msg"] and "limited" in result["msg"], result["msg"]


def test_host_api_key_and_ca_cert(ansible, cluster, kube_namespace):
    token = admin_token(cluster)
    result = ansible.run(INFO, {"name": kube_namespace, "kubeconfig": None, "context": None, "host": cluster.server,
                                "api_key": token, "ca_cert": ca_path(cluster)})
    assert not result.get("failed"), result
    assert result["environments"][0]["name"] == kube_namespace
    assert not leaked(token, result, ansible.last_output)


def test_the_api_server_certificate_is_verified_unless_validate_certs_is_false(cluster, kube_namespace, tmp_path):
    args = {"name": kube_namespace, "drift": False, "host": cluster.server, "api_key": "{{ token }}"}
    runner, results = run_playbook(tmp_path, [
        {"name": "unverified", INFO: args, "ignore_errors": True},
        {"name": "insecure", INFO: dict(args, validate_certs=False)},
        {"name": "verified", INFO: dict(args, ca_cert=ca_path(cluster), validate_certs=True)},
    ], extravars={"token": admin_token(cluster)})
    unverified = results["unverified"]
    assert unverified["_event"] == "runner_on_failed", unverified
    assert "certificate verify failed" in unverified["msg"].lower(), unverified["msg"]
    assert results["insecure"]["_event"] == "runner_on_ok", results["insecure"]
    assert results["verified"]["_event"] == "runner_on_ok", results["verified"]
    assert not leaked(admin_token(cluster), artifacts_text(runner))


def test_a_wrong_token_is_a_clear_401_that_does_not_show_the_token(ansible, cluster, kube_namespace):
    wrong = "wrong-%s" % uuid.uuid4().hex
    result = ansible.run(INFO, {"name": kube_namespace, "kubeconfig": None, "context": None, "host": cluster.server,
                                "api_key": wrong, "ca_cert": ca_path(cluster)})
    assert result.get("failed"), result
    assert "401" in result["msg"] and "Unauthorized" in result["msg"], result["msg"]
    assert "credentials" in result["msg"], result["msg"]
    assert not leaked(wrong, result, ansible.last_output)


def test_an_unreachable_api_server_is_a_clear_error(ansible, kube_namespace):
    result = ansible.run(INFO, {"name": kube_namespace, "kubeconfig": None, "context": None, "host": BAD_HOST,
                                "api_key": "x", "validate_certs": False})
    assert result.get("failed"), result
    assert "cannot reach the API server" in result["msg"], result["msg"]


# --------------------------------------------------------------------------------------------------
# AWX: the "OpenShift or Kubernetes API Bearer Token" credential injects K8S_AUTH_* variables


def awx_envvars(cluster, verify: bool = True) -> dict:
    """What AWX's kubernetes_bearer_token injector writes to env/envvars."""
    env = {"K8S_AUTH_HOST": cluster.server, "K8S_AUTH_API_KEY": admin_token(cluster)}
    if verify:
        env.update(K8S_AUTH_VERIFY_SSL="True", K8S_AUTH_SSL_CA_CERT=ca_path(cluster))
    else:
        env["K8S_AUTH_VERIFY_SSL"] = "False"
    return env


def test_awx_credential_variables_alone(cluster, request, tmp_path):
    namespace = unique_namespace(request, "awx-env")
    try:
        runner, results = run_playbook(tmp_path, [
            {"name": "create", "continuouspipe.kubernetes.environment": {"name": namespace}},
            info_task("describe", namespace, drift=False),
            {"name": "delete", "continuouspipe.kubernetes.environment": {"name": namespace, "state": "absent"}},
        ], envvars=awx_envvars(cluster))
        assert runner.status == "successful", artifacts_text(runner)[-4000:]
        assert results["create"]["changed"] and results["create"]["action"] == "created"
        assert results["describe"]["environments"][0]["managed_by"] == "continuouspipe.kubernetes"
        assert results["delete"]["action"] == "deleted"
        assert not leaked(admin_token(cluster), artifacts_text(runner))
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)


def test_awx_verify_ssl_false_without_a_ca(cluster, kube_namespace, tmp_path):
    """AWX sets K8S_AUTH_VERIFY_SSL=False whenever no CA is pasted: the connection is then unverified."""
    runner, results = run_playbook(tmp_path, [info_task("describe", kube_namespace, drift=False)],
                                   envvars=awx_envvars(cluster, verify=False))
    assert runner.status == "successful", artifacts_text(runner)[-4000:]
    assert results["describe"]["environments"][0]["name"] == kube_namespace


def test_task_options_win_and_a_host_variable_never_redirects_a_named_kubeconfig(cluster, kube_namespace, tmp_path):
    """The credential points at a wrong cluster. A task giving its own host, token and CA wins option by
    option; a task naming only its kubeconfig and context is refused (kubernetes.core would follow the
    variables to the credential's host), and a task naming nothing follows the variables."""
    envvars = {"K8S_AUTH_HOST": BAD_HOST, "K8S_AUTH_API_KEY": "awx-wrong-token", "K8S_AUTH_VERIFY_SSL": "True",
               "K8S_AUTH_SSL_CA_CERT": "/nonexistent/ca.crt"}
    runner, results = run_playbook(tmp_path, [
        dict(info_task("explicit kubeconfig", kube_namespace, drift=False, kubeconfig=cluster.kubeconfig,
                       context=cluster.context), ignore_errors=True),
        info_task("explicit host", kube_namespace, drift=False, host=cluster.server, api_key="{{ token }}",
                  ca_cert=ca_path(cluster)),
        dict(info_task("variables only", kube_namespace, drift=False), ignore_errors=True),
    ], envvars=envvars, extravars={"token": admin_token(cluster)})
    refused = results["explicit kubeconfig"]
    assert refused["_event"] == "runner_on_failed"
    assert "K8S_AUTH_HOST=%s" % BAD_HOST in refused["msg"] and "names its kubeconfig and context" in refused["msg"]
    assert results["explicit host"]["_event"] == "runner_on_ok", results["explicit host"]
    failed = results["variables only"]
    assert failed["_event"] == "runner_on_failed"
    assert "127.0.0.1:1" in failed["msg"] or "ca.crt" in failed["msg"], failed["msg"]
    assert not leaked(admin_token(cluster), artifacts_text(runner))


def test_module_defaults_of_the_action_group(cluster, kube_namespace, tmp_path):
    """group/continuouspipe.kubernetes.kubernetes binds the cluster to every module of the collection."""
    group = "group/continuouspipe.kubernetes.kubernetes"
    namespace = "md-%s" % uuid.uuid4().hex[:8]
    try:
        runner, results = run_playbook(tmp_path, [
            {"name": "create", "continuouspipe.kubernetes.environment": {"name": namespace}},
            info_task("describe", namespace, drift=False),
            {"name": "delete", "continuouspipe.kubernetes.environment": {"name": namespace, "state": "absent"}},
        ], module_defaults={group: {"kubeconfig": cluster.kubeconfig, "context": cluster.context}},
            # options from module_defaults are the task's: they win over the variables of the same options
            envvars={"K8S_AUTH_KUBECONFIG": "/nonexistent/kubeconfig", "K8S_AUTH_CONTEXT": "%s-limited" % cluster.name})
        assert runner.status == "successful", artifacts_text(runner)[-4000:]
        assert results["create"]["action"] == "created"
        assert results["describe"]["environments"][0]["name"] == namespace
        assert results["delete"]["action"] == "deleted"
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)


def test_a_kubeconfig_variable_with_the_context_of_the_task(cluster, kube_namespace, tmp_path):
    """AWX's kubeconfig credential (K8S_AUTH_KUBECONFIG) and tasks that choose a context."""
    runner, results = run_playbook(tmp_path, [info_task("describe", kube_namespace, drift=False,
                                                        context=cluster.context)],
                                   envvars={"K8S_AUTH_KUBECONFIG": cluster.kubeconfig})
    assert runner.status == "successful", artifacts_text(runner)[-4000:]
    assert results["describe"]["environments"][0]["name"] == kube_namespace


def test_kubeconfig_and_context_variables(cluster, kube_namespace, tmp_path):
    runner, results = run_playbook(tmp_path, [info_task("describe", kube_namespace, drift=False)],
                                   envvars={"K8S_AUTH_KUBECONFIG": cluster.kubeconfig,
                                            "K8S_AUTH_CONTEXT": cluster.context})
    assert runner.status == "successful", artifacts_text(runner)[-4000:]
    assert results["describe"]["environments"][0]["name"] == kube_namespace


# --------------------------------------------------------------------------------------------------
# exec credential plugins (what EKS, GKE and AKS kubeconfigs use)


def exec_kubeconfig(cluster, tmp_path: Path, script_body: str) -> Path:
    script = tmp_path / "get-token"
    script.write_text("#!/bin/sh\n" + textwrap.dedent(script_body))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    with open(cluster.kubeconfig, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    server_cluster = next(item for item in config["clusters"] if item["name"] == cluster.name)
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "exec",
        "clusters": [server_cluster],
        "users": [{"name": "exec", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": str(script), "args": ["--cluster", "x"],
            "env": [{"name": "TOKEN_SOURCE", "value": "test"}], "interactiveMode": "Never"}}}],
        "contexts": [{"name": "exec", "context": {"cluster": server_cluster["name"], "user": "exec"}}],
    }
    path = tmp_path / "exec-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_an_exec_credential_kubeconfig(ansible, cluster, kube_namespace, tmp_path):
    token = admin_token(cluster)
    path = exec_kubeconfig(cluster, tmp_path, """\
        [ "$TOKEN_SOURCE" = test ] || exit 3
        cat <<EOF
        {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
         "status": {"token": "%s", "expirationTimestamp": "2099-01-01T00:00:00Z"}}
        EOF
        """ % token)
    result = ansible.run(INFO, {"name": kube_namespace, "kubeconfig": str(path), "context": None})
    assert not result.get("failed"), result
    assert result["environments"][0]["name"] == kube_namespace
    assert not leaked(token, result, ansible.last_output)


def test_a_failing_exec_credential_plugin_is_a_clear_error(ansible, cluster, kube_namespace, tmp_path):
    path = exec_kubeconfig(cluster, tmp_path, """\
        echo "the SSO session has expired; run aws sso login" >&2
        exit 1
        """)
    result = ansible.run(INFO, {"name": kube_namespace, "kubeconfig": str(path), "context": None})
    assert result.get("failed"), result
    assert "SSO session has expired" in result["msg"], result["msg"]
