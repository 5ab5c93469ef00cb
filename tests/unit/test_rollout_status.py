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
