"""Shared fixtures of the integration tests: a real control plane (tests/cluster), and helpers to
count write requests, run modules through ansible-playbook, and build small environments.

Fixtures (generic, usable by any test in this folder):

    cluster, clusters, kube_namespace   from tests/cluster/fixtures.py (real control planes; never skipped)
    kube                                a connected ``Cluster`` (module_utils.cluster.connection) as admin
    env_namespace                       a fresh namespace *name* (not created) deleted after the test
    writes                              ``WriteMeter`` for ``cluster``: write requests from /metrics and
                                        the audit log between two points (all, or one namespace's)
    call                                ``ModuleRunner``: runs a module as Ansible runs it on the target
                                        (``call(module, args)``; ``call.bind(module)`` for one module)
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

from fixtures import cluster, clusters, kube_namespace, platform_cluster  # noqa: E402,F401 pylint: disable=unused-import
from fixtures import request_series  # noqa: E402

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import connection  # noqa: E402

COLLECTIONS_PATH = ROOT / ".build" / "collections"
# ../shared next to the repository (CP_CORPUS_DIR overrides)
CORPUS = Path(os.environ.get("CP_CORPUS_DIR") or ROOT.parent / "shared" / "corpus")
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


def request_totals(metrics_text: str, verbs=WRITE_VERBS) -> collections.Counter:
    """apiserver_request_total for ``verbs``: Counter keyed by (verb, resource, subresource, dry_run)."""
    out = collections.Counter()
    for labels, value in request_series(metrics_text, verbs):
        out[(labels["verb"], labels.get("resource", ""), labels.get("subresource", ""), labels.get("dry_run", ""))] \
            += value
    return out


def in_namespace(event: dict, namespace: str) -> bool:
    """Whether an audit event is about an object in ``namespace`` or about the namespace itself."""
    ref = event.get("objectRef") or {}
    return ref.get("namespace") == namespace or (ref.get("resource") == "namespaces" and ref.get("name") == namespace)


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

    def audit_writes(self, user_agent: str = USER_AGENT, namespace: str | None = None) -> list:
        """Audit events (create/update/patch/delete) by our client since start(): (verb, uri); with
        ``namespace``, only those in that namespace or on the namespace itself (other tests running at
        the same time write elsewhere)."""
        events = []
        with contextlib.suppress(FileNotFoundError), open(self._audit_path(), encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                if index < self._audit_lines:
                    continue
                with contextlib.suppress(ValueError):
                    event = json.loads(line)
                    if str(event.get("userAgent", "")).startswith(user_agent) and (
                            namespace is None or in_namespace(event, namespace)):
                        events.append((event.get("verb"), event.get("requestURI")))
        return events


@pytest.fixture
def writes(cluster):
    return WriteMeter(cluster)


# --------------------------------------------------------------------------------------------------
# Ansible


class ModuleRunner:
    """Runs a module of the collection the way Ansible runs it on the target: its file executed by
    Python with its arguments in a JSON file (about a second each); returns the module's result."""

    PACKAGE = "ansible_collections.continuouspipe.kubernetes.plugins.modules."

    def __init__(self, cluster, workdir: Path):
        self.cluster = cluster
        self.workdir = workdir

    def start(self, module: str, args: dict, check: bool = False, diff: bool = False) -> subprocess.Popen:
        """Start the module (``result(proc)`` waits for it): for tests that look while it runs."""
        args = dict(args)
        args.setdefault("kubeconfig", self.cluster.kubeconfig)
        args.setdefault("context", self.cluster.context)
        path = self.workdir / ("args-%s.json" % uuid.uuid4().hex[:8])
        path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check, _ansible_diff=diff)}))
        env = {key: value for key, value in os.environ.items() if not key.startswith("K8S_AUTH_")}
        env["PYTHONPATH"] = str(COLLECTIONS_PATH)
        return subprocess.Popen([sys.executable, "-m", self.PACKAGE + module, str(path)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)

    @staticmethod
    def result(proc: subprocess.Popen, timeout: float = 900) -> dict:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        try:
            return json.loads(stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AssertionError("module %s printed no result (exit %s):\n%s\n%s" % (
                proc.args[2], proc.returncode, stdout[-3000:], stderr[-3000:]))

    def __call__(self, module: str, args: dict, check: bool = False, diff: bool = False) -> dict:
        return self.result(self.start(module, args, check, diff))

    def bind(self, module: str) -> "BoundModule":
        return BoundModule(self, module)


class BoundModule:
    """One module of a :class:`ModuleRunner`: ``(args, check=, diff=)``, ``start(args, ...)``, ``result(proc)``."""

    def __init__(self, runner: ModuleRunner, module: str):
        self.runner = runner
        self.module = module
        self.result = runner.result

    def start(self, args: dict, check: bool = False, diff: bool = False) -> subprocess.Popen:
        return self.runner.start(self.module, args, check, diff)

    def __call__(self, args: dict, check: bool = False, diff: bool = False) -> dict:
        return self.result(self.start(args, check, diff))


@pytest.fixture
def call(cluster, tmp_path):
    """``call(module, args, check=False, diff=False)``: the result of a module run as on the target."""
    return ModuleRunner(cluster, tmp_path)


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
