"""Failing rollouts (kwok behaviours), fail fast, rollback modes, and the locked / reset / attached
strategies, against a real control plane."""
from __future__ import annotations

import pytest
from deploy_helpers import actions, chain, deploy, listed, live, pod_label, service, settle, task, timed, wait_for

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import release
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.engine import DeployError

BEHAVIOR = "kwok-test/behavior"
# Fail fast means: seconds, not the timeout (1800 s by ContinuousPipe's formula; 600 s here).
FAST = 20


def v1():
    return task(service("web", image="registry.example/web:1", env=[("VERSION", "1")]),
                service("db", image="registry.example/db:1", ports=(5432,)))


def v2(**web):
    """v1 with a new web image and an extra service (whose objects the rollback must remove)."""
    return task(service("web", image="registry.example/web:2", env=[("VERSION", "2")], **web),
                service("db", image="registry.example/db:1", ports=(5432,)),
                service("cache", image="registry.example/cache:1", ports=(6379,)))


def template(kube, namespace, name="web"):
    deployment = live(kube, "Deployment", name, namespace)
    spec = deployment["spec"]["template"]
    return {"containers": spec["spec"]["containers"], "labels": spec["metadata"].get("labels")}


def assert_rolled_back_to_v1(kube, namespace, before, error):
    assert error.result.rolled_back and error.result.rolled_back_to == 1
    assert "rolled back to release 1" in str(error)
    assert template(kube, namespace) == before
    deployment = live(kube, "Deployment", "web", namespace)
    assert deployment["status"].get("availableReplicas") == 1 and deployment["status"].get("updatedReplicas") == 1
    # objects created by the failed deploy are gone
    assert live(kube, "Deployment", "cache", namespace) is None
    assert live(kube, "Service", "cache", namespace) is None
    infos = release.list_releases(kube, namespace, "app")
    assert [(r.number, r.status) for r in infos] == [(1, "deployed"), (2, "failed")]
    assert release.current_release(kube, namespace, "app").number == 1


@pytest.mark.parametrize("behavior,reason", [
    ("crashloop", "CrashLoopBackOff"),
    ("image-pull-error", "ErrImagePull"),
])
def test_failing_rollout_fails_fast_and_rolls_back_to_the_previous_release(kube, env_namespace, behavior, reason):
    deploy(kube, env_namespace, v1())
    before = template(kube, env_namespace)
    error, seconds = timed(deploy, kube, env_namespace, v2(), wait_timeout=600,
                           object_hook=pod_label("web", BEHAVIOR, behavior))
    assert isinstance(error, DeployError), error
    assert seconds < FAST, "took %.1fs: not failing fast" % seconds
    message = str(error)
    assert "Deployment/web failed" in message and reason in message.split("Deployment/web failed")[1][:200] or \
        reason in message
    assert "event " in message  # the failing pods' recent events are in the error
    assert_rolled_back_to_v1(kube, env_namespace, before, error)


def test_progress_deadline_exceeded_fails_fast(kube, env_namespace):
    deploy(kube, env_namespace, v1())
    before = template(kube, env_namespace)

    def deadline(obj):
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "web":
            obj["spec"]["progressDeadlineSeconds"] = 2
        return obj

    error, seconds = timed(deploy, kube, env_namespace, v2(), wait_timeout=600,
                           object_hook=chain(deadline, pod_label("web", BEHAVIOR, "never-ready")))
    assert isinstance(error, DeployError), error
    assert "ProgressDeadlineExceeded" in str(error)
    assert seconds < FAST
    assert error.result.rolled_back
    assert template(kube, env_namespace)["containers"] == before["containers"]


def test_never_ready_times_out_at_the_wait_timeout(kube, env_namespace):
    deploy(kube, env_namespace, v1())
    before = template(kube, env_namespace)
    error, seconds = timed(deploy, kube, env_namespace, v2(), wait_timeout=5,
                           object_hook=pod_label("web", BEHAVIOR, "never-ready"))
    assert isinstance(error, DeployError), error
    assert "Timeout" in str(error) and "timed out after 5s" in str(error)
    assert "ContainersNotReady" in str(error)
    assert 5 <= seconds < 5 + FAST
    assert_rolled_back_to_v1(kube, env_namespace, before, error)


def test_unschedulable_pod_fails_after_a_short_grace(kube, env_namespace):
    deploy(kube, env_namespace, v1())
    huge = model.Resources(requests={"cpu": "500", "memory": "64Mi"})
    error, seconds = timed(deploy, kube, env_namespace, v2(resources=huge), wait_timeout=600, unschedulable_grace=2)
    assert isinstance(error, DeployError), error
    assert "Unschedulable" in str(error) and "Insufficient cpu" in str(error)
    assert seconds < FAST
    assert error.result.rolled_back


def test_first_deploy_failing_removes_what_it_created(kube, env_namespace):
    failing = task(service("web", image="registry.example/web:1",
                           volumes=(model.Volume("uploads", capacity="1Gi"),),
                           volume_mounts=(model.VolumeMount("uploads", "/uploads"),)),
                   service("db", image="registry.example/db:1", ports=(5432,)))
    error, seconds = timed(deploy, kube, env_namespace, failing, object_hook=pod_label("web", BEHAVIOR, "crashloop"))
    assert isinstance(error, DeployError), error
    assert seconds < FAST
    assert "there was no previous release" in str(error)
    assert live(kube, "Deployment", "web", env_namespace) is None
    assert live(kube, "Deployment", "db", env_namespace) is None
    assert live(kube, "Service", "db", env_namespace) is None
    # never deleted by a rollback: claims and the namespace
    assert live(kube, "PersistentVolumeClaim", "uploads", env_namespace) is not None
    assert live(kube, "Namespace", env_namespace, None) is not None
    assert [(r.number, r.status) for r in release.list_releases(kube, env_namespace, "app")] == [(1, "failed")]


def test_rollback_revision_is_continuouspipe_behaviour(kube, env_namespace):
    deploy(kube, env_namespace, v1())
    before = template(kube, env_namespace)
    error, seconds = timed(deploy, kube, env_namespace, v2(), rollback="revision",
                           object_hook=pod_label("web", BEHAVIOR, "crashloop"))
    assert isinstance(error, DeployError), error
    assert "rolled back one revision" in str(error)
    web = live(kube, "Deployment", "web", env_namespace)
    assert web["spec"]["template"]["spec"]["containers"] == before["containers"]
    assert web["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    # the Service of the created component is deleted, its Deployment left in place (as ContinuousPipe did)
    assert live(kube, "Service", "cache", env_namespace) is None
    assert live(kube, "Deployment", "cache", env_namespace) is not None


def test_rollback_none_leaves_the_environment_half_deployed(kube, env_namespace):
    deploy(kube, env_namespace, v1())
    error, _seconds = timed(deploy, kube, env_namespace, v2(), rollback="none",
                            object_hook=pod_label("web", BEHAVIOR, "crashloop"))
    assert isinstance(error, DeployError)
    assert "half-deployed" in str(error) and "Deployment/web" in str(error) and "Deployment/cache" in str(error)
    assert not error.result.rolled_back
    assert template(kube, env_namespace)["containers"][0]["image"] == "registry.example/web:2"


def test_a_second_bad_deploy_rolls_back_to_the_last_good_release(kube, env_namespace):
    deploy(kube, env_namespace, v1())
    before = template(kube, env_namespace)
    for _attempt in range(2):
        error, _seconds = timed(deploy, kube, env_namespace, v2(), object_hook=pod_label("web", BEHAVIOR, "crashloop"))
        assert isinstance(error, DeployError) and error.result.rolled_back_to == 1
    assert template(kube, env_namespace) == before
    assert [(r.number, r.status) for r in release.list_releases(kube, env_namespace, "app")] == \
        [(1, "deployed"), (2, "failed"), (3, "failed")]


# --------------------------------------------------------------------------------------------------
# strategies


def test_locked_service_is_created_once_and_never_updated(kube, env_namespace):
    def locked(image):
        return task(service("db", image=image, strategy=model.Strategy(locked=True),
                            endpoints=(model.Endpoint(name="db-public", type="LoadBalancer",
                                                      annotations={"note": image}),)))
    first = deploy(kube, env_namespace, locked("registry.example/db:1"))
    assert actions(first)["Deployment/db"] == "created"
    second = deploy(kube, env_namespace, locked("registry.example/db:2"))
    assert actions(second)["Deployment/db"] == "locked"
    assert template(kube, env_namespace, "db")["containers"][0]["image"] == "registry.example/db:1"
    # endpoint objects are deployed without the strategy (docs/behaviour.md §10.1): still updated
    assert actions(second)["Service/db-public"] == "updated"
    assert live(kube, "Service", "db-public", env_namespace)["metadata"]["annotations"]["note"] == "registry.example/db:2"
    assert second.services["db"]["updated"] and not second.services["db"]["created"]


def test_reset_deletes_the_pods_before_an_update_only(kube, env_namespace, writes):
    def reset(image):
        return task(service("web", image=image, strategy=model.Strategy(reset=True)))
    deploy(kube, env_namespace, reset("registry.example/web:1"))
    settle(kube)
    writes.start()
    assert not deploy(kube, env_namespace, reset("registry.example/web:1")).changed
    assert writes.audit_writes() == []
    old = {pod["metadata"]["uid"] for pod in listed(kube, "Pod", env_namespace)}
    writes.start()
    result = deploy(kube, env_namespace, reset("registry.example/web:2"))
    assert actions(result)["Deployment/web"] == "updated"
    verbs = writes.audit_writes()
    # the release is recorded as pending first (write-ahead), then the pods go before the update
    assert "/secrets/cp-release.app.v2" in verbs[0][1]
    assert verbs[1][0] == "deletecollection" and "labelSelector=component-identifier%3Dweb" in verbs[1][1]
    assert not old & {pod["metadata"]["uid"] for pod in listed(kube, "Pod", env_namespace)}


def test_attached_pod_is_waited_for_and_succeeds(kube, env_namespace):
    migrate = service("migrate", image="registry.example/app:1", ports=(),
                      scalable=False, strategy=model.Strategy(attached=True))
    result = deploy(kube, env_namespace, task(migrate), wait=False)
    (outcome,) = result.workloads
    assert outcome["name"] == "migrate" and outcome["ok"] and outcome["message"] == "completed"
    assert outcome["output"].startswith("logs unavailable")
    assert live(kube, "Pod", "migrate", env_namespace)["status"]["phase"] == "Succeeded"
    # unchanged: not run again
    assert not deploy(kube, env_namespace, task(migrate)).changed


def test_attached_pod_failure_fails_the_deploy_with_its_exit_code(kube, env_namespace):
    deploy(kube, env_namespace, v1())
    migrate = service("migrate", image="registry.example/app:1", ports=(), scalable=False,
                      strategy=model.Strategy(attached=True))
    failing = task(*v1().services, migrate)
    error, seconds = timed(deploy, kube, env_namespace, failing, object_hook=pod_label("migrate", BEHAVIOR, "fail"))
    assert isinstance(error, DeployError), error
    assert "Pod/migrate failed" in str(error) and "did not end successfully (exit code 1)" in str(error)
    assert "logs unavailable" in str(error)
    assert seconds < FAST
    assert error.result.rolled_back and live(kube, "Pod", "migrate", env_namespace) is None


def test_a_running_pod_of_the_same_name_fails_the_deploy(kube, cluster, env_namespace, writes):
    cluster.kubectl("create", "namespace", env_namespace)
    cluster.kubectl("-n", env_namespace, "run", "console", "--image=registry.example/console:0",
                    "--restart=Always")
    cluster.kubectl("-n", env_namespace, "wait", "--for=condition=Ready", "pod/console", "--timeout=60s")
    console = service("console", image="registry.example/console:1", ports=(), scalable=False)
    writes.start()
    error, _seconds = timed(deploy, kube, env_namespace, task(console), take_over=True)
    assert isinstance(error, DeployError)
    assert 'A running pod named "console" was found' in str(error)
    assert "nothing was changed" in str(error) and writes.audit_writes() == []


def test_a_finished_bare_pod_is_replaced_when_it_changes(kube, env_namespace):
    def job(image):
        return task(service("once", image=image, ports=(), scalable=False))
    deploy(kube, env_namespace, job("registry.example/once:1"))
    first = wait_for(lambda: (live(kube, "Pod", "once", env_namespace) or {}).get("status", {}).get("phase")
                     == "Succeeded" and live(kube, "Pod", "once", env_namespace), what="pod once to complete")
    result = deploy(kube, env_namespace, job("registry.example/once:2"))
    assert actions(result)["Pod/once"] == "updated"
    second = live(kube, "Pod", "once", env_namespace)
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    assert second["spec"]["containers"][0]["image"] == "registry.example/once:2"


def test_an_object_the_api_server_rejects_fails_the_deploy_and_rolls_back(kube, env_namespace):
    deploy(kube, env_namespace, v1())
    before = template(kube, env_namespace)

    def invalid(obj):
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "web":
            obj["spec"]["template"]["spec"]["containers"][0]["name"] = "Not_A_DNS_Label"
        return obj

    error, _seconds = timed(deploy, kube, env_namespace, v2(), object_hook=invalid)
    assert isinstance(error, DeployError), error
    message = str(error)
    assert "could not apply workloads" in message and "Deployment/web" in message and "HTTP 422" in message
    assert error.result.rolled_back and error.result.rolled_back_to == 1
    assert template(kube, env_namespace) == before
    assert live(kube, "Service", "cache", env_namespace) is None
