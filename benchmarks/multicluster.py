"""Three clusters, serial against parallel: how long playbooks/deploy.yml takes.

For each mode (``rollout_serial=1``: one cluster at a time; ``rollout_serial=3``: all at once) and
each scenario (``create``: a new branch, so a new environment on every cluster; ``update``: the same
branch with a new web image), the playbook runs through ansible-runner against the local clusters
aws-eu, aws-us and gce-eu (group ``production`` of a generated inventory). From the job events:

    total      wall time of the whole playbook (checks, preflight on every cluster, rollout, report)
    preflight  the preflight play (dry run on the three clusters at once)
    rollout    the rollout play, first task start to last task end
    per-cluster rollout: first to last task of that cluster in the rollout play; their sum and max

Serial rollout should be close to the *sum* of the per-cluster times, parallel close to their *max*.

    python benchmarks/multicluster.py [--runs 3] [--clusters-dir DIR] [--json OUT] [--keep]

Clusters are started with tests/cluster/cluster.py (reused when already running in the clusters
directory, default ``$CP_CLUSTERS_DIR`` or ``~/.cache/continuouspipe-kubernetes/clusters``); the ones
started here are stopped at the end unless ``--keep``. The environments created are deleted.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
APP = os.path.join(ROOT, "examples", "app")
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
NAMES = ("aws-eu", "aws-us", "gce-eu")
ROLLOUT_PLAY = "Roll out, cluster by cluster"
PREFLIGHT_PLAY = "Preflight on every cluster of the group"
FLOW = "5ea0c0de-0000-4000-8000-00000000d3e0"  # examples/app's identity (examples/demo.sh): no git remote here


def cluster_module():
    spec = importlib.util.spec_from_file_location("cp_cluster", os.path.join(ROOT, "tests", "cluster", "cluster.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_link():
    link = os.path.join(COLLECTIONS, "ansible_collections", "continuouspipe", "kubernetes")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)


def write_inventory(path, clusters):
    data = {
        "plugin": "continuouspipe.kubernetes.clusters",
        "clusters": [{"name": c.name, "connection": {"kubeconfig": str(c.kubeconfig), "context": c.context},
                      "vars": {"continuouspipe_variables": {"CLUSTER_NAME": c.name}}} for c in clusters],
        "environments": {"production": {"clusters": [c.name for c in clusters], "fleet_atomic": True}},
    }
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(data, f, sort_keys=False)


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def run_once(work, inventory, serial, branch, image):
    import ansible_runner

    pdd = tempfile.mkdtemp(prefix="run-", dir=work)
    os.makedirs(os.path.join(pdd, "inventory"))
    shutil.copy(inventory, os.path.join(pdd, "inventory", "bench.clusters.yml"))
    extravars = {"environment_group": "production", "source_dir": APP, "branch": branch, "flow_uuid": FLOW,
                 "rollout_serial": str(serial), "secret_variables": json.dumps({"DATABASE_PASSWORD": "pw-" + uuid.uuid4().hex}),
                 "images": json.dumps({"web": image})}
    envvars = {"ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
               "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    started = time.monotonic()
    runner = ansible_runner.run(private_data_dir=pdd, playbook=os.path.join(ROOT, "playbooks", "deploy.yml"),
                                extravars=extravars, envvars=envvars, quiet=True)
    total = time.monotonic() - started
    if runner.status != "successful":
        tail = "\n".join(runner.stdout.read().splitlines()[-60:])
        raise SystemExit("deploy.yml failed (%s):\n%s" % (runner.status, tail))
    spans = {}
    for event in runner.events:
        data = event.get("event_data") or {}
        if event.get("event") not in ("runner_on_ok", "runner_on_failed") or not data.get("start"):
            continue
        key = (data.get("play"), data.get("host"))
        start, end = parse_time(data["start"]), parse_time(data["end"])
        low, high = spans.get(key, (start, end))
        spans[key] = (min(low, start), max(high, end))

    def play_span(play):
        found = [span for (name, _host), span in spans.items() if name == play]
        return max(s[1] for s in found) - min(s[0] for s in found) if found else 0.0

    per_cluster = {host: span[1] - span[0] for (play, host), span in spans.items() if play == ROLLOUT_PLAY}
    shutil.rmtree(pdd, ignore_errors=True)
    return {"total": total, "preflight": play_span(PREFLIGHT_PLAY), "rollout": play_span(ROLLOUT_PLAY),
            "per_cluster": per_cluster, "sum": sum(per_cluster.values()), "max": max(per_cluster.values())}


def teardown(work, inventory, branch):
    import ansible_runner

    pdd = tempfile.mkdtemp(prefix="teardown-", dir=work)
    ansible_runner.run(private_data_dir=pdd, playbook=os.path.join(ROOT, "playbooks", "teardown.yml"),
                       inventory=inventory, quiet=True,
                       extravars={"environment_group": "production", "source_dir": APP, "branch": branch,
                                  "flow_uuid": FLOW},
                       envvars={"ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
                                "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")})
    shutil.rmtree(pdd, ignore_errors=True)


def median(values):
    return statistics.median(values) if values else 0.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per mode and scenario (default 3)")
    parser.add_argument("--clusters-dir", help="where the clusters live (CP_CLUSTERS_DIR)")
    parser.add_argument("--json", help="write the raw measurements there")
    parser.add_argument("--keep", action="store_true", help="leave the clusters this script started running")
    args = parser.parse_args(argv)
    if args.clusters_dir:
        os.environ["CP_CLUSTERS_DIR"] = args.clusters_dir
    ensure_link()
    cp = cluster_module()
    clusters, started = [], []
    for name in NAMES:
        cluster = cp.Cluster(name)
        cluster.start()
        clusters.append(cluster)
        if not cluster.state.get("reused"):
            started.append(cluster)
    work = tempfile.mkdtemp(prefix="cp-bench-")
    inventory = os.path.join(work, "bench.clusters.yml")
    write_inventory(inventory, clusters)
    results = {"serial": {"create": [], "update": []}, "parallel": {"create": [], "update": []}}
    branches = []
    try:
        for run in range(args.runs):
            for mode, serial in (("serial", 1), ("parallel", len(NAMES))):
                branch = "bench-%s-%s" % (mode, uuid.uuid4().hex[:6])
                branches.append(branch)
                for scenario, image in (("create", "ghcr.io/example/shop-web:1.4.0"),
                                        ("update", "ghcr.io/example/shop-web:1.5.%d" % run)):
                    measured = run_once(work, inventory, serial, branch, image)
                    results[mode][scenario].append(measured)
                    print("run %d %-8s %-6s total %6.1fs  rollout %6.1fs  per cluster %s" % (
                        run + 1, mode, scenario, measured["total"], measured["rollout"],
                        ", ".join("%s %.1fs" % item for item in sorted(measured["per_cluster"].items()))),
                        file=sys.stderr)
                teardown(work, inventory, branch)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep:
            for cluster in started:
                cluster.stop()

    print("| mode | scenario | total | preflight | rollout play | per-cluster rollout (sum / max) | rollout ÷ sum | rollout ÷ max |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for mode in ("serial", "parallel"):
        for scenario in ("create", "update"):
            rows = results[mode][scenario]
            total, preflight = median([r["total"] for r in rows]), median([r["preflight"] for r in rows])
            rollout, total_sum, total_max = (median([r[k] for r in rows]) for k in ("rollout", "sum", "max"))
            print("| %s | %s | %.1f s | %.1f s | %.1f s | %.1f s / %.1f s | %.2f | %.2f |" % (
                mode, scenario, total, preflight, rollout, total_sum, total_max,
                rollout / total_sum if total_sum else 0, rollout / total_max if total_max else 0))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
