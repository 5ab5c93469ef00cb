"""playbooks/deploy.yml and playbooks/teardown.yml over three real local clusters.

The inventory (continuouspipe.kubernetes.clusters plugin) maps production → aws-eu, aws-us, gce-eu
(in that order, serial 1, fleet-atomic) and uat → gce-eu. Every check is made against the API
servers' audit logs (write requests sent by this collection, dry runs told apart) and live objects:

* check mode writes nothing anywhere; a preflight (dry run, permission check) refused on one
  cluster stops the job before anything is written anywhere;
* a uat deploy writes to gce-eu only;
* a production rollout updates one cluster after the other, in inventory order;
* a failure injected on the second production cluster (a per-cluster variable that makes its web pods
  unschedulable) leaves the third untouched and returns the first to its previous release;
* teardown removes the environment from every cluster of the group.

Each test deploys its own branch (its own namespaces), so the module can share the session's clusters
with other tests.
"""
from __future__ import annotations

import collections
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))
# The session fixture ``clusters``: aws-eu, aws-us, gce-eu.
from fixtures import clusters  # noqa: E402,F401  pylint: disable=unused-import

APP = os.path.join(ROOT, "examples", "app")
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
AGENT = "continuouspipe.kubernetes"
SECRET = "canary-db-password-5f1d"
FLOW = "5ea0c0de-0000-4000-8000-00000000d3e0"  # the demo project's identity (examples/demo.sh)
PRODUCTION = ("aws-eu", "aws-us", "gce-eu")


# --------------------------------------------------------------------------------------------------
# helpers


def write_inventory(path, clusters, overrides=None, contexts=None):
    """A *.clusters.yml for the fixture clusters; ``overrides`` adds continuouspipe_variables per cluster,
    ``contexts`` replaces the kubeconfig context of some clusters."""
    entries = []
    for c in clusters:
        variables = {"CLUSTER_NAME": c.name}
        variables.update((overrides or {}).get(c.name, {}))
        entries.append({"name": c.name, "provider": "aws" if c.name.startswith("aws") else "gce",
                        "connection": {"kubeconfig": c.kubeconfig,
                                       "context": (contexts or {}).get(c.name, c.context)},
                        "vars": {"continuouspipe_variables": variables}})
    data = {
        "plugin": "continuouspipe.kubernetes.clusters",
        "clusters": entries,
        "environments": {
            "production": {"clusters": list(PRODUCTION), "serial": 1, "fleet_atomic": True},
            "uat": ["gce-eu"],
        },
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


Run = collections.namedtuple("Run", "rc output seconds")


def playbook(name, inventory, extra, *args, check=True):
    """Run playbooks/<name> with ansible-playbook; returns a Run (rc, output, seconds)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
               ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_INVENTORY_UNPARSED_FAILED="1")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
           os.path.join(ROOT, "playbooks", name), "-e", json.dumps(extra), *args]
    started = time.monotonic()
    res = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=1500, check=False)
    seconds = time.monotonic() - started
    output = res.stdout + res.stderr
    if check and res.returncode != 0:
        raise AssertionError("%s failed (rc %d):\n%s" % (name, res.returncode, output[-8000:]))
    return Run(res.returncode, output, seconds)


def deploy_vars(group, branch, **more):
    extra = {"environment_group": group, "source_dir": APP, "branch": branch, "flow_uuid": FLOW,
             "secret_variables": json.dumps({"DATABASE_PASSWORD": SECRET})}
    extra.update(more)
    return extra


def writes(cluster, namespace, since=None):
    """Write requests this collection sent to ``namespace`` (dry runs excluded), oldest first."""
    out = []
    for ev in cluster.audit_events():
        if ev.get("userAgent") != AGENT or "dryRun=" in ev.get("requestURI", ""):
            continue
        ref = ev.get("objectRef") or {}
        if ref.get("namespace") != namespace and not (ref.get("resource") == "namespaces" and ref.get("name") == namespace):
            continue
        when = _time(ev["requestReceivedTimestamp"])
        if since is None or when >= since:
            out.append((when, ev["verb"], ref.get("resource"), ref.get("name"), ev.get("responseStatus", {}).get("code")))
    return sorted(out)


def all_writes(cluster, namespace, since=None):
    """Every request of this collection to ``namespace``, dry runs included (for the check-mode test)."""
    out = []
    for ev in cluster.audit_events():
        if ev.get("userAgent") != AGENT:
            continue
        ref = ev.get("objectRef") or {}
        if ref.get("namespace") == namespace or (ref.get("resource") == "namespaces" and ref.get("name") == namespace):
            when = _time(ev["requestReceivedTimestamp"])
            if since is None or when >= since:
                out.append((ev["verb"], ev.get("requestURI")))
    return out


def _time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def get(cluster, path):
    status, body = cluster.local.api("GET", path)
    return body if status == 200 else None


def web_image(cluster, namespace):
    deployment = get(cluster, "/apis/apps/v1/namespaces/%s/deployments/web" % namespace)
    if deployment is None:
        return None
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next(c["image"] for c in containers if c["name"] == "web")


def release_numbers(cluster, namespace, task):
    body = get(cluster, "/api/v1/namespaces/%s/secrets?labelSelector=continuouspipe.io/release-of=%s" % (namespace, task))
    return sorted((int(s["metadata"]["labels"]["continuouspipe.io/release"]),
                   s["metadata"]["labels"].get("continuouspipe.io/status")) for s in (body or {}).get("items", []))


def branch_name(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


def by_name(clusters):
    return {c.name: c for c in clusters}


# --------------------------------------------------------------------------------------------------
# tests


def test_check_mode_writes_nothing_anywhere(clusters, tmp_path):
    inventory = write_inventory(tmp_path / "it.clusters.yml", clusters)
    branch = branch_name("check")
    namespace = "shop-" + branch
    since = now()
    output = playbook("deploy.yml", inventory, deploy_vars("production", branch), "--check", "--diff").output
    for c in clusters:
        assert writes(c, namespace, since) == [], c.name
        assert get(c, "/api/v1/namespaces/" + namespace) is None, c.name
        # the dry run did reach every cluster of the group
        assert any("dryRun=All" in entry[1] for entry in all_writes(c, namespace, since)), c.name
    assert "dry run only" in output
    assert SECRET not in output


@pytest.mark.parametrize("changed,expected", [
    ("docs/index.md, README.md", "its filter is false"),
    ("src/Controller/Home.php", "preflight: run tasks are not run in a dry run"),
])
def test_changed_files_reach_has_changes_for_files_in_task_filters(clusters, tmp_path, changed, expected):
    """The changed_files extra var → the role → has_changes_for_files() of a task filter (dry run)."""
    project = tmp_path / "app"
    shutil.copytree(APP, project)
    pipeline = project / "continuous-pipe.yml"
    text = pipeline.read_text()
    old = "expression: 'tasks.application.services.web.created or tasks.application.services.web.updated'"
    assert old in text
    pipeline.write_text(text.replace(old, "expression: \"has_changes_for_files('src/**')\""))
    inventory = write_inventory(tmp_path / "it.clusters.yml", clusters)
    extra = deploy_vars("uat", branch_name("files"), source_dir=str(project), changed_files=changed)
    output = playbook("deploy.yml", inventory, extra, "--check", "-v").output
    # the pipeline prints one line per task; -v prints its outcome, with smoke_test's reason
    assert "[gce-eu] smoke_test (run): skipped, " + expected in output, output[-4000:]
    line = next(line for line in output.splitlines() if line.startswith(("ok: [gce-eu] => ", "changed: [gce-eu] => ")))
    outcome = json.loads(line.split(" => ", 1)[1])
    (entry,) = [task for task in outcome["tasks"] if task["task"] == "smoke_test"]
    assert entry["reason"].startswith(expected), entry


def test_a_preflight_failure_on_one_cluster_writes_nothing_anywhere(clusters, tmp_path):
    # aws-us is reached as the kubeconfig's "limited" user, which RBAC allows nothing: its dry run
    # (which is also the permission check) is refused, so no cluster may be written to.
    if any(c.local is None for c in clusters):
        pytest.skip("needs the local clusters (their kubeconfigs have a <name>-limited context)")
    inventory = write_inventory(tmp_path / "it.clusters.yml", clusters, contexts={"aws-us": "aws-us-limited"})
    branch = branch_name("denied")
    namespace = "shop-" + branch
    since = now()
    run = playbook("deploy.yml", inventory, deploy_vars("production", branch), check=False)
    assert run.rc != 0
    assert "forbidden" in run.output.lower(), run.output[-4000:]
    for c in clusters:
        assert writes(c, namespace, since) == [], c.name
        assert get(c, "/api/v1/namespaces/" + namespace) is None, c.name
    assert "PLAY [Roll out" not in run.output
    assert SECRET not in run.output


def test_uat_deploy_touches_only_its_cluster(clusters, tmp_path):
    inventory = write_inventory(tmp_path / "it.clusters.yml", clusters)
    branch = branch_name("uat")
    namespace = "shop-" + branch
    since = now()
    named = by_name(clusters)
    try:
        output = playbook("deploy.yml", inventory, deploy_vars("uat", branch)).output
        assert writes(named["gce-eu"], namespace, since), "nothing was written to gce-eu"
        assert web_image(named["gce-eu"], namespace) == "ghcr.io/example/shop-web:1.4.0"
        for name in ("aws-eu", "aws-us"):
            assert all_writes(named[name], namespace, since) == [], name
            assert get(named[name], "/api/v1/namespaces/" + namespace) is None, name
        assert "gce-eu: deployed" in output
        assert SECRET not in output
    finally:
        named["gce-eu"].local.api("DELETE", "/api/v1/namespaces/" + namespace)


@pytest.fixture(scope="module")
def production(clusters, tmp_path_factory):
    """Branch deployed to production (three clusters) once; the tests below continue from there."""
    tmp = tmp_path_factory.mktemp("production")
    inventory = write_inventory(tmp / "it.clusters.yml", clusters)
    branch = branch_name("prod")
    since = now()
    run = playbook("deploy.yml", inventory, deploy_vars("production", branch))
    return {"inventory": inventory, "branch": branch, "namespace": "shop-" + branch, "since": since,
            "output": run.output, "seconds": run.seconds, "tmp": tmp}


def test_production_rolls_out_one_cluster_after_the_other(clusters, production):
    named = by_name(clusters)
    namespace = production["namespace"]
    spans = []
    for name in PRODUCTION:
        found = writes(named[name], namespace, production["since"])
        assert found, "nothing was written to %s" % name
        spans.append((name, found[0][0], found[-1][0]))
        assert web_image(named[name], namespace) == "ghcr.io/example/shop-web:1.4.0"
        assert release_numbers(named[name], namespace, "application") == [(1, "deployed")]
    for earlier, later in zip(spans, spans[1:]):
        assert earlier[2] < later[1], "%s was still being written when %s started: %s" % (earlier[0], later[0], spans)
    for name in PRODUCTION:
        assert "%s: deployed" % name in production["output"]
    assert SECRET not in production["output"]


def test_failure_on_the_second_cluster_stops_the_rollout_and_rolls_the_first_back(clusters, production):
    named = by_name(clusters)
    namespace = production["namespace"]
    # Web pods that ask for 64 CPUs cannot be scheduled on aws-us's 32-CPU nodes: only that cluster fails.
    inventory = write_inventory(production["tmp"] / "failing.clusters.yml", clusters,
                                overrides={"aws-us": {"WEB_CPU": "64"}})
    since = now()
    run = playbook("deploy.yml", inventory,
                   deploy_vars("production", production["branch"],
                               images=json.dumps({"web": "ghcr.io/example/shop-web:2.0.0"})),
                   check=False)
    rc, output = run.rc, run.output
    assert rc != 0, output[-4000:]
    assert "Unschedulable" in output or "Insufficient cpu" in output, output[-4000:]

    # aws-eu was updated to 2.0.0, then returned to release 1 by the fleet-atomic rollback.
    eu = writes(named["aws-eu"], namespace, since)
    assert any(entry[1] == "patch" and entry[2] == "deployments" for entry in eu), eu
    assert web_image(named["aws-eu"], namespace) == "ghcr.io/example/shop-web:1.4.0"
    assert release_numbers(named["aws-eu"], namespace, "application")[-1] == (3, "deployed")
    assert [entry[0] for entry in release_numbers(named["aws-eu"], namespace, "application")] == [1, 2, 3]

    # aws-us failed and rolled its own change back.
    assert web_image(named["aws-us"], namespace) == "ghcr.io/example/shop-web:1.4.0"

    # gce-eu was never written to in this run (only its preflight dry run reached it).
    assert writes(named["gce-eu"], namespace, since) == []
    assert any("dryRun=All" in entry[1] for entry in all_writes(named["gce-eu"], namespace, since))
    assert web_image(named["gce-eu"], namespace) == "ghcr.io/example/shop-web:1.4.0"

    assert "aws-eu: rolled back (fleet)" in output
    assert "aws-us: FAILED at application" in output
    assert "gce-eu: not reached" in output
    assert SECRET not in output


def test_teardown_removes_the_environment_from_every_cluster(clusters, production):
    named = by_name(clusters)
    namespace = production["namespace"]
    output = playbook("teardown.yml", production["inventory"],
                      {"environment_group": "production", "source_dir": APP, "branch": production["branch"],
                       "flow_uuid": FLOW}).output
    for name in PRODUCTION:
        assert get(named[name], "/api/v1/namespaces/" + namespace) is None, name
        assert "%s: deleted %s" % (name, namespace) in output
    # A second teardown finds nothing to delete and succeeds.
    output = playbook("teardown.yml", production["inventory"],
                      {"environment_group": "production", "source_dir": APP, "branch": production["branch"],
                       "flow_uuid": FLOW}).output
    assert output.count("nothing to delete") == 3
