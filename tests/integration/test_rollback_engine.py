"""Returning an environment to a recorded release (what the rollback module runs), against a real
control plane."""
from __future__ import annotations

import pytest
from deploy_helpers import RELEASE, actions, deploy, live, service, settle, task

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import engine, release
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.engine import DeployError


def restore(kube, namespace, number=None, **options):
    options.setdefault("poll_interval", 0.25)
    return engine.restore(kube, namespace, engine.DeployOptions(task="app", project=RELEASE.flow_uuid, **options), number)


def image(kube, namespace, name="web"):
    return live(kube, "Deployment", name, namespace)["spec"]["template"]["spec"]["containers"][0]["image"]


def history(kube, namespace):
    return [(r.number, r.status) for r in release.list_releases(kube, namespace, "app")]


def test_rollback_to_any_release_restores_and_prunes(kube, env_namespace):
    deploy(kube, env_namespace, task(service("web", image="registry.example/web:1")))
    deploy(kube, env_namespace, task(service("web", image="registry.example/web:2"),
                                     service("api", image="registry.example/api:1")))
    deploy(kube, env_namespace, task(service("web", image="registry.example/web:3"),
                                     service("api", image="registry.example/api:1",
                                             volumes=(model.Volume("api-data", capacity="1Gi"),),
                                             volume_mounts=(model.VolumeMount("api-data", "/data"),))))
    # default: the release before the current one
    result = restore(kube, env_namespace)
    assert result.rolled_back_to == 2 and result.release == 4
    assert image(kube, env_namespace) == "registry.example/web:2"
    assert "api-data" not in str(live(kube, "Deployment", "api", env_namespace)["spec"])
    assert live(kube, "PersistentVolumeClaim", "api-data", env_namespace) is not None  # claims are kept
    # any recorded release, objects the release does not hold are deleted
    result = restore(kube, env_namespace, 1)
    assert result.rolled_back_to == 1
    assert actions(result)["Deployment/api"] == "deleted" and actions(result)["Service/api"] == "deleted"
    assert image(kube, env_namespace) == "registry.example/web:1"
    assert history(kube, env_namespace) == [(1, "superseded"), (2, "superseded"), (3, "superseded"),
                                            (4, "superseded"), (5, "deployed")]
    assert release.read_release(kube, env_namespace, "app", 5).rollback_of == 1


def test_rollback_to_the_current_state_changes_nothing(kube, env_namespace, writes):
    deploy(kube, env_namespace, task(service("web", image="registry.example/web:1")))
    deploy(kube, env_namespace, task(service("web", image="registry.example/web:2")))
    settle(kube)
    writes.start()
    result = restore(kube, env_namespace, 2)
    assert not result.changed and result.release == 2
    assert writes.audit_writes() == []


def test_rollback_check_mode_writes_nothing_and_shows_the_diff(kube, env_namespace, writes):
    deploy(kube, env_namespace, task(service("web", image="registry.example/web:1", secret_env=[("K", "v1-secret")])))
    deploy(kube, env_namespace, task(service("web", image="registry.example/web:2", secret_env=[("K", "v2-secret")])))
    settle(kube)
    writes.start()
    result = restore(kube, env_namespace, check_mode=True, diff=True)
    assert result.changed and actions(result)["Deployment/web"] == "updated"
    assert writes.metric_writes() == {}
    assert image(kube, env_namespace) == "registry.example/web:2"
    text = str(result.to_dict(diff=True))
    assert "v1-secret" not in text and "v2-secret" not in text and "******** (changed)" in text


def test_rollback_without_history_says_so(kube, env_namespace):
    with pytest.raises(DeployError) as error:
        restore(kube, env_namespace)
    assert "does not exist" in str(error.value)
    deploy(kube, env_namespace, task(service("web")))
    with pytest.raises(DeployError) as error:
        restore(kube, env_namespace)
    assert "no release before the current one" in str(error.value) and "1 (deployed)" in str(error.value)
    with pytest.raises(DeployError) as error:
        restore(kube, env_namespace, 7)
    assert "release 7" in str(error.value)
