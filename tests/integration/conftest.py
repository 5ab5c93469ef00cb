"""Shared fixtures of the integration tests: a real control plane (tests/cluster), and helpers to
count write requests, run modules through ansible-playbook, and build small environments.

Fixtures (generic, usable by any test in this folder):

    cluster, clusters, kube_namespace   from tests/cluster/fixtures.py (real control planes; never skipped)
    kube                                a connected ``Cluster`` (module_utils.cluster.connection) as admin
    env_namespace                       a fresh namespace *name* (not created) deleted after the test
    writes                              ``WriteMeter`` for ``cluster``: write requests from /metrics and
                                        the audit log between two points
    ansible                             ``AnsibleRunner``: runs one module task with ansible-playbook
                                        against localhost and returns the registered result

Nothing here mocks the Kubernetes client: every test talks to a real kube-apiserver.
"""
from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "cluster"))

from fixtures import cluster, clusters, kube_namespace  # noqa: E402,F401 pylint: disable=unused-import

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import connection  # noqa: E402

COLLECTIONS_PATH = ROOT / ".build" / "collections"
CORPUS = Path(os.environ.get("CP_CORPUS_DIR", "/work/shared/corpus"))
USER_AGENT = "continuouspipe.kubernetes"
WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY")
# What a deploy writes; the control plane's own steady-state writes go to other resources/subresources
# (leases, events, */status).
DEPLOY_RESOURCES = ("namespaces", "secrets", "configmaps", "services", "persistentvolumeclaims", "ingresses",
                    "deployments", "pods", "replicasets", "networkpolicies", "serviceaccounts")


# --------------------------------------------------------------------------------------------------
# connections and namespaces


@pytest.fixture
def kube(cluster):
    """A ``Cluster`` (the collection's client) connected as the kubeconfig's admin."""
    client = connection.connect({"kubeconfig": cluster.kubeconfig, "context": cluster.context})
    yield client
    client.close()


def connect_as(cluster, user: str):
    """A ``Cluster`` authenticated with a static token user of a local cluster (e.g. ``limited``)."""
    return connection.connect({"host": cluster.server, "api_key": cluster.tokens[user],
                               "ca_cert": str(cluster.local.pki / "ca.crt")})


def unique_namespace(request, prefix: str = "") -> str:
    stem = re.sub(r"[^a-z0-9-]+", "-", (prefix or request.node.name).lower()).strip("-")[:40].strip("-")
    return "%s-%s" % (stem, uuid.uuid4().hex[:6])


@pytest.fixture(scope="session")
def _namespaces_to_delete(cluster):
    """Namespaces are deleted at the end of the session, not after each test: a namespace being
    deleted makes the controllers write, which would blur the write counts of the tests after it."""
    names = []
    yield names
    for name in names:
        cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


@pytest.fixture
def env_namespace(request, _namespaces_to_delete):
    """A namespace name for the test to deploy into (the deploy creates it); deleted at session end."""
    name = unique_namespace(request)
    _namespaces_to_delete.append(name)
    return name


# --------------------------------------------------------------------------------------------------
# counting writes


_LABELS = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def request_totals(metrics_text: str, verbs=WRITE_VERBS) -> collections.Counter:
    """apiserver_request_total for ``verbs``: Counter keyed by (verb, resource, subresource, dry_run)."""
    out = collections.Counter()
    for line in metrics_text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels_part, _sep, value = line.rpartition("} ")
        labels = dict(_LABELS.findall(labels_part))
        if labels.get("verb") not in verbs:
            continue
        out[(labels["verb"], labels.get("resource", ""), labels.get("subresource", ""), labels.get("dry_run", ""))] \
            += int(float(value))
    return out


class WriteMeter:
    """Write requests between ``start()`` and now, from the API server's metrics and audit log."""

    def __init__(self, cluster):
        self.cluster = cluster
        self._metrics = None
        self._audit_lines = 0

    def _audit_path(self) -> Path:
        return self.cluster.local.logs / "audit.log"

    def start(self) -> "WriteMeter":
        text = self.cluster.get_raw("/metrics")
        self._metrics = request_totals(text)
        self._reads = request_totals(text, ("GET", "LIST"))
        try:
            with open(self._audit_path(), "rb") as handle:
                self._audit_lines = sum(1 for _line in handle)
        except FileNotFoundError:
            self._audit_lines = 0
        return self

    def metric_writes(self, dry_run: bool = False) -> dict:
        """Deploy-resource writes (main resource, no subresource) counted by /metrics since start()."""
        now = request_totals(self.cluster.get_raw("/metrics"))
        out = {}
        for key, value in now.items():
            verb, resource, subresource, dry = key
            if resource not in DEPLOY_RESOURCES or subresource:
                continue
            if bool(dry) != dry_run:
                continue
            delta = value - self._metrics.get(key, 0)
            if delta:
                out["%s %s" % (verb, resource)] = delta
        return out

    def metric_reads(self) -> dict:
        """GET and LIST requests on deploy resources since start() (everyone's, from /metrics)."""
        now = request_totals(self.cluster.get_raw("/metrics"), ("GET", "LIST"))
        out = {}
        for key, value in now.items():
            verb, resource, subresource, _dry = key
            delta = value - self._reads.get(key, 0)
            if resource in DEPLOY_RESOURCES and not subresource and delta:
                out["%s %s" % (verb, resource)] = delta
        return out

    def audit_writes(self, user_agent: str = USER_AGENT) -> list:
        """Audit events (create/update/patch/delete) by our client since start(): (verb, uri)."""
        events = []
        with contextlib.suppress(FileNotFoundError), open(self._audit_path(), encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                if index < self._audit_lines:
                    continue
                with contextlib.suppress(ValueError):
                    event = json.loads(line)
                    if str(event.get("userAgent", "")).startswith(user_agent):
                        events.append((event.get("verb"), event.get("requestURI")))
        return events


@pytest.fixture
def writes(cluster):
    return WriteMeter(cluster)


# --------------------------------------------------------------------------------------------------
# Ansible


class AnsibleRunner:
    """Run one task of a module through ansible-playbook against localhost; return its result."""

    def __init__(self, cluster, workdir: Path):
        self.cluster = cluster
        self.workdir = workdir
        self.last_output = ""

    def run(self, module: str, args: dict, check: bool = False, diff: bool = False, verbosity: int = 0,
            timeout: float = 600) -> dict:
        if not (COLLECTIONS_PATH / "ansible_collections" / "continuouspipe" / "kubernetes").exists():
            raise AssertionError("%s is missing: run `make collection-link`" % COLLECTIONS_PATH)
        args = dict(args)
        args.setdefault("kubeconfig", self.cluster.kubeconfig)
        args.setdefault("context", self.cluster.context)
        name = uuid.uuid4().hex[:8]
        out = self.workdir / ("result-%s.json" % name)
        task = {"name": "module under test", module: args, "register": "result", "ignore_errors": True}
        if check:
            task["check_mode"] = True
        if diff:
            task["diff"] = True
        playbook = [{
            "hosts": "localhost", "gather_facts": False,
            "tasks": [task, {"name": "save the result", "ansible.builtin.copy": {
                "content": "{{ result | to_json }}", "dest": str(out)}, "check_mode": False, "diff": False}],
        }]
        path = self.workdir / ("playbook-%s.yml" % name)
        path.write_text(json.dumps(playbook))
        env = dict(os.environ)
        env.update(ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
                   ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_RETRY_FILES_ENABLED="False")
        env.pop("K8S_AUTH_KUBECONFIG", None)
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=%s" % sys.executable, str(path)]
        if verbosity:
            cmd.append("-" + "v" * verbosity)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(self.workdir), timeout=timeout,
                              check=False)
        self.last_output = proc.stdout + proc.stderr
        if not out.exists():
            raise AssertionError("ansible-playbook did not save a result (exit %s):\n%s" % (
                proc.returncode, self.last_output[-5000:]))
        return json.loads(out.read_text())


@pytest.fixture
def ansible(cluster, tmp_path):
    return AnsibleRunner(cluster, tmp_path)


# --------------------------------------------------------------------------------------------------
# small environments


def corpus_dir(name: str) -> Path:
    path = CORPUS / name
    if not path.is_dir():
        raise AssertionError("the shared corpus has no %s (looked in %s; set CP_CORPUS_DIR)" % (name, CORPUS))
    return path
