"""The API server goes away in the middle of a deploy: a clear error, then a re-run converges.

Uses a dedicated control plane ("outage") whose kube-apiserver process is really killed (SIGKILL) in
the middle of the apply phase, then started again with the same command line and port."""
from __future__ import annotations

import os
import signal
import time

import pytest
from conftest import unique_namespace
from deploy_helpers import actions, deploy, listed, service, task
from fixtures import cluster_manager

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import connection, plan, release
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.engine import DeployError


@pytest.fixture(scope="module")
def outage_cluster(request):
    (handle,) = cluster_manager(request.config).get(("outage",))
    return handle


def apiserver_pid(local) -> int:
    return local.state["processes"]["kube-apiserver"]["pid"]


def stop_apiserver(local) -> list:
    """Kill the kube-apiserver (SIGKILL: a crash, not a graceful shutdown); return its command line."""
    pid = apiserver_pid(local)
    with open("/proc/%d/cmdline" % pid, "rb") as handle:
        argv = [part.decode() for part in handle.read().split(b"\0") if part]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while os.path.exists("/proc/%d" % pid) and open("/proc/%d/stat" % pid).read().split(")")[-1].split()[0] != "Z":
        if time.monotonic() > deadline:
            raise AssertionError("kube-apiserver %d did not stop" % pid)
        time.sleep(0.1)
    return argv


def start_apiserver(local, argv) -> None:
    """Start it again with the same command line (same port, same etcd); wait for /readyz."""
    local._launch("kube-apiserver", argv)
    local._wait("kube-apiserver to be ready again", local._readyz, time.monotonic() + 120, comps=["kube-apiserver"])


class StopsMidway:
    """The real Cluster client; before its n-th server-side apply the API server process is stopped."""

    def __init__(self, client, local, after: int):
        self._client, self._local, self._after, self.applies, self.argv = client, local, after, 0, None
        self.stopped_at = None

    def __getattr__(self, name):
        return getattr(self._client, name)

    def apply(self, obj, *args, **kwargs):
        self.applies += 1
        if self.applies == self._after:
            self.argv = stop_apiserver(self._local)
            self.stopped_at = time.monotonic()
        return self._client.apply(obj, *args, **kwargs)


def environment():
    return task(*[service("svc%02d" % index, image="registry.example/s:%d" % index,
                          secret_env=[("TOKEN", "t%d" % index)]) for index in range(10)])


def test_api_server_stopped_mid_deploy_then_rerun_converges(outage_cluster, request):
    namespace = unique_namespace(request, "outage")
    client = connection.connect({"kubeconfig": outage_cluster.kubeconfig, "context": outage_cluster.context})
    flaky = StopsMidway(client, outage_cluster.local, after=12)
    try:
        with pytest.raises(DeployError) as failure:
            deploy(flaky, namespace, environment(), concurrency=1)
        elapsed = time.monotonic() - flaky.stopped_at
    finally:
        if flaky.argv:
            start_apiserver(outage_cluster.local, flaky.argv)
        client.close()
    message = str(failure.value)
    assert message.startswith("cannot reach the API server of ")
    assert "ROLLBACK FAILED" in message and "the state of these objects is unknown" in message
    assert failure.value.status == 0
    assert elapsed < 5, "the deploy took %.1fs to fail once the API server was gone" % elapsed

    kube = connection.connect({"kubeconfig": outage_cluster.kubeconfig, "context": outage_cluster.context})
    try:
        result = deploy(kube, namespace, environment())
        assert result.changed and all(w["ok"] for w in result.workloads)
        desired = set(actions(result))
        # nothing lost: every object exists; nothing orphaned: no object of the task that is not desired
        owned = set()
        for kind in ("Secret", "Service", "Deployment", "Pod", "PersistentVolumeClaim"):
            for obj in listed(kube, kind, namespace, selector="%s=app" % plan.TASK_LABEL):
                if obj["metadata"].get("ownerReferences"):
                    continue
                owned.add("%s/%s" % (kind, obj["metadata"]["name"]))
        assert owned == desired - {"Namespace/%s" % namespace}
        assert [(r.number, r.status) for r in release.list_releases(kube, namespace, "app")] == [(1, "deployed")]
        assert not deploy(kube, namespace, environment()).changed
    finally:
        kube.close()
