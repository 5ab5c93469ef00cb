"""Pure parts of the rollout wait: whether a progress deadline belongs to the current revision.

(The wait itself runs against the real control plane: tests/integration/test_deploy_failures.py.)
"""
from __future__ import annotations

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.rollout import (
    deadline_is_stale,
    deployment_status,
)


def deployment(message, generation=3, observed=3):
    return {
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": 1},
        "status": {"observedGeneration": observed, "replicas": 1, "updatedReplicas": 0, "availableReplicas": 1,
                   "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                   "message": message}]},
    }


def test_a_deadline_of_the_current_replica_set_is_a_failure():
    obj = deployment('ReplicaSet "web-7d9f8b6c5d" has timed out progressing.')
    assert deployment_status(obj)[1] == "ProgressDeadlineExceeded"
    assert deadline_is_stale(obj, "7d9f8b6c5d") is False


def test_a_deadline_of_an_earlier_replica_set_is_stale():
    """Right after a rollback the condition still names the revision that timed out."""
    obj = deployment('ReplicaSet "web-7d9f8b6c5d" has timed out progressing.')
    assert deadline_is_stale(obj, "5c6b8f9d7d") is True


def test_unknown_until_the_new_replica_set_is_known():
    obj = deployment('ReplicaSet "web-7d9f8b6c5d" has timed out progressing.')
    assert deadline_is_stale(obj, None) is None


def test_a_message_of_another_form_is_trusted():
    assert deadline_is_stale(deployment("Deployment does not have minimum availability."), None) is False


def test_the_deadline_is_only_read_once_the_generation_is_observed():
    obj = deployment('ReplicaSet "web-7d9f8b6c5d" has timed out progressing.', generation=4, observed=3)
    assert deployment_status(obj) == (False, None, "waiting for the deployment spec update to be observed")


# --------------------------------------------------------------------------------------------------
# what the wait says: status messages and progress lines


def rolling(replicas, updated, available, total=None):
    return {"metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"observedGeneration": 2, "replicas": total if total is not None else replicas,
                       "updatedReplicas": updated, "availableReplicas": available}}


def test_the_old_pods_are_never_counted_as_updated_replicas():
    """2 old pods available, 1 new pod not ready: not "2 of 2 updated replicas are available"."""
    done, failure, message = deployment_status(rolling(2, 1, 2, total=3))
    assert (done, failure) == (False, None)
    assert message == "1 of 2 new replicas have been updated"


def test_status_messages_follow_kubectl_rollout_status():
    assert deployment_status(rolling(2, 2, 2, total=3))[2] == "1 old replicas are pending termination"
    assert deployment_status(rolling(3, 3, 1))[2] == "1 of 3 updated replicas are available"
    assert deployment_status(rolling(3, 3, 3)) == (True, None, "successfully rolled out")


def pod(name, ready, waiting=None, phase="Running"):
    status = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if waiting:
        status["containerStatuses"] = [{"name": "web", "state": {"waiting": {"reason": waiting}}}]
    return {"metadata": {"name": name, "labels": {"app": "web"}}, "status": status}


def test_a_progress_line_says_what_is_ready_and_what_each_pending_workload_waits_for():
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.rollout import (
        WaitOutcome,
        WaitTarget,
        progress_line,
    )

    web = WaitTarget("Deployment", "web")
    worker = WaitTarget("Deployment", "worker")
    migrate = WaitTarget("Pod", "migrate", attached=True)
    pods = [pod("web-1", True), pod("web-2", False, "ContainerCreating"), pod("migrate", False, phase="Pending")]
    line = progress_line([web, migrate], [WaitOutcome(worker, True, 3.0)], {"web": rolling(2, 2, 1)}, pods, 21.4,
                         new_pods=lambda deployment, all_pods: [p for p in all_pods if p["metadata"]["name"] != "migrate"])
    assert line == ("waiting 21s: 1 of 3 workloads ready (worker); web: 1 of 2 updated replicas are available "
                    "(pod web-2: ContainerCreating); Pod/migrate: Pending")


def test_a_progress_line_details_five_workloads_at_most():
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.rollout import (
        WaitTarget,
        progress_line,
    )

    targets = [WaitTarget("Deployment", "svc%02d" % index) for index in range(200)]
    line = progress_line(targets, [], {}, [], 65.0)
    assert line.startswith("waiting 1m05s: 0 of 200 workloads ready; svc00: not found yet; ")
    assert line.endswith("; and 195 more")
    assert len(line) < 300


def test_the_poll_interval_grows_with_the_objects_a_poll_lists():
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.rollout import Waiter

    waiter = Waiter(cluster=None, namespace="env", poll=0.5)
    assert waiter.interval(60) == 0.5      # 30 services: as often as asked
    assert waiter.interval(200) == 1.0
    assert waiter.interval(400) == 2.0     # 200 services
    assert waiter.interval(5000) == 2.0
    assert Waiter(cluster=None, namespace="env", poll=5.0).interval(10) == 5.0
