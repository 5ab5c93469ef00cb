"""pytest fixtures that hand tests a real Kubernetes API: ``cluster`` and ``clusters``.

    cluster           one control plane ("aws-eu"), session-scoped
    clusters          three control planes ("aws-eu", "aws-us", "gce-eu"), session-scoped; ``cluster`` is the first
    kube_namespace    a fresh namespace in ``cluster`` for one test (deleted afterwards, without waiting)

Each is a :class:`KubeCluster` with ``.name``, ``.kubeconfig`` (path), ``.context``, ``.server``, ``.tokens``
(static bearer tokens: ``admin`` in system:masters, ``limited`` with no group), ``.admin_token``,
``.api_client()``, ``.metrics()`` (apiserver_request_total for write verbs), ``.write_requests(...)``,
``.audit_events()``, ``.kubectl(...)``, ``.env()`` and ``.log_tail(component)``.

Environment:

    CP_TEST_REUSE_CLUSTERS=1   reuse clusters of those names that are already running (``make cluster-up NAME=aws-eu``)
                               under ~/.cache/continuouspipe-kubernetes/clusters; start the missing ones there.
                               Without it every session starts its own clusters in a private directory.
                               Either way a session stops exactly the clusters it started.
    CP_TEST_KUBECONFIG=PATH    use an existing cluster (kind, a cloud cluster) instead of starting any;
    CP_TEST_CONTEXT=NAME       its context for ``cluster`` (default: the current context);
    CP_TEST_CONTEXTS=a,b,c     the three contexts for ``clusters``.

A cluster that cannot start makes every test that needs it fail (error) with the components' log tails;
nothing is skipped.

Load it from a conftest.py with::

    sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))
    from fixtures import cluster, clusters, kube_namespace  # noqa: E402,F401
"""
from __future__ import annotations

import collections
import contextlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest

_HERE = Path(__file__).resolve().parent
CLUSTER_NAMES = ("aws-eu", "aws-us", "gce-eu")
# A cluster that also serves the platform APIs (tests/cluster/crds.sh): Gateway API with a shared Gateway,
# and the OpenShift Route; kwok Stages play the gateway controller and the router.
PLATFORM_CLUSTER = "ocp-eu"
CLUSTER_APIS = {PLATFORM_CLUSTER: ("gateway", "openshift")}
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY"})


def _cluster_module():
    """tests/cluster/cluster.py, imported under a name that cannot clash with anything on sys.path."""
    name = "continuouspipe_test_cluster"
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, _HERE / "cluster.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return mod


cp = _cluster_module()


class RequestKey(NamedTuple):
    """The labels of one apiserver_request_total series."""
    verb: str
    group: str
    version: str
    resource: str
    subresource: str
    scope: str
    code: str


_LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def request_series(metrics_text: str, verbs=WRITE_VERBS):
    """(labels, value) of each apiserver_request_total series whose verb is one of ``verbs``."""
    for line in metrics_text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels_part, _sep, value = line.rpartition("} ")
        labels = dict(_LABEL_RE.findall(labels_part))
        if labels.get("verb") in verbs:
            yield labels, int(float(value))


def parse_write_requests(metrics_text: str) -> collections.Counter:
    """apiserver_request_total series with a write verb, as a Counter keyed by :class:`RequestKey`."""
    out: collections.Counter = collections.Counter()
    for labels, value in request_series(metrics_text):
        out[RequestKey(**{f: labels.get(f, "") for f in RequestKey._fields})] += value
    return out


@dataclass
class KubeCluster:
    name: str
    kubeconfig: str
    context: str
    server: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    local: Any = None  # the cluster.Cluster for a local control plane; None for an external cluster
    started_here: bool = False

    @property
    def external(self) -> bool:
        return self.local is None

    @property
    def admin_token(self) -> str | None:
        return self.tokens.get("admin")

    def env(self) -> dict[str, str]:
        """Variables that point kubectl and kubernetes.core modules at this cluster."""
        return {"KUBECONFIG": self.kubeconfig, "K8S_AUTH_KUBECONFIG": self.kubeconfig,
                "K8S_AUTH_CONTEXT": self.context}

    def api_client(self, user: str | None = None):
        """A kubernetes.client.ApiClient as the kubeconfig's admin, or as static-token ``user`` (local only)."""
        from kubernetes import client, config

        if user is None:
            return config.new_client_from_config(config_file=self.kubeconfig, context=self.context)
        conf = client.Configuration()
        conf.host = self.server
        conf.ssl_ca_cert = str(self.local.pki / "ca.crt")
        conf.api_key = {"authorization": self.tokens[user]}
        conf.api_key_prefix = {"authorization": "Bearer"}
        return client.ApiClient(conf)

    def get_raw(self, path: str) -> str:
        """GET a non-resource path (``/metrics``, ``/readyz``) with the admin credentials."""
        if self.local is not None:
            status, body = self.local.api("GET", path, timeout=30)
            if status != 200:
                raise RuntimeError(f"{self.name}: GET {path}: HTTP {status}: {body}")
            return body if isinstance(body, str) else json.dumps(body)
        with self.api_client() as api:
            resp = api.call_api(*api.param_serialize("GET", path, auth_settings=["BearerToken"]))
            resp.read()
            if resp.status != 200:
                raise RuntimeError(f"{self.name}: GET {path}: HTTP {resp.status}")
            return resp.data.decode()

    def metrics(self) -> collections.Counter:
        """Write requests the apiserver has served so far (Counter of RequestKey -> count).

        The counters include the control plane's own writes (controllers, scheduler, kwok); compare
        snapshots with ``after - before`` and filter on resource/subresource.  For per-user counts
        see :meth:`audit_events`.
        """
        return parse_write_requests(self.get_raw("/metrics"))

    def write_requests(self, *, verb: str | None = None, group: str | None = None, resource: str | None = None,
                       subresource: str | None = None, code_prefix: str | None = None) -> int:
        """Sum of :meth:`metrics` over the series matching every filter given."""
        total = 0
        for key, n in self.metrics().items():
            if ((verb is None or key.verb == verb) and (group is None or key.group == group)
                    and (resource is None or key.resource == resource)
                    and (subresource is None or key.subresource == subresource)
                    and (code_prefix is None or key.code.startswith(code_prefix))):
                total += n
        return total

    def audit_events(self, user: str | None = None) -> list[dict]:
        """Write requests by clients other than the control plane itself (audit level Metadata; local only)."""
        if self.local is None:
            raise RuntimeError("audit events are only recorded for local clusters")
        events = []
        with contextlib.suppress(FileNotFoundError), open(self.local.logs / "audit.log", encoding="utf-8") as f:
            for line in f:
                with contextlib.suppress(ValueError):
                    ev = json.loads(line)
                    if user is None or ev.get("user", {}).get("username") == user:
                        events.append(ev)
        return events

    def kubectl_path(self) -> str:
        if self.local is not None:
            return str(Path(self.local.state["bin"]) / "kubectl")
        return shutil.which("kubectl") or str(cp.bin_dir() / "kubectl")

    def kubectl(self, *args: str, check: bool = True, input: str | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [self.kubectl_path(), "--kubeconfig", self.kubeconfig, "--context", self.context, *args]
        res = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False)
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        return res

    def log_tail(self, component: str, lines: int = 40) -> str:
        if self.local is None:
            return "(external cluster: no local logs)"
        return cp._tail(self.local.log_path(component), lines)


def _from_local(c, started: bool) -> KubeCluster:
    return KubeCluster(name=c.name, kubeconfig=str(c.kubeconfig), context=c.context, server=c.server,
                       tokens=c.tokens, local=c, started_here=started)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ClusterManager:
    """Starts clusters on first use (in parallel), hands out handles, stops what it started."""

    def __init__(self) -> None:
        self.reuse = os.environ.get("CP_TEST_REUSE_CLUSTERS") == "1"
        self.external = os.environ.get("CP_TEST_KUBECONFIG")
        self._lock = threading.Lock()
        self._handles: dict[str, KubeCluster] = {}
        self._errors: dict[str, str] = {}
        base = cp.clusters_dir()
        if self.reuse or self.external:
            self.root = base
            self.private = False
        else:
            self._remove_stale_private_roots(base)
            self.root = base / f".pytest-{os.getpid()}"
            self.private = True

    @staticmethod
    def _remove_stale_private_roots(base: Path) -> None:
        for d in base.glob(".pytest-*"):
            with contextlib.suppress(ValueError):
                if _pid_alive(int(d.name.split("-", 1)[1])):
                    continue
            for c in cp.list_clusters(d):
                c.stop()
            shutil.rmtree(d, ignore_errors=True)

    def _external(self, names: tuple[str, ...]) -> list[KubeCluster]:
        path = str(Path(self.external).expanduser().resolve())
        if len(names) == 1:
            ctx = os.environ.get("CP_TEST_CONTEXT") or _current_context(path)
            return [KubeCluster(name=ctx, kubeconfig=path, context=ctx)]
        contexts = [c for c in os.environ.get("CP_TEST_CONTEXTS", "").split(",") if c]
        if len(contexts) < len(names):
            pytest.fail(f"CP_TEST_KUBECONFIG is set: this test needs {len(names)} clusters, so set "
                        f"CP_TEST_CONTEXTS to {len(names)} comma-separated contexts of {path}", pytrace=False)
        return [KubeCluster(name=ctx, kubeconfig=path, context=ctx) for ctx in contexts[:len(names)]]

    def get(self, names: tuple[str, ...]) -> list[KubeCluster]:
        if self.external:
            return self._external(names)
        with self._lock:
            missing = [n for n in names if n not in self._handles and n not in self._errors]
            threads = [threading.Thread(target=self._start, args=(n,), name=f"start-{n}") for n in missing]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            failed = [n for n in names if n in self._errors]
            if failed:
                pytest.fail("\n\n".join(f"local cluster {n!r} could not start:\n{self._errors[n]}" for n in failed),
                            pytrace=False)
            return [self._handles[n] for n in names]

    def _start(self, name: str) -> None:
        c = cp.Cluster(name, root=self.root, apis=CLUSTER_APIS.get(name, ()))
        try:
            c.start()
        except Exception as e:  # noqa: BLE001 - reported to every test that needs this cluster
            self._errors[name] = str(e)
            return
        self._handles[name] = _from_local(c, started=not c.state.get("reused"))

    def close(self) -> None:
        started = [h.local for h in self._handles.values() if h.started_here]
        threads = [threading.Thread(target=c.stop) for c in started]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self.private:
            for c in cp.list_clusters(self.root) if self.root.exists() else []:
                c.stop()  # e.g. one that failed to start and kept its logs
            shutil.rmtree(self.root, ignore_errors=True)


def _current_context(kubeconfig: str) -> str:
    import yaml

    with open(kubeconfig, encoding="utf-8") as f:
        ctx = (yaml.safe_load(f) or {}).get("current-context")
    if not ctx:
        pytest.fail(f"{kubeconfig} has no current-context; set CP_TEST_CONTEXT", pytrace=False)
    return ctx


def cluster_manager(config: pytest.Config) -> ClusterManager:
    """The session's manager (one per pytest process, however many conftests import these fixtures)."""
    mgr = getattr(config, "_continuouspipe_cluster_manager", None)
    if mgr is None:
        mgr = ClusterManager()
        config._continuouspipe_cluster_manager = mgr
        config.add_cleanup(mgr.close)
    return mgr


@pytest.fixture(scope="session")
def clusters(request: pytest.FixtureRequest) -> list[KubeCluster]:
    """Three clusters side by side: aws-eu, aws-us, gce-eu."""
    return cluster_manager(request.config).get(CLUSTER_NAMES)


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> KubeCluster:
    """One cluster (aws-eu, the first of ``clusters``)."""
    return cluster_manager(request.config).get(CLUSTER_NAMES[:1])[0]


@pytest.fixture(scope="session")
def platform_cluster(request: pytest.FixtureRequest) -> KubeCluster:
    """One cluster (ocp-eu) that serves the Gateway API and OpenShift Route CRDs besides Kubernetes' own.

    With ``CP_TEST_KUBECONFIG`` it is the context ``CP_TEST_PLATFORM_CONTEXT`` of that file."""
    mgr = cluster_manager(request.config)
    if mgr.external:
        context = os.environ.get("CP_TEST_PLATFORM_CONTEXT")
        if not context:
            pytest.fail("CP_TEST_KUBECONFIG is set: this test needs a cluster serving the Gateway API and "
                        "OpenShift Routes; set CP_TEST_PLATFORM_CONTEXT", pytrace=False)
        path = str(Path(mgr.external).expanduser().resolve())
        return KubeCluster(name=context, kubeconfig=path, context=context)
    return mgr.get((PLATFORM_CLUSTER,))[0]


@pytest.fixture
def kube_namespace(cluster: KubeCluster, request: pytest.FixtureRequest):
    """A new namespace in ``cluster`` named after the test; deleted (without waiting) afterwards."""
    from kubernetes import client

    stem = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{stem}-{uuid.uuid4().hex[:6]}"
    with cluster.api_client() as api:
        client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        yield name
        with contextlib.suppress(client.ApiException):
            client.CoreV1Api(api).delete_namespace(name)
