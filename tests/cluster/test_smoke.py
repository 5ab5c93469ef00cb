"""Smoke tests of the local control plane: real apiserver, controllers and scheduler; kwok plays the kubelets.

Everything goes through the official ``kubernetes`` client (plus the built kubectl for ``rollout undo``).
"""
from __future__ import annotations

import ipaddress
import os
import time
import uuid

import pytest
from kubernetes import client

# These check the local control plane itself (kwok stages, the PV pool, the LB stand-in); a real cluster
# named by CP_TEST_KUBECONFIG has none of them.
pytestmark = pytest.mark.skipif(bool(os.environ.get("CP_TEST_KUBECONFIG")),
                                reason="smoke tests of the local control plane; CP_TEST_KUBECONFIG is set")


def wait_for(pred, *, timeout: float = 90, interval: float = 0.2, what: str = "condition"):
    """Poll ``pred`` until it returns something truthy; fail with its last value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        time.sleep(interval)


@pytest.fixture
def api(cluster):
    with cluster.api_client() as a:
        yield a


def core(api):
    return client.CoreV1Api(api)


def apps(api):
    return client.AppsV1Api(api)


def _pod(name: str, *, labels=None, annotations=None, restart_policy="Always", volumes=None) -> dict:
    spec = {"restartPolicy": restart_policy, "containers": [{"name": "app", "image": "registry.example/app:1"}]}
    if volumes:
        spec["volumes"] = [{"name": v, "persistentVolumeClaim": {"claimName": c}} for v, c in volumes.items()]
        spec["containers"][0]["volumeMounts"] = [{"name": v, "mountPath": f"/{v}"} for v in volumes]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}}, "spec": spec}


def _deployment(name: str, replicas: int = 3, deadline: int = 600) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "progressDeadlineSeconds": deadline,
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                 "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}}}}


def _condition(obj, type_: str):
    return next((c for c in (obj.status.conditions or []) if c.type == type_), None)


def _rollout_complete(api, ns: str, name: str, replicas: int = 3):
    d = apps(api).read_namespaced_deployment(name, ns)
    s = d.status
    progressing = _condition(d, "Progressing")
    done = (s.observed_generation or 0) >= d.metadata.generation and s.updated_replicas == replicas \
        and s.available_replicas == replicas and s.replicas == replicas \
        and progressing is not None and progressing.reason == "NewReplicaSetAvailable"
    return d if done else None


def _replica_sets(api, ns: str, app: str):
    return apps(api).list_namespaced_replica_set(ns, label_selector=f"app={app}").items


# ------------------------------------------------------------------------------------------------


def test_two_nodes_ready(cluster, api):
    nodes = core(api).list_node().items
    assert len(nodes) == 2
    for n in nodes:
        assert _condition(n, "Ready").status == "True", n.status.conditions
        assert not [t for t in (n.spec.taints or []) if t.key.startswith("node.kubernetes.io/")]
        assert ipaddress.ip_address(n.status.addresses[0].address).is_loopback
    assert core(api).read_namespaced_service_account("default", "default")


def test_rolling_update_deadline_and_rollback(cluster, api, kube_namespace):
    ns = kube_namespace
    apps(api).create_namespaced_deployment(ns, _deployment("web", deadline=6))
    wait_for(lambda: _rollout_complete(api, ns, "web"), what="3 replicas available")
    first_rs = _replica_sets(api, ns, "web")
    assert len(first_rs) == 1

    # A template change is a real rolling update: a second ReplicaSet takes over, the first is scaled to 0.
    apps(api).patch_namespaced_deployment("web", ns, {"spec": {"template": {"metadata": {
        "annotations": {"example.test/revision": "2"}}}}})
    wait_for(lambda: _rollout_complete(api, ns, "web"), what="rolling update to revision 2")
    rs = {r.metadata.name: r for r in _replica_sets(api, ns, "web")}
    assert len(rs) == 2
    assert rs[first_rs[0].metadata.name].spec.replicas == 0
    assert sorted(r.status.ready_replicas or 0 for r in rs.values()) == [0, 3]

    # Pods that never become Ready stall the rollout until the progress deadline passes.
    apps(api).patch_namespaced_deployment("web", ns, {"spec": {"template": {"metadata": {
        "labels": {"kwok-test/behavior": "never-ready"}, "annotations": {"example.test/revision": "3"}}}}})

    def deadline_exceeded():
        d = apps(api).read_namespaced_deployment("web", ns)
        c = _condition(d, "Progressing")
        return d if c is not None and c.status == "False" and c.reason == "ProgressDeadlineExceeded" else None

    stalled = wait_for(deadline_exceeded, what="ProgressDeadlineExceeded")
    assert stalled.status.available_replicas == 3  # maxUnavailable 0: the old pods keep serving
    assert stalled.status.updated_replicas == 1
    assert _condition(stalled, "Available").status == "True"

    # Rollback, as `kubectl rollout undo` does it, recovers.
    cluster.kubectl("-n", ns, "rollout", "undo", "deployment/web")
    recovered = wait_for(lambda: _rollout_complete(api, ns, "web"), what="rollback to revision 2")
    assert "kwok-test/behavior" not in recovered.spec.template.metadata.labels
    wait_for(lambda: not core(api).list_namespaced_pod(ns, label_selector="kwok-test/behavior").items,
             what="the never-ready pod to go away")


def test_namespace_deletion_removes_its_objects(cluster, api):
    ns = f"doomed-{uuid.uuid4().hex[:6]}"
    core(api).create_namespace({"metadata": {"name": ns}})
    apps(api).create_namespaced_deployment(ns, _deployment("app", replicas=2))
    core(api).create_namespaced_config_map(ns, {"metadata": {"name": "cfg"}, "data": {"a": "b"}})
    core(api).create_namespaced_service(ns, {"metadata": {"name": "app"},
                                             "spec": {"selector": {"app": "app"}, "ports": [{"port": 80}]}})
    wait_for(lambda: _rollout_complete(api, ns, "app", replicas=2), what="deployment available")
    assert len(core(api).list_namespaced_pod(ns).items) == 2

    core(api).delete_namespace(ns)

    def gone():
        try:
            core(api).read_namespace(ns)
        except client.ApiException as e:
            return e.status == 404
        return False

    wait_for(gone, timeout=120, interval=0.5, what=f"namespace {ns} to be deleted")
    for kind, items in (("pods", core(api).list_pod_for_all_namespaces(field_selector=f"metadata.namespace={ns}")),
                        ("deployments", apps(api).list_deployment_for_all_namespaces(
                            field_selector=f"metadata.namespace={ns}"))):
        assert not items.items, f"{kind} left in {ns}"


def test_pod_with_pvc_binds_from_the_pool(cluster, api, kube_namespace):
    ns = kube_namespace
    core(api).create_namespaced_persistent_volume_claim(ns, {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    core(api).create_namespaced_pod(ns, _pod("db", volumes={"data": "data"}))

    def ready():
        p = core(api).read_namespaced_pod("db", ns)
        c = _condition(p, "Ready")
        return p if c is not None and c.status == "True" else None

    pod = wait_for(ready, what="pod with a PVC Ready")
    pvc = core(api).read_namespaced_persistent_volume_claim("data", ns)
    assert pvc.status.phase == "Bound"
    assert pvc.spec.storage_class_name == "standard"  # the default StorageClass
    pv = core(api).read_persistent_volume(pvc.spec.volume_name)
    assert pv.spec.claim_ref.name == "data" and pv.spec.claim_ref.namespace == ns
    assert pod.spec.node_name

    # Deleting the claim releases the volume; the pool's stand-in recycler makes it Available again.
    core(api).delete_namespaced_pod("db", ns)
    core(api).delete_namespaced_persistent_volume_claim("data", ns)

    def recycled():
        v = core(api).read_persistent_volume(pv.metadata.name)
        return v.status.phase == "Available" and v.spec.claim_ref is None

    wait_for(recycled, what=f"{pv.metadata.name} back in the pool")


def test_loadbalancer_service_and_ingress_get_addresses(cluster, api, kube_namespace):
    ns = kube_namespace
    core(api).create_namespaced_service(ns, {"metadata": {"name": "lb"}, "spec": {
        "type": "LoadBalancer", "selector": {"app": "x"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    core(api).create_namespaced_service(ns, {"metadata": {"name": "internal"}, "spec": {
        "selector": {"app": "x"}, "ports": [{"port": 80}]}})
    client.NetworkingV1Api(api).create_namespaced_ingress(ns, {"metadata": {"name": "web"}, "spec": {"rules": [{
        "host": "web.example.test", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "lb", "port": {"number": 80}}}}]}}]}})

    def svc_ip():
        lb = core(api).read_namespaced_service("lb", ns).status.load_balancer
        return lb.ingress[0].ip if lb and lb.ingress else None

    def ing_ip():
        lb = client.NetworkingV1Api(api).read_namespaced_ingress("web", ns).status.load_balancer
        return lb.ingress[0].ip if lb and lb.ingress else None

    for ip in (wait_for(svc_ip, what="LoadBalancer address"), wait_for(ing_ip, what="Ingress address")):
        assert ipaddress.ip_address(ip).is_loopback
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(cluster.local.state["lb_network"]) \
            if cluster.local else True
    ing = client.NetworkingV1Api(api).read_namespaced_ingress("web", ns)
    assert ing.spec.ingress_class_name == "standard"  # the default IngressClass
    assert not (core(api).read_namespaced_service("internal", ns).status.load_balancer.ingress or [])


def _container_status(api, ns, name):
    p = core(api).read_namespaced_pod(name, ns)
    return p, (p.status.container_statuses or [None])[0]


def test_crashloop_behavior(cluster, api, kube_namespace):
    ns = kube_namespace
    core(api).create_namespaced_pod(ns, _pod("crash", labels={"kwok-test/behavior": "crashloop"},
                                             annotations={"kwok-test/restart-interval": "1s"}))

    def restarted_twice():
        p, cs = _container_status(api, ns, "crash")
        return (p, cs) if cs and cs.state.waiting and cs.restart_count >= 3 else None

    pod, cs = wait_for(restarted_twice, what="CrashLoopBackOff with a growing restartCount")
    assert cs.state.waiting.reason == "CrashLoopBackOff"
    assert cs.last_state.terminated.exit_code == 1
    assert not cs.ready and pod.status.phase == "Running"
    assert _condition(pod, "Ready").status == "False"
    events = core(api).list_namespaced_event(ns, field_selector="involvedObject.name=crash,reason=BackOff").items
    assert events and events[0].type == "Warning"


def test_image_pull_error_behavior(cluster, api, kube_namespace):
    ns = kube_namespace
    core(api).create_namespaced_pod(ns, _pod("pull", labels={"kwok-test/behavior": "image-pull-error"}))

    def backoff():
        p, cs = _container_status(api, ns, "pull")
        return (p, cs) if cs and cs.state.waiting and cs.state.waiting.reason == "ImagePullBackOff" else None

    pod, cs = wait_for(backoff, what="ImagePullBackOff")
    assert pod.status.phase == "Pending" and cs.restart_count == 0 and not cs.ready
    reasons = {(e.type, e.reason) for e in core(api).list_namespaced_event(
        ns, field_selector="involvedObject.name=pull").items}
    assert ("Warning", "Failed") in reasons


def test_bare_pods_and_jobs_complete_or_fail(cluster, api, kube_namespace):
    ns = kube_namespace
    core(api).create_namespaced_pod(ns, _pod("ok", restart_policy="Never"))
    core(api).create_namespaced_pod(ns, _pod("bad", restart_policy="Never", labels={"kwok-test/behavior": "fail"},
                                             annotations={"kwok-test/exit-code": "3"}))
    client.BatchV1Api(api).create_namespaced_job(ns, {"metadata": {"name": "once"}, "spec": {"template": {
        "spec": {"restartPolicy": "Never", "containers": [{"name": "app", "image": "registry.example/job:1"}]}}}})

    def phase(name, want):
        p, cs = _container_status(api, ns, name)
        return (p, cs) if p.status.phase == want else None

    ok = wait_for(lambda: phase("ok", "Succeeded"), what="bare pod Succeeded")[1]
    assert ok.state.terminated.exit_code == 0
    bad = wait_for(lambda: phase("bad", "Failed"), what="failing pod Failed")[1]
    assert bad.state.terminated.exit_code == 3

    def job_complete():
        j = client.BatchV1Api(api).read_namespaced_job("once", ns)
        return j if j.status.succeeded == 1 and _condition(j, "Complete") else None

    wait_for(job_complete, what="Job Complete")


def test_slow_readiness(cluster, api, kube_namespace):
    ns = kube_namespace
    core(api).create_namespaced_pod(ns, _pod("slow", annotations={"kwok-test/ready-after": "3s"}))

    def state():
        p = core(api).read_namespaced_pod("slow", ns)
        c = _condition(p, "Ready")
        return p.status.phase, (c.status if c else None)

    wait_for(lambda: state() == ("Running", "False"), what="Running but not Ready")
    wait_for(lambda: state() == ("Running", "True"), timeout=60, what="Ready after 3s")
    pod = core(api).read_namespaced_pod("slow", ns)
    ready_at = _condition(pod, "Ready").last_transition_time
    assert (ready_at - pod.status.start_time).total_seconds() >= 2  # timestamps have 1 s resolution


def test_metrics_audit_and_rbac(cluster, api, kube_namespace):
    ns = kube_namespace
    before = cluster.write_requests(verb="POST", resource="podtemplates")
    core(api).create_namespaced_pod_template(ns, {"metadata": {"name": "tpl"}, "template": {"spec": {
        "containers": [{"name": "app", "image": "registry.example/app:1"}]}}})
    assert cluster.write_requests(verb="POST", resource="podtemplates") == before + 1
    if cluster.local is not None:
        mine = [e for e in cluster.audit_events(user="kubernetes-admin")
                if e["objectRef"].get("resource") == "podtemplates" and e["objectRef"].get("namespace") == ns]
        assert [e["verb"] for e in mine] == ["create"]

        # `limited` (a static token without groups) can do nothing until RBAC says so.
        with cluster.api_client("limited") as lim:
            with pytest.raises(client.ApiException) as exc:
                core(lim).list_namespaced_pod(ns)
            assert exc.value.status == 403
            rbac = client.RbacAuthorizationV1Api(api)
            rbac.create_namespaced_role(ns, {"metadata": {"name": "pod-reader"}, "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})
            rbac.create_namespaced_role_binding(ns, {"metadata": {"name": "limited-reads-pods"},
                                                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                                                 "kind": "Role", "name": "pod-reader"},
                                                     "subjects": [{"kind": "User", "name": "limited",
                                                                   "apiGroup": "rbac.authorization.k8s.io"}]})

            def can_list():
                try:
                    return core(lim).list_namespaced_pod(ns) is not None
                except client.ApiException:
                    return False

            wait_for(can_list, what="RBAC grant to take effect")


def test_three_clusters_side_by_side(clusters):
    assert [c.name for c in clusters] == ["aws-eu", "aws-us", "gce-eu"]
    assert len({c.server for c in clusters}) == 3
    for c in clusters:
        with c.api_client() as a:
            nodes = core(a).list_node().items
            assert {n.metadata.name for n in nodes} == {f"{c.name}-node-0", f"{c.name}-node-1"}
            assert all(_condition(n, "Ready").status == "True" for n in nodes)
            name = f"whoami-{uuid.uuid4().hex[:6]}"
            core(a).create_namespaced_config_map("default", {"metadata": {"name": name}, "data": {"c": c.name}})
            assert core(a).read_namespaced_config_map(name, "default").data == {"c": c.name}
            core(a).delete_namespaced_config_map(name, "default")
    if all(c.local is not None for c in clusters):
        assert len({c.local.state["lb_network"] for c in clusters}) == 3


def test_apiserver_never_dials_the_fake_addresses(cluster, api, kube_namespace):
    """Logs, exec and the pod/service proxy would reach kwok's made-up node and pod IPs: they fail locally."""
    ns = kube_namespace
    core(api).create_namespaced_pod(ns, _pod("web", labels={"app": "web"}))
    core(api).create_namespaced_service(ns, {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"port": 80}]}})
    wait_for(lambda: core(api).read_namespaced_pod("web", ns).status.phase == "Running", what="pod Running")
    for args in (("logs", "web"), ("get", "--raw", f"/api/v1/namespaces/{ns}/pods/web/proxy/"),
                 ("get", "--raw", f"/api/v1/namespaces/{ns}/services/web/proxy/")):
        res = cluster.kubectl("-n", ns, *args, check=False)
        assert res.returncode != 0
        assert "no-egress.sock" in res.stderr, res.stderr
