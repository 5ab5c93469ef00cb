"""examples/rbac/deployer-role.yml is enough for every deploy path, and each of its permissions is needed.

The role is bound to the local cluster's ``limited`` static-token user (no group, no other permission)
for the duration of each test."""
from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest
import yaml
from conftest import connect_as
from deploy_helpers import RELEASE, actions, deploy, pod_label, service, task, timed, wait_for

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import engine, lock
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.engine import DeployError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError

ROLE_FILE = Path(__file__).resolve().parents[2] / "examples" / "rbac" / "deployer-role.yml"


def role_documents():
    """The objects of the example file (one ``kind: List`` document)."""
    return [item for doc in yaml.safe_load_all(ROLE_FILE.read_text()) if doc
            for item in (doc["items"] if doc.get("kind") == "List" else [doc])]


@pytest.fixture
def bind(cluster):
    """Apply the example role (optionally edited) bound to ``limited``; remove it afterwards."""
    def apply(edit=None, denies=()):
        docs = copy.deepcopy(role_documents())
        for doc in docs:
            if doc["kind"] == "ClusterRoleBinding":
                doc["subjects"] = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "limited"}]
            if doc["kind"] == "ClusterRole" and edit:
                edit(doc)
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
        # the authorizer sees RBAC changes through an informer: wait until this role is in force
        wait_for(lambda: can_i("get", "namespaces", "") and all(not can_i(*denied) for denied in denies),
                 timeout=30, what="the role to be in force")

    def can_i(verb, resource, group):
        target = "%s.%s" % (resource, group) if group else resource
        res = cluster.kubectl("auth", "can-i", verb, target, "--as=limited", "-n", "default", check=False)
        return res.stdout.strip() == "yes"
    yield apply
    cluster.kubectl("delete", "clusterrolebinding,clusterrole", "continuouspipe-deployer", "--ignore-not-found")


def environment(image, with_db=True):
    services = [
        service("web", image=image, secret_env=[("TOKEN", "s3cr3t")], strategy=model.Strategy(reset=True),
                endpoints=(model.Endpoint(name="web-public", type="LoadBalancer"),)),
        service("migrate", image=image, ports=(), scalable=False, strategy=model.Strategy(attached=True)),
    ]
    if with_db:
        services.append(service("db", image="registry.example/db:1", ports=(5432,),
                                volumes=(model.Volume("db-data", capacity="1Gi"),),
                                volume_mounts=(model.VolumeMount("db-data", "/data"),)))
    return task(*services)


def test_the_example_role_is_enough_for_every_deploy_path(cluster, bind, env_namespace):
    bind()
    limited = connect_as(cluster, "limited")
    try:
        first = deploy(limited, env_namespace, environment("registry.example/web:1"))
        assert first.changed and actions(first)["Pod/migrate"] == "created"
        (migrate,) = [w for w in first.workloads if w["name"] == "migrate"]
        assert migrate["output"].startswith("logs unavailable")
        assert not deploy(limited, env_namespace, environment("registry.example/web:1")).changed
        update = deploy(limited, env_namespace, environment("registry.example/web:2"))  # reset + replaced bare pod
        assert actions(update)["Deployment/web"] == "updated" and actions(update)["Pod/migrate"] == "updated"
        for mode in ("release", "revision"):
            error, _seconds = timed(deploy, limited, env_namespace, environment("registry.example/web:3"),
                                    rollback=mode, object_hook=pod_label("web", "kwok-test/behavior", "crashloop"))
            assert isinstance(error, DeployError) and error.result.rolled_back, error
            assert "ROLLBACK FAILED" not in str(error)
        pruned = deploy(limited, env_namespace, environment("registry.example/web:2", with_db=False),
                        prune_volumes=True)
        assert actions(pruned)["Deployment/db"] == "deleted" and actions(pruned)["PersistentVolumeClaim/db-data"] == "deleted"
        restored = engine.restore(limited, env_namespace, engine.DeployOptions(task="app", poll_interval=0.25, project=RELEASE.flow_uuid), 1)
        assert restored.rolled_back_to == 1 and actions(restored)["Deployment/db"] == "created"
    finally:
        limited.close()


@pytest.mark.parametrize("group,resource,verb,fresh", [
    ("apps", "deployments", "patch", False),
    ("", "secrets", "list", False),
    ("", "namespaces", "create", True),
    ("", "events", "list", False),
])
def test_without_one_permission_the_error_names_it(cluster, bind, env_namespace, group, resource, verb, fresh):
    def remove(role):
        for rule in role["rules"]:
            if group in rule["apiGroups"] and resource in rule["resources"]:
                rule["verbs"] = [v for v in rule["verbs"] if v != verb]
        role["rules"] = [rule for rule in role["rules"] if rule["verbs"]]
    limited = connect_as(cluster, "limited")
    try:
        if not fresh:
            bind()
            deploy(limited, env_namespace, environment("registry.example/web:1"))
        bind(remove, denies=[(verb, resource, group)])
        hook = pod_label("web", "kwok-test/behavior", "crashloop") if resource == "events" else None
        error, _seconds = timed(deploy, limited, env_namespace, environment("registry.example/web:2"), object_hook=hook)
    finally:
        limited.close()
    assert isinstance(error, DeployError), error
    if resource == "events":
        # events only enrich the error of a failing rollout: their absence is not fatal
        assert "CrashLoopBackOff" in str(error) and error.result.rolled_back
        return
    assert 'cannot %s resource "%s"' % (verb, resource) in str(error), str(error)
    assert "HTTP 403" in str(error)


@pytest.mark.parametrize("verb", ["create", "update", "delete"])
def test_without_the_lease_permissions_the_lock_names_them(cluster, bind, env_namespace, verb):
    def remove(role):
        for rule in role["rules"]:
            if "coordination.k8s.io" in rule["apiGroups"]:
                rule["verbs"] = [v for v in rule["verbs"] if v != verb]
    limited = connect_as(cluster, "limited")
    try:
        bind()
        deploy(limited, env_namespace, environment("registry.example/web:1"))
        bind(remove, denies=[(verb, "leases", "coordination.k8s.io")])
        held = lock.EnvironmentLock(limited, env_namespace, "deploy", task="app", duration=3)
        with pytest.raises((ClusterError, lock.LockError), match='cannot %s resource "leases"' % verb):
            held.acquire()
            time.sleep(4.5)  # renewals (updates) fail for longer than the lease: the lock is lost
            held.check()
            held.release()
    finally:
        limited.close()


PROJECT = """\
tasks:
  app:
    deploy:
      cluster: local
      services:
        web:
          specification:
            source: {image: registry.example/web, tag: "${TAG}"}
            ports: [80]
"""


def test_the_example_role_covers_every_module(cluster, bind, call, tmp_path, env_namespace):
    """Each module as Ansible runs it, as the ``limited`` user holding only the example role:
    environment (present, absent), deploy (which takes the environment's lock), environment_info
    (every environment, its services including StatefulSets, drift), run, rollback."""
    bind()
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "continuous-pipe.yml").write_text(PROJECT)
    auth = {"host": cluster.server, "api_key": cluster.tokens["limited"], "ca_cert": str(cluster.local.pki / "ca.crt")}
    source = dict(auth, source_dir=str(tmp_path / "app"), branch="main", flow_uuid=RELEASE.flow_uuid,
                  namespace=env_namespace)

    def ok(module, args):
        result = call(module, args)
        assert not result.get("failed"), (module, result.get("msg"))
        return result

    ok("environment", dict(auth, name=env_namespace, flow_uuid=RELEASE.flow_uuid))
    first = ok("deploy", dict(source, variables={"TAG": "1"}))
    assert first["changed"] and first["release"] == 1
    assert ok("deploy", dict(source, variables={"TAG": "2"}))["release"] == 2
    info = ok("environment_info", dict(auth))
    assert env_namespace in [env["name"] for env in info["environments"]]
    (env,) = [env for env in info["environments"] if env["name"] == env_namespace]
    assert [service["name"] for service in env["services"]] == ["web"] and env["drift"] == []
    ran = ok("run", dict(auth, namespace=env_namespace, task="check", image="registry.example/tools:1",
                         commands=["true"]))
    assert ran["rc"] == 0
    back = ok("rollback", dict(auth, namespace=env_namespace, task="app"))
    assert back["rolled_back_to"] == 1
    gone = ok("environment", dict(auth, name=env_namespace, flow_uuid=RELEASE.flow_uuid, state="absent"))
    assert gone["changed"] and gone["action"] == "deleted"
