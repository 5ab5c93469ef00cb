"""What a user reads: playbooks/deploy.yml's output, live progress, and exact messages.

Against real local control planes (tests/cluster), through ansible-playbook and ansible-runner:

* the demo pipeline (examples/app, 5 pipeline tasks) on one cluster prints one line per pipeline
  task per pass (preflight, rollout), six task banners in all, no ``skipping:`` line, and a report
  naming the services created and updated; an unchanged run and check mode say so;
* check mode says changed exactly when a real run then changes something;
* while a rollout waits, progress lines (which workloads are ready, n of m replicas, time waited)
  appear before the task ends, in ansible-playbook's output and in ansible-runner's (AWX's) events;
* a failed fleet run names the failing cluster and its reason; the healthy cluster is reported as
  it is (never "failed: failed"); a rollout that times out with the old pods still available does not
  claim the updated replicas are available.

Pods are made slow to become ready with the container variable KWOK_READY_AFTER (see
tests/cluster/kwok/pod-start-slow-env.yaml).
"""
from __future__ import annotations

import collections
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import uuid

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))
from fixtures import cluster, clusters  # noqa: E402,F401  pylint: disable=unused-import

APP = os.path.join(ROOT, "examples", "app")
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
SECRET = "canary-output-password-71c2"
FLOW = "5ea0c0de-0000-4000-8000-00000000d3e0"  # the demo project's identity (examples/demo.sh)
PIPELINE_TASKS = ("infrastructure", "migrations", "application", "smoke_test", "notify")

Run = collections.namedtuple("Run", "rc output")


def write_inventory(path, clusters_, group="uat", serial=1, fleet_atomic=False, overrides=None):
    data = {
        "plugin": "continuouspipe.kubernetes.clusters",
        "clusters": [{"name": c.name, "provider": "aws",
                      "connection": {"kubeconfig": c.kubeconfig, "context": c.context},
                      "vars": {"continuouspipe_variables": dict({"CLUSTER_NAME": c.name},
                                                                **(overrides or {}).get(c.name, {}))}}
                     for c in clusters_],
        "environments": {group: {"clusters": [c.name for c in clusters_], "serial": serial,
                                 "fleet_atomic": fleet_atomic}},
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def environment():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
               ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_INVENTORY_UNPARSED_FAILED="1")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def deploy(inventory, group, branch, *args, source_dir=APP, check=True, **extra):
    variables = {"environment_group": group, "source_dir": str(source_dir), "branch": branch, "flow_uuid": FLOW,
                 "secret_variables": json.dumps({"DATABASE_PASSWORD": SECRET})}
    variables.update(extra)
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
           os.path.join(ROOT, "playbooks", "deploy.yml"), "-e", json.dumps(variables), *args]
    res = subprocess.run(cmd, env=environment(), cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    output = res.stdout + res.stderr
    if check and res.returncode != 0:
        raise AssertionError("deploy.yml failed (rc %d):\n%s" % (res.returncode, output[-8000:]))
    assert SECRET not in output
    return Run(res.returncode, output)


def task_lines(output, host):
    """The lines the pipeline printed for ``host``, one per pipeline task and pass."""
    return [line for line in output.splitlines() if line.startswith("[%s] " % host)
            and re.match(r"^\[[^]]+\] [a-z_]+ \([a-z_]+\): ", line)]


def report_lines(output):
    """The report's lines (the debug msg list of the last play)."""
    start = output.rindex("TASK [continuouspipe.kubernetes.deploy : Report what happened on each cluster]")
    block = output[start:output.index("PLAY RECAP", start)]
    return [json.loads(line.strip().rstrip(",")) for line in block.splitlines()
            if line.strip().startswith('"') and not line.strip().startswith('"msg"')]


def recap(output, host):
    line = next(line for line in output.splitlines() if line.startswith(host + " ") and "ok=" in line)
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)}


def slow_project(tmp_path, ready_after="8s", replicas=None):
    """examples/app whose web pods become ready ``ready_after`` after they start (kwok)."""
    project = tmp_path / ("app-%s" % uuid.uuid4().hex[:4])
    shutil.copytree(APP, project)
    pipeline = project / "continuous-pipe.yml"
    text = pipeline.read_text()
    anchor = "              - name: CLUSTER_NAME\n                value: ${CLUSTER_NAME}\n"
    assert anchor in text
    text = text.replace(anchor, anchor + "              - name: KWOK_READY_AFTER\n                value: %s\n" % ready_after)
    if replicas is not None:
        text = text.replace("number_of_replicas: ${REPLICAS}", "number_of_replicas: %d" % replicas)
    pipeline.write_text(text)
    return project


def delete_namespace(cluster_, namespace):
    cluster_.local.api("DELETE", "/api/v1/namespaces/" + namespace)


# --------------------------------------------------------------------------------------------------
# output of the demo pipeline


def test_demo_pipeline_prints_one_line_per_task_per_cluster_and_a_report_of_services(cluster, tmp_path):
    inventory = write_inventory(tmp_path / "one.clusters.yml", [cluster])
    branch = "out-%s" % uuid.uuid4().hex[:6]
    namespace = "shop-" + branch
    host = cluster.name
    try:
        fresh = deploy(inventory, "uat", branch).output
        lines = task_lines(fresh, host)
        # a preflight pass and a rollout pass, one line per pipeline task each, in pipeline order
        assert [line.split(" ")[1] for line in lines] == list(PIPELINE_TASKS) * 2, lines
        assert sum(1 for line in fresh.splitlines() if line.startswith("TASK [")) == 6, fresh
        assert "skipping: [" not in fresh
        assert "[%s] infrastructure (deploy): would change %s: would create database" % (host, namespace) in lines[0]
        assert lines[5].startswith("[%s] infrastructure (deploy): deployed %s, release 1: created database" % (
            host, namespace)), lines[5]
        assert lines[7].startswith("[%s] application (deploy): deployed %s, release 1: created web, worker" % (
            host, namespace)), lines[7]
        assert "smoke_test (run): ran in %s, pod run-smoke-test succeeded" % namespace in lines[8]
        (report,) = report_lines(fresh)
        assert report.startswith("%s: deployed: infrastructure deployed in %s (release 1) [created database]; "
                                 "migrations ran; application deployed in %s (release 1) [created web, worker]; "
                                 "smoke_test ran; notify skipped (web_hook tasks" % (host, namespace, namespace)), report

        unchanged = deploy(inventory, "uat", branch).output
        lines = task_lines(unchanged, host)
        assert len(lines) == 10 and "skipping: [" not in unchanged
        assert "[%s] application (deploy): unchanged %s, release 1" % (host, namespace) in lines[7]
        assert "its filter is false: tasks.infrastructure.services.database.created" in lines[6]
        (report,) = report_lines(unchanged)
        assert report.startswith("%s: unchanged: infrastructure unchanged in %s (release 1); migrations skipped "
                                 "(its filter is false" % (host, namespace)), report
        assert recap(unchanged, host)["changed"] == 0

        checked = deploy(inventory, "uat", branch, "--check").output
        lines = task_lines(checked, host)
        assert len(lines) == 5 and "skipping: [" not in checked  # the preflight pass only
        assert recap(checked, host)["changed"] == 0
        (report,) = report_lines(checked)
        assert report.startswith("%s: dry run: infrastructure unchanged" % host), report
    finally:
        delete_namespace(cluster, namespace)


def test_check_mode_says_changed_exactly_when_a_real_run_changes(cluster, tmp_path):
    inventory = write_inventory(tmp_path / "one.clusters.yml", [cluster])
    branch = "chk-%s" % uuid.uuid4().hex[:6]
    host = cluster.name
    new_image = json.dumps({"web": "ghcr.io/example/shop-web:2.0.0"})
    try:
        deploy(inventory, "uat", branch)
        assert recap(deploy(inventory, "uat", branch, "--check").output, host)["changed"] == 0
        would = deploy(inventory, "uat", branch, "--check", images=new_image).output
        assert recap(would, host)["changed"] == 1
        assert "application (deploy): would change shop-%s, release 1: would update web" % branch in would
        real = deploy(inventory, "uat", branch, images=new_image).output
        assert recap(real, host)["changed"] == 1
        assert "application (deploy): deployed shop-%s, release 2: updated web" % branch in real
        (report,) = report_lines(real)
        assert "application deployed in shop-%s (release 2) [updated web]" % branch in report
        after = deploy(inventory, "uat", branch, "--check", images=new_image).output
        assert recap(after, host)["changed"] == 0, after[-3000:]
        assert recap(deploy(inventory, "uat", branch, images=new_image).output, host)["changed"] == 0
    finally:
        delete_namespace(cluster, "shop-" + branch)


# --------------------------------------------------------------------------------------------------
# progress while waiting


def test_progress_lines_appear_while_a_rollout_waits(cluster, tmp_path):
    inventory = write_inventory(tmp_path / "one.clusters.yml", [cluster])
    branch = "slow-%s" % uuid.uuid4().hex[:6]
    project = slow_project(tmp_path, ready_after="9s")
    host = cluster.name
    try:
        output = deploy(inventory, "uat", branch, source_dir=project, preflight="false",
                        deploy_progress_interval="3").output
        progress = [line for line in output.splitlines() if line.startswith("[%s] application: waiting " % host)]
        assert progress, output[-4000:]
        # which workloads are ready, n of m replicas of the others, the time waited
        assert any(re.search(r"waiting \d+(\.\d)?s: 1 of 2 workloads ready \(worker\); web: ", line)
                   for line in progress), progress
        assert all("web: " in line for line in progress), progress
        # at most one line per interval (3 s) while web takes ~9 s to become ready
        assert len(progress) <= 5, progress
        # printed while the task runs: before the task's line and result
        done = output.index("[%s] application (deploy): deployed" % host)
        assert all(output.index(line) < done for line in progress)
    finally:
        delete_namespace(cluster, "shop-" + branch)


def test_progress_lines_reach_an_awx_job_while_the_rollout_waits(cluster, tmp_path):
    ansible_runner = pytest.importorskip("ansible_runner")
    branch = "awxslow-%s" % uuid.uuid4().hex[:6]
    project = slow_project(tmp_path, ready_after="9s")
    pdd = tmp_path / "pdd"
    for sub in ("project", "inventory", "env"):
        (pdd / sub).mkdir(parents=True)
    for name in ("continuous-pipe.yml", "docker-compose.yml"):
        shutil.copy(project / name, pdd / "project" / name)
    (pdd / "project" / "deploy.yml").write_text(
        "---\n- name: Deploy\n  ansible.builtin.import_playbook: continuouspipe.kubernetes.deploy\n")
    write_inventory(pdd / "inventory" / "clusters.clusters.yml", [cluster])
    (pdd / "env" / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}))
    extravars = {"environment_group": "uat", "branch": branch, "source_dir": ".", "preflight": "false", "flow_uuid": FLOW,
                 "deploy_progress_interval": "3", "secret_variables": json.dumps({"DATABASE_PASSWORD": SECRET})}
    (pdd / "env" / "extravars").write_text(
        "---\n" + "".join("%s: !unsafe %s\n" % (key, json.dumps(value)) for key, value in extravars.items()))
    try:
        job = ansible_runner.run(private_data_dir=str(pdd), playbook="deploy.yml", ident="slow", quiet=True,
                                 settings={"idle_timeout": 600, "job_timeout": 900})
        events = list(job.events)
        assert job.status == "successful", "\n".join(e.get("stdout", "") for e in events)[-6000:]
        progress = [e for e in events if "] application: waiting " in e.get("stdout", "")]
        assert progress, [e.get("stdout") for e in events][-40:]
        finished = [e for e in events if e.get("event") in ("runner_on_ok", "runner_on_changed")
                    and (e.get("event_data") or {}).get("task", "").startswith("Run the pipeline of")
                    and (e.get("event_data") or {}).get("play", "").startswith("Roll out")]
        assert finished, [(e.get("event"), (e.get("event_data") or {}).get("task")) for e in events]

        def created(event):
            return datetime.datetime.fromisoformat(event["created"])

        # the job's output had them while the task was still running
        assert all(created(e) < created(finished[0]) for e in progress)
        assert all(e["counter"] < finished[0]["counter"] for e in progress)
        text = "\n".join(e.get("stdout", "") for e in events)
        assert SECRET not in text
    finally:
        delete_namespace(cluster, "shop-" + branch)


# --------------------------------------------------------------------------------------------------
# exact failure messages


def test_a_failed_fleet_run_names_the_failing_cluster_and_reports_the_healthy_one_as_it_is(clusters, tmp_path):
    # aws-us's nodes have 32 CPUs: web pods asking for 64 cannot be scheduled there, only there.
    pair = [c for c in clusters if c.name in ("aws-eu", "aws-us")]
    inventory = write_inventory(tmp_path / "pair.clusters.yml", pair, group="production", serial=2,
                                fleet_atomic=True, overrides={"aws-us": {"WEB_CPU": "64"}})
    branch = "fleet-%s" % uuid.uuid4().hex[:6]
    try:
        run = deploy(inventory, "production", branch, check=False, preflight="false")
        assert run.rc != 0
        output = run.output
        assert "failed: failed" not in output and "Error: failed" not in output, output[-6000:]
        messages = [line for line in output.splitlines() if "Rollout of %s to production stopped at" % branch in line
                    and line.startswith("fatal: [")]
        assert len(messages) == 1, output[-8000:]
        (message,) = messages
        assert message.startswith("fatal: [aws-us]"), message
        assert "stopped at aws-us (application)" in message, message
        assert "Unschedulable" in message or "Insufficient cpu" in message, message
        lines = report_lines(output)
        us = next(line for line in lines if line.startswith("aws-us: "))
        eu = next(line for line in lines if line.startswith("aws-eu: "))
        assert us.startswith("aws-us: FAILED at application"), us
        # aws-eu deployed in the same batch, then was returned by the fleet-atomic rollback
        assert eu.startswith("aws-eu: rolled back (fleet) after a failure elsewhere"), eu
        assert "[was: infrastructure deployed" in eu and "[created web, worker]" in eu, eu
        assert "task application failed" not in eu
    finally:
        for c in pair:
            delete_namespace(c, "shop-" + branch)


def test_a_timed_out_rollout_does_not_count_the_old_pods_as_updated(cluster, tmp_path):
    inventory = write_inventory(tmp_path / "one.clusters.yml", [cluster])
    branch = "tmo-%s" % uuid.uuid4().hex[:6]
    try:
        deploy(inventory, "uat", branch, source_dir=slow_project(tmp_path, ready_after="0s", replicas=2),
               preflight="false")
        # the update's new pods take 120 s to become ready; the wait gives up after 4 s, while the
        # two pods of the previous revision are still available
        run = deploy(inventory, "uat", branch, source_dir=slow_project(tmp_path, ready_after="120s", replicas=2),
                     check=False, preflight="false", wait_timeout="4")
        assert run.rc != 0
        output = run.output
        found = re.search(r"Deployment/web failed after [\d.]+s: Timeout \S+ timed out after 4s \(([^)]*)\)", output)
        assert found, output[-6000:]
        assert "updated replicas are available" not in found.group(1), found.group(1)
        assert re.match(r"\d of 2 new replicas have been updated", found.group(1)), found.group(1)
        assert "(rolled back to release 1)" in output
    finally:
        delete_namespace(cluster, "shop-" + branch)
