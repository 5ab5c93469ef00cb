"""playbooks/render.yml renders every demo of the shared corpus, through ansible-playbook.

Each demo (and each branch variant) is rendered for its own branch with the variables its files
expect; the written files must parse, hold a Namespace and at least one workload, and never hold a
secret variable's value (Secrets are masked unless include_secrets is set).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
SHARED = os.environ.get("CP_SHARED_DIR") or os.path.join(ROOT, os.pardir, "shared")
CORPUS = os.path.join(SHARED, "corpus")

# Values for the ${VAR}s the demos read and do not define themselves.
PLAIN = {
    "CLUSTER": "production", "IMAGE_NAME": "quay.io/example/app", "SYMFONY_ENV": "prod",
    "APP_ENV": "production", "APP_URL": "https://app.example.com", "REMOTE_ENV": "1", "APP_DEBUG": "0",
    "CP_ENVIRONMENT": "uat", "DATABASE_NAME": "app", "DATABASE_USER": "app", "DEVELOPMENT_MODE": "0",
    "DRUPAL_ADMIN_USERNAME": "admin", "INSTALL_DRUPAL": "true", "TRUSTED_REVERSE_PROXIES": "10.0.0.0/8",
    "AUTH_IP_WHITELIST": "127.0.0.1", "AUTH0_CALLBACK_URL": "https://app.example.com/callback",
    "AUTH0_COOKIE_DOMAIN": "example.com", "AUTH0_DOMAIN": "example.eu.auth0.com", "AUTH0_CLIENT_ID": "client",
    "HTTPLABS_PROJECT_ID": "project", "CLOUD_FLARE_ZONE": "zone", "CLOUD_FLARE_EMAIL": "ops@example.com",
    "COMMIT_SHA": "0123456789abcdef",
}
SECRET = {
    "DATABASE_PASSWORD": "canary-db-password-7c1e", "DATABASE_ROOT_PASSWORD": "canary-root-password-93ab",
    "DRUPAL_ADMIN_PASSWORD": "canary-admin-password-11f0", "DRUPAL_HASH_SALT": "canary-salt-5d2e",
    "AUTH_HTTP_HTPASSWD": "canary-htpasswd-0a9b", "CLOUD_FLARE_API_KEY": "canary-cf-key-4b4b",
    "AUTH0_CLIENT_SECRET": "canary-auth0-secret-77aa", "AUTH0_PUBLIC_KEY": "canary-auth0-public-6161",
    "HTTPLABS_API_KEY": "canary-httplabs-key-2f2f", "APP_SECRET": "canary-app-secret-3c3c",
    "DATABASE_URL": "mysql://app:canary-url-password-8e8e@database/app",
    "SSL_CERT": "Y2FuYXJ5LWNlcnQ=", "SSL_KEY": "Y2FuYXJ5LWtleS1zZWNyZXQ=",
}


def demos():
    found = []
    for demo in sorted(os.listdir(CORPUS)):
        base = os.path.join(CORPUS, demo)
        if not os.path.isfile(os.path.join(base, "continuous-pipe.yml")):
            continue
        found.append(pytest.param(base, "master", id=demo))
        branches = os.path.join(base, "branches")
        if os.path.isdir(branches):
            for variant in sorted(os.listdir(branches)):
                found.append(pytest.param(os.path.join(branches, variant), variant.replace("__", "/"),
                                          id="%s@%s" % (demo, variant)))
    return found


def test_corpus_is_there():
    assert len(demos()) >= 15, "the shared corpus was not found at %s" % CORPUS


@pytest.mark.parametrize("source_dir,branch", demos())
def test_render_playbook_renders_demo(source_dir, branch, tmp_path):
    out = tmp_path / "out"
    extra = {
        "source_dir": source_dir, "branch": branch, "output_dir": str(out), "sha": "0123456789abcdef",
        "flow_uuid": "00000000-0000-0000-0000-000000000000",
        "variables": PLAIN, "secret_variables": SECRET,
        "ansible_python_interpreter": sys.executable,
    }
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="default")
    playbook = os.path.join(ROOT, "playbooks", "render.yml")
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), playbook, "-e", json.dumps(extra)],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]

    files = sorted(str(p) for p in out.rglob("*.yml"))
    with open(os.path.join(source_dir, "continuous-pipe.yml"), encoding="utf-8") as handle:
        has_deploy_task = "deploy:" in handle.read()
    if not has_deploy_task:  # e.g. kube-status: a build-only pipeline renders nothing, successfully
        assert not files
        return
    assert files, "no manifest written:\n" + output[-2000:]
    kinds = set()
    for path in files:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        for value in SECRET.values():
            assert value not in text, "secret value written to %s" % path
        for obj in yaml.safe_load_all(text):
            assert obj["apiVersion"] and obj["kind"] and obj["metadata"]["name"]
            kinds.add(obj["kind"])
    assert "Namespace" in kinds
    assert kinds & {"Deployment", "Pod"}, kinds
    for value in SECRET.values():
        assert value not in output, "secret value printed by ansible-playbook"


def _make(*args):
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAKE")}
    return subprocess.run(["make", "-s", "--no-print-directory", "-C", ROOT] + list(args), capture_output=True,
                          text=True, env=env, timeout=300, check=False)


def test_make_render_uses_the_playbook_defaults(tmp_path):
    """Issue 10: ``make render`` used undefined_variables=keep while the README called it the playbook."""
    dry = _make("-n", "render", "OUT=%s" % tmp_path)
    assert "undefined_variables=error" in dry.stdout, dry.stdout + dry.stderr
    proc = _make("render", "OUT=%s" % (tmp_path / "example"))  # examples/app with the variables it needs
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert list((tmp_path / "example").rglob("*.yml"))
    proc = _make("render", "OUT=%s" % (tmp_path / "missing"), "VARS={}", "SECRETS={}")
    assert proc.returncode != 0 and 'undefined variable "DATABASE_PASSWORD"' in proc.stdout + proc.stderr
