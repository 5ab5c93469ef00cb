"""playbooks/deploy.yml run the way AWX runs a job template: through ansible-runner.

The private data directory is laid out as AWX lays it out (docs/awx.md):

* ``project/`` — the application (examples/app) and a three-line ``deploy.yml`` that imports the
  collection's playbook; the job runs in that directory (``source_dir: .``);
* ``inventory/`` — a ``*.clusters.yml`` for the continuouspipe.kubernetes.clusters plugin;
* ``env/envvars`` — what the credential injectors write:
  - the custom "one kubeconfig, several clusters" credential type: the kubeconfig as a file in the
    private data dir, its path in ``CONTINUOUSPIPE_KUBECONFIG`` (and ``K8S_AUTH_KUBECONFIG``);
  - or the built-in "Kubernetes Bearer Token" type: ``K8S_AUTH_HOST``, ``K8S_AUTH_API_KEY``,
    ``K8S_AUTH_VERIFY_SSL`` and ``K8S_AUTH_SSL_CA_CERT`` (a file);
* ``env/extravars`` — survey answers, AWX's own ``awx_*`` variables and the credential's
  ``extra_vars`` injector, all as ``!unsafe`` strings.

Each case runs the job twice and checks: status ``successful``; the second run changes nothing
(``stats['changed']`` empty); no bearer token, client key or secret variable value appears anywhere in
the artifacts (stdout, job events, fact cache, command line; see ``artifact_text`` for runner's record
of its input environment).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))
# The session fixture ``clusters``: aws-eu, aws-us, gce-eu.
from fixtures import clusters  # noqa: E402,F401  pylint: disable=unused-import

ansible_runner = pytest.importorskip("ansible_runner")

APP = os.path.join(ROOT, "examples", "app")
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
SECRET = "canary-awx-secret-9d3b7e"


def unsafe(value: str) -> str:
    """A YAML ``!unsafe`` scalar, as AWX writes extra vars."""
    return "!unsafe " + json.dumps(value)


def ca_data(cluster) -> str:
    return base64.b64encode((cluster.local.pki / "ca.crt").read_bytes()).decode()


def multi_cluster_kubeconfig(clusters) -> dict:
    """One kubeconfig, one context per cluster, bearer-token users (what an operator pastes into AWX)."""
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": c.name, "cluster": {"server": c.server, "certificate-authority-data": ca_data(c)}}
                     for c in clusters],
        "users": [{"name": "deployer-" + c.name, "user": {"token": c.tokens["admin"]}} for c in clusters],
        "contexts": [{"name": c.name, "context": {"cluster": c.name, "user": "deployer-" + c.name}} for c in clusters],
        "current-context": clusters[0].name,
    }


def private_data_dir(base, inventory: dict, envvars: dict, extravars: dict, files=None) -> str:
    pdd = base / "pdd"
    for sub in ("inventory", "env"):
        (pdd / sub).mkdir(parents=True, exist_ok=True)
    # AWX's layout: the project cache is a clone of the SCM URL; each job's project/ is a shallow clone
    # of that cache (file://), so the job's own origin is the cache, which leads to the real remote.
    cache = base / "awx" / "projects" / "_8__shop"
    cache.mkdir(parents=True, exist_ok=True)
    for name in ("continuous-pipe.yml", "docker-compose.yml"):
        shutil.copy(os.path.join(APP, name), cache / name)
    (cache / "deploy.yml").write_text(
        "---\n- name: Deploy\n  ansible.builtin.import_playbook: continuouspipe.kubernetes.deploy\n")
    git = ["git", "-c", "user.email=awx@example.com", "-c", "user.name=awx"]
    if not (cache / ".git").exists():
        for command in (["init", "-q"], ["remote", "add", "origin", "https://git.example.com/acme/shop.git"],
                        ["add", "-A"], ["commit", "-q", "-m", "shop"]):
            subprocess.run(git + command, cwd=cache, check=True, capture_output=True)
    if not (pdd / "project").exists():
        subprocess.run(git + ["clone", "-q", "--depth", "1", cache.as_uri(), str(pdd / "project")], check=True,
                       capture_output=True)
    (pdd / "inventory" / "clusters.clusters.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    for name, content in (files or {}).items():
        path = pdd / "env" / name
        path.write_text(content)
        os.chmod(path, 0o600)
    env = {
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
        "JOB_ID": "4242", "INVENTORY_ID": "7", "PROJECT_REVISION": "0123456789abcdef",
        "AWX_HOST": "https://awx.example.com",
    }
    env.update(envvars)
    (pdd / "env" / "envvars").write_text(yaml.safe_dump(env))
    lines = ["---"] + ["%s: %s" % (key, unsafe(value)) for key, value in extravars.items()]
    (pdd / "env" / "extravars").write_text("\n".join(lines) + "\n")
    return str(pdd)


def awx_extravars(group: str, branch: str) -> dict:
    return {
        # survey answers
        "environment_group": group, "branch": branch, "sha": "", "rollout_serial": "1", "fleet_atomic": "",
        # job template extra variables
        "source_dir": ".",
        # the credential's extra_vars injector
        "secret_variables": json.dumps({"DATABASE_PASSWORD": SECRET}),
        # what AWX adds to every job
        "awx_job_id": "4242", "awx_job_template_name": "Deploy " + group, "awx_user_name": "admin",
        "awx_project_revision": "0123456789abcdef", "awx_inventory_name": "clusters",
        "awx_job_launch_type": "manual", "tower_job_id": "4242",
    }


def run_job(pdd: str, ident: str):
    return ansible_runner.run(private_data_dir=pdd, playbook="deploy.yml", ident=ident, quiet=True,
                              settings={"idle_timeout": 900, "job_timeout": 1800})


def artifact_text(pdd: str, ident: str) -> str:
    """Every artifact of a job, as text.

    ansible-runner's ``command`` file (mode 0600) records the environment it started ansible-playbook
    with, which is the credential's ``env/envvars`` input verbatim; it is runner's own copy of the
    job's inputs, not output of the job, so only its ``command`` and ``cwd`` are checked. (AWX keeps
    the job environment redacted in its database and discards the private data dir after the job.)
    """
    chunks = []
    for folder, _dirs, names in os.walk(os.path.join(pdd, "artifacts", ident)):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            if name == "command" and folder == os.path.join(pdd, "artifacts", ident):
                recorded = json.loads(text)
                text = json.dumps({"command": recorded.get("command"), "cwd": recorded.get("cwd")})
            chunks.append(text)
    return "\n".join(chunks)


def assert_job(pdd: str, secrets: list) -> None:
    first = run_job(pdd, "job-1")
    stdout = artifact_text(pdd, "job-1")
    assert first.status == "successful", stdout[-8000:]
    assert first.rc == 0
    assert "deployed" in stdout

    second = run_job(pdd, "job-2")
    stdout2 = artifact_text(pdd, "job-2")
    assert second.status == "successful", stdout2[-8000:]
    assert second.stats["changed"] == {}, (second.stats, stdout2[-6000:])
    assert second.stats["failures"] == {}

    for ident in ("job-1", "job-2"):
        text = artifact_text(pdd, ident)
        assert text, "no artifacts for %s" % ident
        for secret in secrets:
            assert secret not in text, "a secret value appears in the artifacts of %s" % ident


def test_awx_job_with_a_multi_cluster_kubeconfig_credential(clusters, tmp_path):
    production = [c for c in clusters if c.name in ("aws-eu", "aws-us")]
    kubeconfig = multi_cluster_kubeconfig(production)
    kubeconfig_file = "tmp_credential_kubeconfig"
    pdd_path = str(tmp_path / "pdd" / "env" / kubeconfig_file)
    inventory = {
        "plugin": "continuouspipe.kubernetes.clusters",
        "clusters": [{"name": c.name, "provider": "aws",
                      "connection": {"kubeconfig_env": "CONTINUOUSPIPE_KUBECONFIG", "context": c.name},
                      "vars": {"continuouspipe_variables": {"CLUSTER_NAME": c.name}}} for c in production],
        "environments": {"production": {"clusters": [c.name for c in production], "serial": 1}},
    }
    envvars = {"CONTINUOUSPIPE_KUBECONFIG": pdd_path, "K8S_AUTH_KUBECONFIG": pdd_path}
    branch = "awx-%s" % uuid.uuid4().hex[:6]
    pdd = private_data_dir(tmp_path, inventory, envvars, awx_extravars("production", branch),
                           files={kubeconfig_file: yaml.safe_dump(kubeconfig)})
    try:
        assert_job(pdd, [SECRET] + [c.tokens["admin"] for c in production])
        for c in production:
            status, body = c.local.api("GET", "/apis/apps/v1/namespaces/shop-%s/deployments/web" % branch)
            assert status == 200, (c.name, body)
            env = body["spec"]["template"]["spec"]["containers"][0].get("env", [])
            assert {"name": "CLUSTER_NAME", "value": c.name} in env
    finally:
        for c in production:
            c.local.api("DELETE", "/api/v1/namespaces/shop-%s" % branch)


def test_awx_job_with_the_builtin_kubernetes_bearer_token_credential(clusters, tmp_path):
    uat = [c for c in clusters if c.name == "gce-eu"][0]
    inventory = {
        "plugin": "continuouspipe.kubernetes.clusters",
        "clusters": [{"name": uat.name, "provider": "gce",
                      "connection": {"host_env": "K8S_AUTH_HOST", "api_key_env": "K8S_AUTH_API_KEY",
                                     "ca_cert_env": "K8S_AUTH_SSL_CA_CERT"}}],
        "environments": {"uat": [uat.name]},
    }
    ca_file = "tmp_k8s_ca"
    envvars = {  # exactly what AWX's kubernetes_bearer_token injector writes (verify_ssl ticked, CA pasted)
        "K8S_AUTH_HOST": uat.server, "K8S_AUTH_API_KEY": uat.tokens["admin"], "K8S_AUTH_VERIFY_SSL": "True",
        "K8S_AUTH_SSL_CA_CERT": str(tmp_path / "pdd" / "env" / ca_file),
    }
    branch = "awx-%s" % uuid.uuid4().hex[:6]
    extravars = awx_extravars("uat", branch)
    extravars["variables"] = json.dumps({"CLUSTER_NAME": "uat"})
    pdd = private_data_dir(tmp_path, inventory, envvars, extravars,
                           files={ca_file: (uat.local.pki / "ca.crt").read_text()})
    try:
        assert_job(pdd, [SECRET, uat.tokens["admin"]])
    finally:
        uat.local.api("DELETE", "/api/v1/namespaces/shop-%s" % branch)
