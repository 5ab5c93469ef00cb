"""The API server goes away, freezes or throttles in the middle of a deploy: a clear error, then a
re-run converges and the release history says what runs.

Uses a dedicated control plane ("outage") whose kube-apiserver process is really killed (SIGKILL) or
frozen (SIGSTOP) in the middle of a deploy, then started again with the same command line and port,
and whose API Priority and Fairness is configured to reject the deployer's requests with 429."""
from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
from conftest import unique_namespace
from deploy_helpers import actions, deploy, listed, service, task, wait_for
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
    # a refused connection is retried with backoff (an API server restarting comes back within
    # seconds); a gone one fails the deploy and its rollback after a few bounded retries each
    assert elapsed < 30, "the deploy took %.1fs to fail once the API server was gone" % elapsed

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


def images_running(kube, namespace) -> dict:
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
            for d in listed(kube, "Deployment", namespace)}


def images_recorded(kube, namespace) -> dict:
    infos = release.list_releases(kube, namespace, "app")
    current = release.current_release(None, namespace, "app", infos)
    recorded = release.read_release(kube, namespace, "app", current.number)
    return {o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]["image"]
            for o in recorded.objects if o["kind"] == "Deployment"}


def versioned(version: int):
    return task(*[service("svc%d" % index, image="registry.example/s%d:%d" % (index, version),
                          secret_env=[("TOKEN", "t%d-%d" % (index, version))]) for index in range(4)])


@pytest.mark.parametrize("round_,after", list(enumerate((2, 3, 4, 6, 9))))
def test_api_server_killed_after_a_write_then_rerun_records_what_runs(outage_cluster, request, round_, after):
    """An existing environment, a new release, the API server killed after the pending record and
    ``after - 1`` object writes: the history keeps release N pending; the rerun completes it (or, if
    what it deploys differs, replaces it) and records it, and the history matches what runs."""
    namespace = unique_namespace(request, "killed%d" % round_)
    kube = connection.connect({"kubeconfig": outage_cluster.kubeconfig, "context": outage_cluster.context})
    try:
        deploy(kube, namespace, versioned(1), concurrency=1)
        flaky = StopsMidway(connection.connect({"kubeconfig": outage_cluster.kubeconfig,
                                                "context": outage_cluster.context}), outage_cluster.local, after)
        try:
            with pytest.raises(DeployError):
                deploy(flaky, namespace, versioned(2), concurrency=1)
        finally:
            if flaky.argv:
                start_apiserver(outage_cluster.local, flaky.argv)
            flaky._client.close()
        assert [(r.number, r.status) for r in release.list_releases(kube, namespace, "app")] == [
            (1, "deployed"), (2, "pending")]
        result = deploy(kube, namespace, versioned(2))
        assert result.changed and result.release == 2
        assert any("release 2 of task app" in w and "was interrupted" in w for w in result.warnings), result.warnings
        assert [(r.number, r.status) for r in release.list_releases(kube, namespace, "app")] == [
            (1, "superseded"), (2, "deployed")]
        assert images_running(kube, namespace) == images_recorded(kube, namespace) == {
            "svc%d" % index: "registry.example/s%d:2" % index for index in range(4)}
        again = deploy(kube, namespace, versioned(2))
        assert not again.changed and not again.warnings
    finally:
        kube.close()


PRIORITY_LEVEL = {
    "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
    "metadata": {"name": "cp-test-tiny"},
    "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 1, "lendablePercent": 0,
                                            "limitResponse": {"type": "Reject"}}},
}
FLOW_SCHEMA = {
    "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema", "metadata": {"name": "cp-test-limited"},
    "spec": {"priorityLevelConfiguration": {"name": "cp-test-tiny"}, "matchingPrecedence": 100,
             "distinguisherMethod": {"type": "ByUser"},
             "rules": [{"subjects": [{"kind": "User", "user": {"name": "limited"}}],
                        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                           "namespaces": ["*"], "clusterScope": True}],
                        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}]},
}


def rejected_total(cluster) -> float:
    total = 0.0
    for line in cluster.get_raw("/metrics").splitlines():
        if line.startswith("apiserver_flowcontrol_rejected_requests_total{") and 'priority_level="cp-test-tiny"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_throttled_deploy_succeeds(outage_cluster, request):
    """API Priority and Fairness gives the deployer a concurrency of a few seats and rejects the rest
    with 429: every rejected request is tried again after a backoff, and the deploy succeeds."""
    from conftest import connect_as

    namespace = unique_namespace(request, "throttled")
    outage_cluster.kubectl("create", "clusterrolebinding", "cp-test-limited-admin", "--clusterrole=cluster-admin",
                           "--user=limited")
    levels = {"apiVersion": "v1", "kind": "List", "items": [PRIORITY_LEVEL, FLOW_SCHEMA]}
    outage_cluster.kubectl("apply", "-f", "-", input=json.dumps(levels))
    limited = connect_as(outage_cluster, "limited")
    try:
        before = rejected_total(outage_cluster)
        services = [service("svc%02d" % index, image="registry.example/s:%d" % index,
                            secret_env=[("TOKEN", "t%d" % index)]) for index in range(30)]
        result = deploy(limited, namespace, task(*services), concurrency=16)
        assert result.changed and all(w["ok"] for w in result.workloads)
        rejected = rejected_total(outage_cluster) - before
        throttled = [entry for entry in limited.retries if entry[2] == "HTTP 429"]
        assert rejected > 0 and throttled, (rejected, limited.retries[:5])
        print("\nthrottled deploy: %d requests rejected with 429 by the API server, %d retried by the client, "
              "%d services deployed" % (rejected, len(throttled), len(services)))
        assert not deploy(limited, namespace, task(*services)).changed
    finally:
        limited.close()
        outage_cluster.kubectl("delete", "flowschema", "cp-test-limited", "--ignore-not-found")
        outage_cluster.kubectl("delete", "prioritylevelconfiguration", "cp-test-tiny", "--ignore-not-found")
        outage_cluster.kubectl("delete", "clusterrolebinding", "cp-test-limited-admin", "--ignore-not-found")


def test_frozen_api_server_is_reported_as_unresponsive(outage_cluster, request):
    """SIGSTOP of the kube-apiserver while the deploy waits for its rollouts: the error says the API
    server is unresponsive (never that a workload timed out), the release stays pending, and once the
    API server is back a rerun completes it."""
    namespace = unique_namespace(request, "frozen")
    kube = connection.connect({"kubeconfig": outage_cluster.kubeconfig, "context": outage_cluster.context})
    frozen = connection.connect({"kubeconfig": outage_cluster.kubeconfig, "context": outage_cluster.context})
    frozen.request_timeout = (2.0, 3.0)
    frozen.retry_policy = connection.RetryPolicy(attempts=4, budget=10.0)
    pid = apiserver_pid(outage_cluster.local)
    stopped = threading.Event()

    def freeze_once_release_2_is_applied():
        wait_for(lambda: any(image.endswith(":2") for image in images_running(kube, namespace).values()),
                 timeout=120, interval=0.05, what="a Deployment of release 2")
        os.kill(pid, signal.SIGSTOP)
        stopped.set()
    freezer = threading.Thread(target=freeze_once_release_2_is_applied, daemon=True)
    try:
        deploy(kube, namespace, versioned(1))
        freezer.start()
        started = time.monotonic()
        with pytest.raises(DeployError) as failure:
            # the workloads' timeout is short: were the frozen time charged to them, they would "time out"
            deploy(frozen, namespace, versioned(2), wait_timeout=20)
        elapsed = time.monotonic() - started
    finally:
        freezer.join(130)
        if stopped.is_set():
            os.kill(pid, signal.SIGCONT)
    message = str(failure.value)
    assert stopped.is_set() and failure.value.status == 0, message
    assert "is unresponsive" in message and "got no answer after" in message, message
    assert "timed out after" not in message and "Timeout" not in message, message
    assert "release 2 stays pending" in message, message
    assert elapsed < 60, elapsed
    print("\nfrozen API server: the deploy failed as unresponsive %.1fs after it started" % elapsed)
    try:
        wait_for(lambda: kube.get(kube.resource("v1", "Namespace"), namespace), timeout=60, what="the API server")
        result = deploy(kube, namespace, versioned(2))
        assert result.release == 2 and any("was interrupted" in w for w in result.warnings)
        assert images_running(kube, namespace) == images_recorded(kube, namespace)
    finally:
        kube.close()
        frozen.close()
