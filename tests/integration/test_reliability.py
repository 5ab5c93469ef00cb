"""What a deploy must never do, tried against a real control plane: touch another project's objects,
lose updates to a concurrent run, lose or falsify a release record, trust labels anyone can set,
blame a workload for the API server, or leave fields of a pod template that the release does not hold.

Modules run as Ansible runs them on the target (``call``); the engine directly where the test needs
to reach into the middle of a deploy.
"""
from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time

from conftest import unique_namespace
from deploy_helpers import RELEASE, actions, deploy, listed, live, service, settle, task, wait_for

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import lock, ownership, release

PROJECT = """\
tasks:
  app:
    deploy:
      cluster: local
      services:
        web:
          specification:
            source:
              image: registry.example/%(name)s-web
              tag: "${TAG}"
            ports: [80]
            environment_variables:
              - {name: GREETING, value: "${GREETING}"}
        worker:
          specification:
            source:
              image: registry.example/%(name)s-worker
              tag: "1"
            accessibility: {from_cluster: false}
"""


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def checkout(path, remote, name="shop"):
    """A project checked out at ``path`` (a git repository whose origin is ``remote``)."""
    path.mkdir(parents=True)
    (path / "continuous-pipe.yml").write_text(PROJECT % {"name": name})
    git("init", "-q", cwd=path)
    git("remote", "add", "origin", remote, cwd=path)
    return path


def args(source, namespace=None, tag="1", greeting="hello", **extra):
    out = {"source_dir": str(source), "branch": "main", "variables": {"TAG": tag, "GREETING": greeting}}
    if namespace:
        out["namespace"] = namespace
    out.update(extra)
    return out


def warnings_text(result) -> str:
    """A module's warnings as text (ansible-core 2.19 returns them as structured events)."""
    return json.dumps(result.get("warnings") or [])


def secrets_named(kube, namespace, prefix):
    return sorted(s["metadata"]["name"] for s in listed(kube, "Secret", namespace)
                  if s["metadata"]["name"].startswith(prefix))


def history(kube, namespace, task_name="app"):
    return {info.number: info.status for info in release.list_releases(kube, namespace, task_name)}


def current_images(kube, namespace):
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
            for d in listed(kube, "Deployment", namespace)}


def recorded_images(kube, namespace, task_name="app"):
    infos = release.list_releases(kube, namespace, task_name)
    current = release.current_release(None, namespace, task_name, infos)
    full = release.read_release(kube, namespace, task_name, current.number)
    return {o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]["image"]
            for o in full.objects if o["kind"] == "Deployment"}


# --------------------------------------------------------------------------------------------------
# 1. two projects, one directory name


def test_two_projects_in_same_named_checkouts_get_two_environments(call, kube, tmp_path, _namespaces_to_delete):
    """AWX checks every project out in a directory called ``project``: that must not make them one."""
    shop = checkout(tmp_path / "awx1" / "project", "https://git.example/acme/shop.git", "shop")
    blog = checkout(tmp_path / "awx2" / "project", "git@git.example:acme/blog.git", "blog")
    first = call("deploy", args(shop))
    second = call("deploy", args(blog))
    assert not first.get("failed") and not second.get("failed"), (first.get("msg"), second.get("msg"))
    _namespaces_to_delete.extend([first["namespace"], second["namespace"]])
    assert first["namespace"] != second["namespace"]
    assert current_images(kube, first["namespace"])["web"] == "registry.example/shop-web:1"
    assert current_images(kube, second["namespace"])["web"] == "registry.example/blog-web:1"

    # the same repository checked out by hand elsewhere is the same project: nothing to do
    again = call("deploy", args(checkout(tmp_path / "home" / "app", "git@git.example:acme/shop", "shop")))
    assert not again.get("failed") and again["namespace"] == first["namespace"] and not again["changed"], again


def test_a_project_never_writes_into_another_projects_environment(call, kube, tmp_path, env_namespace, writes):
    shop = checkout(tmp_path / "a" / "project", "https://git.example/acme/shop.git", "shop")
    blog = checkout(tmp_path / "b" / "project", "https://git.example/acme/blog.git", "blog")
    assert not call("deploy", args(shop, env_namespace)).get("failed")
    owner = ownership.owner_of(live(kube, "Namespace", env_namespace, None)).project
    writes.start()
    refused = call("deploy", args(blog, env_namespace))
    assert refused.get("failed") and not refused["changed"], refused
    assert ("refusing to deploy to namespace %s: it is owned by project %s" % (env_namespace, owner)) in refused["msg"]
    assert "take_over: true" in refused["msg"]
    assert writes.audit_writes(namespace=env_namespace) == []
    assert current_images(kube, env_namespace) == {"web": "registry.example/shop-web:1",
                                                   "worker": "registry.example/shop-worker:1"}

    taken = call("deploy", args(blog, env_namespace, take_over=True))
    assert not taken.get("failed") and "was taken over by project" in warnings_text(taken), taken
    assert current_images(kube, env_namespace)["web"] == "registry.example/blog-web:1"
    assert ownership.owner_of(live(kube, "Namespace", env_namespace, None)).project != owner


# --------------------------------------------------------------------------------------------------
# 2. one writer per environment


def test_concurrent_deploys_are_serialised_and_the_history_matches(call, kube, tmp_path, env_namespace):
    """Two deploy modules of one environment at once, five times (two checkouts of one project with
    different services, as two commits would be): both succeed, one after the other; the recorded
    current release is what runs, and nothing of the run that finished last was pruned."""
    remote = "https://git.example/acme/shop.git"
    checkouts = {name: checkout(tmp_path / name, remote, "shop") for name in ("a", "b")}
    for name, path in checkouts.items():
        text = (path / "continuous-pipe.yml").read_text()
        (path / "continuous-pipe.yml").write_text(text + (
            "        only-%s:\n          specification:\n            source: {image: registry.example/%s, tag: '1'}\n"
            "            accessibility: {from_cluster: false}\n" % (name, name)))
    assert not call("deploy", args(checkouts["a"], env_namespace, tag="0")).get("failed")
    for round_ in range(5):
        procs = {name: call.start("deploy", args(path, env_namespace, tag="%s%d" % (name, round_)))
                 for name, path in checkouts.items()}
        results = {name: call.result(proc) for name, proc in procs.items()}
        assert not any(r.get("failed") for r in results.values()), {n: r.get("msg") for n, r in results.items()}
        last = max(results, key=lambda name: results[name]["release"])
        images = current_images(kube, env_namespace)
        assert images == {"web": "registry.example/shop-web:%s%d" % (last, round_),
                          "worker": "registry.example/shop-worker:1",
                          "only-%s" % last: "registry.example/%s:1" % last}, (round_, results, images)
        assert recorded_images(kube, env_namespace) == images
        statuses = history(kube, env_namespace)
        assert list(statuses.values()).count("deployed") == 1 and "pending" not in statuses.values(), statuses
        assert statuses[results[last]["release"]] == "deployed"
        first = min(results, key=lambda name: results[name]["release"])
        assert results[last]["release"] == results[first]["release"] + 1
        waited = [results[name]["timings"].get("lock", 0) for name in results]
        print("\nround %d: both runs succeeded; releases %d then %d; lock waits %s s" % (
            round_, results[first]["release"], results[last]["release"], waited))


def test_a_second_deploy_waits_for_the_lock_then_fails_naming_the_holder(call, kube, tmp_path, env_namespace):
    shop = checkout(tmp_path / "project", "https://git.example/acme/shop.git", "shop")
    assert not call("deploy", args(shop, env_namespace)).get("failed")
    holder = lock.EnvironmentLock(kube, env_namespace, "deploy", task="app", project="someone-else").acquire()
    try:
        started = time.monotonic()
        result = call("deploy", args(shop, env_namespace, tag="2", lock_timeout=3))
        assert result.get("failed") and time.monotonic() - started >= 3, result
        assert "environment %s is locked by deploy of task app (project someone-else) by %s since " % (
            env_namespace, holder.identity) in result["msg"], result["msg"]
        assert current_images(kube, env_namespace)["web"] == "registry.example/shop-web:1"
    finally:
        holder.release()
    assert not call("deploy", args(shop, env_namespace, tag="2")).get("failed")
    assert live(kube, "Lease", lock.LEASE_NAME, env_namespace, "coordination.k8s.io/v1") is None


def test_a_killed_run_leaves_a_stale_lock_that_the_next_run_takes_over(call, kube, tmp_path, env_namespace):
    """SIGKILL of the module process (an AWX job cancelled) right after its first write: the Lease
    stays, the release stays pending; the next run waits until the Lease is stale, takes it over,
    completes the release and records it."""
    shop = checkout(tmp_path / "project", "https://git.example/acme/shop.git", "shop")
    assert not call("deploy", args(shop, env_namespace)).get("failed")
    proc = call.start("deploy", args(shop, env_namespace, tag="2"))
    wait_for(lambda: "pending" in history(kube, env_namespace).values(), timeout=120, interval=0.05,
             what="the pending release record")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert live(kube, "Lease", lock.LEASE_NAME, env_namespace, "coordination.k8s.io/v1") is not None
    assert history(kube, env_namespace)[2] == "pending"

    result = call("deploy", args(shop, env_namespace, tag="2"))
    assert not result.get("failed"), result.get("msg")
    text = warnings_text(result)
    assert "took over the lock" in text and "release 2 of task app" in text and "was interrupted" in text, text
    assert result["changed"] and result["release"] == 2
    assert history(kube, env_namespace) == {1: "superseded", 2: "deployed"}
    assert current_images(kube, env_namespace)["web"] == "registry.example/shop-web:2"
    assert recorded_images(kube, env_namespace)["web"] == "registry.example/shop-web:2"
    rerun = call("deploy", args(shop, env_namespace, tag="2"))
    assert not rerun["changed"] and not rerun.get("warnings"), rerun


# --------------------------------------------------------------------------------------------------
# 3. labels anyone can set


def test_prune_never_deletes_an_object_someone_else_labelled_like_ours(kube, cluster, env_namespace):
    deploy(kube, env_namespace, task(service("web", image="registry.example/web:1")))
    forged = {"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "not-ours", "namespace": env_namespace, "labels": {
            "app.kubernetes.io/managed-by": "continuouspipe.kubernetes", "continuouspipe.io/task": "app",
            "continuouspipe.io/project": RELEASE.flow_uuid}}, "stringData": {"KEY": "value"}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(forged))
    result = deploy(kube, env_namespace, task(service("web", image="registry.example/web:2")))
    assert "Secret/not-ours" not in actions(result)
    assert live(kube, "Secret", "not-ours", env_namespace) is not None
    assert any("Secret/not-ours carries the labels of task app but was not labelled by this collection" in w
               for w in result.warnings), result.warnings
    # a forged release record is not believed either
    labels = {"app.kubernetes.io/managed-by": "continuouspipe.kubernetes", "continuouspipe.io/release-of": "app",
              "continuouspipe.io/release": "99", "continuouspipe.io/status": "deployed"}
    fake = {"apiVersion": "v1", "kind": "Secret", "type": "continuouspipe.io/release",
            "metadata": {"name": "cp-release.app.v99", "namespace": env_namespace, "labels": labels},
            "data": {"release": base64.b64encode(b"x").decode()}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(fake))
    assert sorted(history(kube, env_namespace)) == [1, 2]


def test_teardown_refuses_namespaces_labelled_by_hand(call, cluster, kube, request, _namespaces_to_delete):
    name = unique_namespace(request, "forged")
    _namespaces_to_delete.append(name)
    cluster.kubectl("create", "namespace", name)
    cluster.kubectl("label", "namespace", name, "app.kubernetes.io/managed-by=continuouspipe.kubernetes",
                    "continuouspipe.io/project=%s" % RELEASE.flow_uuid)
    refused = call("environment", {"name": name, "state": "absent", "flow_uuid": RELEASE.flow_uuid})
    assert refused.get("failed") and "refusing to delete namespace %s" % name in refused["msg"], refused
    assert "kubectl-label" in refused["msg"] and "force: true" in refused["msg"]
    assert live(kube, "Namespace", name, None) is not None


def test_an_existing_namespace_is_adopted_deliberately_and_its_other_content_survives_teardown(
        call, cluster, kube, tmp_path, env_namespace):
    cluster.kubectl("create", "namespace", env_namespace)
    cluster.kubectl("-n", env_namespace, "create", "configmap", "team-settings", "--from-literal=a=b")
    shop = checkout(tmp_path / "project", "https://git.example/acme/shop.git", "shop")
    refused = call("deploy", args(shop, env_namespace))
    assert refused.get("failed") and "written by kubectl-create" in refused["msg"], refused
    adopted = call("deploy", args(shop, env_namespace, take_over=True))
    assert not adopted.get("failed"), adopted.get("msg")
    namespace = live(kube, "Namespace", env_namespace, None)
    assert namespace["metadata"]["annotations"][ownership.ORIGIN_ANNOTATION] == ownership.ADOPTED

    gone = call("environment", {"name": env_namespace, "state": "absent", "source_dir": str(shop), "branch": "main"})
    assert not gone.get("failed") and gone["changed"], gone
    assert "only the objects project" in warnings_text(gone), gone
    assert live(kube, "Namespace", env_namespace, None) is not None
    assert live(kube, "ConfigMap", "team-settings", env_namespace) is not None
    assert listed(kube, "Deployment", env_namespace) == []
    assert secrets_named(kube, env_namespace, "cp-") == []


# --------------------------------------------------------------------------------------------------
# 4. fields set by other field managers


def test_kubectl_set_env_is_removed_by_redeploy_and_by_rollback(call, cluster, kube, tmp_path, env_namespace, writes):
    shop = checkout(tmp_path / "project", "https://git.example/acme/shop.git", "shop")
    assert not call("deploy", args(shop, env_namespace)).get("failed")
    assert not call("deploy", args(shop, env_namespace, tag="2")).get("failed")
    cluster.kubectl("-n", env_namespace, "set", "env", "deployment/worker", "LOG_LEVEL=debug")

    info = call("environment_info", {"name": env_namespace, "history": False})["environments"][0]
    (drift,) = [d for d in info["drift"] if d["name"] == "worker"]
    assert drift["differences"] == [{"path": "spec.template.spec.containers[0].env", "manager": "kubectl-set",
                                     "expected": None, "actual": [{"name": "LOG_LEVEL", "value": "debug"}]}]

    kept = call("deploy", args(shop, env_namespace, tag="2", foreign_fields="keep"))
    assert not kept["changed"]
    failed = call("deploy", args(shop, env_namespace, tag="2", foreign_fields="fail"))
    assert failed.get("failed") and "Deployment/worker: its pod template holds fields this deploy does not set: " \
        "spec.template.spec.containers[0].env = [{\"name\": \"LOG_LEVEL\", \"value\": \"debug\"}] (set by kubectl-set)" \
        in failed["msg"], failed["msg"]

    redeployed = call("deploy", args(shop, env_namespace, tag="2"))
    assert redeployed["changed"] and redeployed["services"]["worker"]["updated"], redeployed
    worker = live(kube, "Deployment", "worker", env_namespace)
    assert "env" not in worker["spec"]["template"]["spec"]["containers"][0]
    settle(kube)
    writes.start()
    assert not call("deploy", args(shop, env_namespace, tag="2"))["changed"]
    assert writes.audit_writes(namespace=env_namespace) == []
    info = call("environment_info", {"name": env_namespace, "history": False})["environments"][0]
    assert info["drift"] == [] and not info["drifted"]

    cluster.kubectl("-n", env_namespace, "set", "env", "deployment/worker", "LOG_LEVEL=trace")
    back = call("rollback", {"namespace": env_namespace, "task": "app", "release": 1})
    assert not back.get("failed") and back["rolled_back_to"] == 1, back
    worker = live(kube, "Deployment", "worker", env_namespace)
    assert "env" not in worker["spec"]["template"]["spec"]["containers"][0]
    assert current_images(kube, env_namespace)["web"] == "registry.example/shop-web:1"


# --------------------------------------------------------------------------------------------------
# 5. endpoint variables in a stable order


def test_several_public_endpoints_rerun_unchanged(kube, env_namespace, writes):
    services = [service("svc%d" % index, image="registry.example/s:1",
                        endpoints=(model.Endpoint(name="lb%d" % index, type="LoadBalancer"),))
                for index in range(4)]
    first = deploy(kube, env_namespace, task(*services))
    assert [e["name"] for e in first.endpoints] == ["lb0", "lb1", "lb2", "lb3"]
    env = live(kube, "Deployment", "svc0", env_namespace)["spec"]["template"]["spec"]["containers"][0]["env"]
    injected = [e["name"] for e in env if e["name"].endswith("_PUBLIC_ENDPOINT")]
    assert injected == sorted(injected, key=lambda n: (n.split("_")[1][-1], n.split("_")[0] != "SERVICE")), injected
    settle(kube)
    for _rerun in range(3):
        writes.start()
        again = deploy(kube, env_namespace, task(*services))
        assert not again.changed, [o for o in again.objects if o["action"] != "unchanged"]
        assert writes.audit_writes(namespace=env_namespace) == []


# --------------------------------------------------------------------------------------------------
# 6. a teardown needs no secret


ENCRYPTED = """\
variables:
  - name: DATABASE_PASSWORD
    encrypted_value: 'c29tZXRoaW5nIGVuY3J5cHRlZA=='
tasks:
  app:
    deploy:
      cluster: local
      environment:
        name: '"vault-" ~ code_reference.branch'
      services:
        db:
          specification:
            source: {image: registry.example/db, tag: "1"}
            ports: [5432]
            environment_variables:
              - {name: POSTGRES_PASSWORD, value: "${DATABASE_PASSWORD}"}
"""


def test_teardown_of_a_project_with_encrypted_values_needs_no_secret(
        call, kube, tmp_path, request, _namespaces_to_delete):
    source = tmp_path / "project"
    source.mkdir()
    (source / "continuous-pipe.yml").write_text(ENCRYPTED)
    branch = unique_namespace(request, "td")[:20]
    project = {"source_dir": str(source), "branch": branch, "flow_uuid": RELEASE.flow_uuid}
    deployed = call("deploy", dict(project, secret_variables={"DATABASE_PASSWORD": "pa55"}))
    assert not deployed.get("failed"), deployed.get("msg")
    _namespaces_to_delete.append(deployed["namespace"])
    # without the secret, a deploy still refuses (it would write a wrong password)...
    refused = call("deploy", project)
    assert refused.get("failed") and "give the value of \"DATABASE_PASSWORD\" in secret_variables" in refused["msg"]
    # ...but tearing down only needs names (planning too: tests/unit/test_inventory_clusters.py)
    gone = call("environment", dict(project, state="absent"))
    assert not gone.get("failed") and gone["action"] == "deleted" and gone["name"] == deployed["namespace"], gone
    assert live(kube, "Namespace", deployed["namespace"], None) is None
