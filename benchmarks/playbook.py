"""What users run, measured: the collection through ansible-playbook, against kubectl and kubernetes.core.

Every row is one ``ansible-playbook`` (or ``kubectl``) process started from scratch, timed from the
outside: wall time, and CPU (user + system of the process and the children it waited for, GNU
time). Tools run one after the other, interleaved run by run, against one local control plane
(tests/cluster), each into its own namespace. Sections (``--sections``):

    floor        ansible-playbook with an empty play (localhost): what any playbook costs here
    task         an unchanged ``continuouspipe.kubernetes.deploy`` task (30 services, waiting):
                 in the controller's process (the default) and as a module process
                 (``continuouspipe_in_process=false``); CPU minus the floor is the task's own cost
    pipeline     examples/app on one cluster through playbooks/deploy.yml (preflight, rollout,
                 report), fresh and unchanged, against ``kubectl apply --server-side`` of the same
                 rendered manifests followed by ``kubectl rollout status`` of their Deployments
    rollout      N services (``--services``, default 30 and 200), fresh and unchanged, waiting for
                 rollouts: the deploy module through ansible-playbook; kubectl apply --server-side +
                 rollout status of every Deployment; kubernetes.core.k8s with the whole list as one
                 definition and ``wait: true``
    render       load + translate of N services (1,000 to 3,000) in one process (CPU), and the
                 render module writing the files (the module's main, in the same process)
    run          run-task completion latency: a run task (a pod that completes 1 s after it
                 starts) through ansible-playbook; from the moment a watcher of this script sees
                 the pod Succeeded to the moment the module deletes it (API server audit log)

    python benchmarks/playbook.py [--runs 3] [--sections ...] [--services 30 200] [--readme] [--json OUT]

Ansible runs with Python's default of writing bytecode caches (PYTHONDONTWRITEBYTECODE unset, as on
users' machines; the first of the runs writes them, the median is reported).
Like run.py, the collection runs in a venv with what users install (requirements.txt and the
ansible-core of requirements-dev.txt), kubernetes.core in its own venv (the ``ansible`` package).
``--readme`` rewrites the "through ansible-playbook" tables of benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as base  # noqa: E402  (benchmarks/run.py: venvs, the generated project, the cluster)

ROOT = base.ROOT
APP = ROOT / "examples" / "app"
MARK_BEGIN = "<!-- ansible-results:begin -->"
MARK_END = "<!-- ansible-results:end -->"
SECTIONS = ("floor", "task", "pipeline", "rollout", "render", "run")
AGENT = "continuouspipe.kubernetes"
CLUSTER_NAME = "bench-playbook"
FLOW = "5ea0c0de-0000-4000-8000-00000000d3e0"  # examples/app's identity (examples/demo.sh)

RENDER_SCRIPT = r"""
import json, sys, time, resource
sys.path.insert(0, sys.argv[1])
n, project, out = int(sys.argv[2]), sys.argv[3], sys.argv[4]
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import render
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.source import load_from_params
params = {"source_dir": project, "branch": "main", "variables": {"TAG": "1"}, "flow_uuid": "0b9c6d1e-0000-4000-8000-0000000000b1",
          "secret_variables": {"API_TOKEN": "bench-token"}}
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import gc_pause
load_from_params(params)  # warm: imports, regexes
start = cpu()
with gc_pause.paused():  # as render.load_and_render, which the modules use
    project_model = load_from_params(params)
    loaded = cpu()
    rendered = render.render_tasks(project_model, None)
translated = cpu()
objects = sum(len(item.objects) for item in rendered)
del project_model, rendered  # a module process starts without them
# the render module as Ansible runs it (its main), writing the files
from ansible.module_utils import basic
import io, contextlib
args = dict(params, output_dir=out, _ansible_check_mode=False, _ansible_diff=False, _ansible_no_log=False,
            _ansible_module_name="render", _ansible_tmpdir=None, _ansible_remote_tmp="/tmp")
basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
basic._ANSIBLE_PROFILE = "legacy"
from ansible_collections.continuouspipe.kubernetes.plugins.modules import render as module
buffer = io.StringIO()
before = cpu()
try:
    with contextlib.redirect_stdout(buffer):
        module.main()
except SystemExit:
    pass
after = cpu()
result = json.loads(buffer.getvalue().strip().splitlines()[-1])
assert not result.get("failed"), result
print(json.dumps({"services": n, "objects": objects, "load": loaded - start, "translate": translated - loaded,
                  "module": after - before, "result_bytes": len(buffer.getvalue())}))
"""


def log(message):
    base.log(message)


class Measure:
    def __init__(self, work: Path):
        self.work = work

    def run(self, argv, env, check=True):
        """(wall s, cpu s, stdout) of one process, timed from the outside."""
        out = self.work / ("time-%s" % uuid.uuid4().hex[:6])
        start = time.monotonic()
        proc = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", str(out)] + list(argv), env=env,
                              capture_output=True, text=True, check=False)
        wall = time.monotonic() - start
        if check and proc.returncode != 0:
            raise RuntimeError("%s failed (%s):\n%s\n%s" % (argv[0], proc.returncode, proc.stdout[-4000:],
                                                            proc.stderr[-3000:]))
        user, system, rss = out.read_text().strip().splitlines()[-1].split()
        out.unlink()
        self.peak_mb = int(rss) / 1024.0
        return wall, float(user) + float(system), proc.stdout + proc.stderr


class Bench(base.Bench):
    def __init__(self, args):
        args.keep = getattr(args, "keep", False)
        super().__init__(args)
        # room for 200 services while the namespaces of the previous tool are being deleted (a kwok
        # node takes 110 pods)
        self.cluster = self.cp.Cluster(CLUSTER_NAME, nodes=args.nodes)
        self.measure = Measure(self.work)
        self.results = {}
        self.playbook_bin = str(base.RUNTIME_VENV / "bin" / "ansible-playbook")
        self.python = str(base.RUNTIME_PYTHON)

    # -- helpers -----------------------------------------------------------------------------------

    def ansible_env(self):
        env = dict(self.env)
        env["PATH"] = str(base.RUNTIME_VENV / "bin") + os.pathsep + env.get("PATH", "")
        env.pop("KUBECONFIG", None)
        # Python's default, as on a user's machine: bytecode caches are written (this workplace sets
        # PYTHONDONTWRITEBYTECODE for every process; kubectl and kubernetes.core get the same)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def playbook_file(self, name, tasks, hosts="localhost"):
        path = self.work / ("%s.yml" % name)
        path.write_text(json.dumps([{"hosts": hosts, "gather_facts": False, "tasks": tasks}]))
        return str(path)

    def local_playbook(self, path, *extra, python=None, binary=None):
        return [binary or self.playbook_bin, "-i", "localhost,", "-c", "local",
                "-e", "ansible_python_interpreter=%s" % (python or self.python), path] + list(extra)

    def kctl(self, *args):
        return [self.kubectl] + list(args)

    def delete_namespace(self, namespace):
        """Deleted, and waited for (not measured): the next tool starts on an idle control plane."""
        subprocess.run([self.kubectl, "delete", "namespace", namespace, "--timeout=600s"], env=self.env,
                       capture_output=True, check=False)

    # -- sections ----------------------------------------------------------------------------------

    def floor(self):
        path = self.playbook_file("empty", [])
        rows = [self.measure.run(self.local_playbook(path), self.ansible_env())[:2] for dummy in range(self.args.runs)]
        self.results["floor"] = {"wall": med(r[0] for r in rows), "cpu": med(r[1] for r in rows)}
        log("floor: %.2fs wall, %.2fs cpu" % (self.results["floor"]["wall"], self.results["floor"]["cpu"]))

    def deploy_task(self, namespace, wait=True, **more):
        params = base.module_params(self.project, namespace, self.kubeconfig)
        params.update(wait=wait, **more)
        return {"name": "deploy", "continuouspipe.kubernetes.deploy": params}

    def task(self):
        self.ensure_project(30)
        namespace = "bench-task-%d" % (os.getpid() % 10000)
        path = self.playbook_file("task", [self.deploy_task(namespace)])
        self.measure.run(self.local_playbook(path), self.ansible_env())  # deployed once (not measured)
        self.settle(namespace)
        rows = {"in-process": [], "module": []}
        for dummy in range(self.args.runs):
            for mode, extra in (("in-process", []), ("module", ["-e", "continuouspipe_in_process=false"])):
                wall, cpu, output = self.measure.run(self.local_playbook(path, *extra), self.ansible_env())
                assert "changed=0" in output, output[-2000:]
                rows[mode].append((wall, cpu))
        floor = self.results.get("floor", {}).get("cpu", 0.0)
        self.results["task"] = {mode: {"wall": med(r[0] for r in values), "cpu": med(r[1] for r in values),
                                       "cpu_minus_floor": med(r[1] for r in values) - floor}
                                for mode, values in rows.items()}
        self.delete_namespace(namespace)
        log("task: %s" % self.results["task"])

    def pipeline(self):
        inventory = self.work / "bench.clusters.yml"
        inventory.write_text(json.dumps({
            "plugin": "continuouspipe.kubernetes.clusters",
            "clusters": [{"name": "bench", "connection": {"kubeconfig": self.kubeconfig},
                          "vars": {"continuouspipe_variables": {"CLUSTER_NAME": "bench"}}}],
            "environments": {"uat": ["bench"]}}))
        rows = {"deploy.yml": {"fresh": [], "unchanged": []}, "kubectl": {"fresh": [], "unchanged": []}}
        for attempt in range(self.args.runs):
            branch = "bench-%d-%s" % (attempt, uuid.uuid4().hex[:4])
            argv = [self.playbook_bin, "-i", str(inventory), str(ROOT / "playbooks" / "deploy.yml"),
                    "-e", json.dumps({"environment_group": "uat", "source_dir": str(APP), "branch": branch,
                                      "flow_uuid": FLOW,
                                      "secret_variables": {"DATABASE_PASSWORD": "bench-password-1"}})]
            for phase in ("fresh", "unchanged"):
                wall, cpu, output = self.measure.run(argv, self.ansible_env())
                rows["deploy.yml"][phase].append((wall, cpu))
                self.settle("shop-" + branch)
            lines = output.splitlines()
            self.results.setdefault("pipeline_output", {"lines": len(lines), "banners": sum(
                1 for line in lines if line.startswith("TASK [")), "skipping": sum(
                1 for line in lines if line.startswith("skipping:"))})
            # kubectl: the same manifests (both deploy tasks), rendered with the same variables
            kbranch = "kubectl-%d-%s" % (attempt, uuid.uuid4().hex[:4])
            files, deployments = self.render_app(kbranch)
            namespace = "shop-" + kbranch
            for phase in ("fresh", "unchanged"):
                apply = self.kctl("apply", "--server-side", "--field-manager=bench", *sum((["-f", f] for f in files), []))
                status = self.kctl("-n", namespace, "rollout", "status", *["deployment/%s" % d for d in deployments])
                wall_a, cpu_a = self.measure.run(apply, self.env)[:2]
                wall_s, cpu_s = self.measure.run(status, self.env)[:2]
                rows["kubectl"][phase].append((wall_a + wall_s, cpu_a + cpu_s))
                self.settle(namespace)
            for name in ("shop-" + branch, namespace):
                self.delete_namespace(name)
        self.results["pipeline"] = {tool: {phase: {"wall": med(r[0] for r in values), "cpu": med(r[1] for r in values)}
                                           for phase, values in phases.items()} for tool, phases in rows.items()}
        log("pipeline: %s" % self.results["pipeline"])

    def render_app(self, branch):
        out = self.work / ("rendered-%s" % branch)
        path = self.playbook_file("render-app", [{"continuouspipe.kubernetes.render": {
            "source_dir": str(APP), "branch": branch, "output_dir": str(out), "include_secrets": True, "flow_uuid": FLOW,
            "variables": {"CLUSTER_NAME": "bench"}, "secret_variables": {"DATABASE_PASSWORD": "bench-password-1"}}}])
        self.measure.run(self.local_playbook(path), self.ansible_env())
        files = sorted(str(p) for p in out.rglob("*.yml"))
        # in pipeline order: infrastructure first
        files.sort(key=lambda p: 0 if p.endswith("infrastructure.yml") else 1)
        deployments = []
        import yaml
        for name in files:
            for doc in yaml.safe_load_all(Path(name).read_text()):
                if doc and doc.get("kind") == "Deployment":
                    deployments.append(doc["metadata"]["name"])
        return files, deployments

    def rollout(self):
        for services in self.args.services:
            self.ensure_project(services)
            objects = base.render(self.project, "bench-template")
            deployments = [o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"]
            rows = {tool: {"fresh": [], "unchanged": []} for tool in ("module", "kubectl", "kcore-list-wait")}
            runs = self.args.runs if services <= 100 else self.args.runs_large
            for attempt in range(runs):
                for tool in rows:
                    namespace = "b%d-%s-%d-%s" % (services, tool.replace("-", "")[:8], attempt, uuid.uuid4().hex[:4])
                    argv, env = self.rollout_command(tool, namespace, objects)
                    for phase in ("fresh", "unchanged"):
                        if tool == "kubectl":
                            wall_a, cpu_a = self.measure.run(argv, env)[:2]
                            wall_s, cpu_s = self.measure.run(self.kctl(
                                "-n", namespace, "rollout", "status", "--timeout=600s",
                                *["deployment/%s" % d for d in deployments]), self.env)[:2]
                            wall, cpu = wall_a + wall_s, cpu_a + cpu_s
                        else:
                            wall, cpu = self.measure.run(argv, env)[:2]
                        rows[tool][phase].append((wall, cpu))
                        log("rollout %d %-16s %-9s %6.2fs wall %6.2fs cpu" % (services, tool, phase, wall, cpu))
                        self.settle(namespace)
                    self.delete_namespace(namespace)
            self.results.setdefault("rollout", {})[str(services)] = {
                tool: {phase: {"wall": med(r[0] for r in values), "cpu": med(r[1] for r in values),
                               "walls": [round(r[0], 2) for r in values]}
                       for phase, values in phases.items()} for tool, phases in rows.items()}

    def rollout_command(self, tool, namespace, objects):
        manifests = base.in_namespace(objects, namespace)
        if tool == "module":
            path = self.playbook_file("rollout-" + namespace, [self.deploy_task(namespace)])
            return self.local_playbook(path), self.ansible_env()
        if tool == "kubectl":
            path = self.work / ("%s.yaml" % namespace)
            path.write_text("\n---\n".join(json.dumps(obj) for obj in manifests))
            return self.kctl("apply", "--server-side", "--field-manager=bench", "-f", str(path)), self.env
        vars_file = self.work / ("%s-vars.json" % namespace)
        vars_file.write_text(json.dumps({"manifests": manifests}))
        task = {"name": "apply", "kubernetes.core.k8s": {"definition": "{{ manifests }}", "state": "present",
                                                         "kubeconfig": self.kubeconfig, "wait": True,
                                                         "wait_timeout": 600}}
        path = self.playbook_file("kcore-" + namespace, [task])
        python = str(base.KCORE_VENV / "bin" / "python")
        argv = self.local_playbook(path, "-e", "@%s" % vars_file, python=python,
                                   binary=str(base.KCORE_VENV / "bin" / "ansible-playbook"))
        env = dict(self.env)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as for the collection (ansible_env)
        return argv, env

    def render(self):
        rows = []
        for services in self.args.render_services:
            project = self.work / ("render-%d" % services)
            project.mkdir(exist_ok=True)
            (project / "continuous-pipe.yml").write_text(base.project_text(services))
            samples = []
            for dummy in range(self.args.runs):
                out = self.work / ("render-out-%d-%s" % (services, uuid.uuid4().hex[:4]))
                proc = subprocess.run([self.python, "-c", RENDER_SCRIPT, str(base.collection_path()), str(services),
                                       str(project), str(out)], capture_output=True, text=True, check=True)
                samples.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            row = {key: med(s[key] for s in samples) for key in ("load", "translate", "module", "result_bytes")}
            row.update(services=services, objects=samples[0]["objects"])
            rows.append(row)
            log("render %d: load %.2f translate %.2f module %.2f" % (
                services, row["load"], row["translate"], row["module"]))
        self.results["render"] = rows

    def run_latency(self):
        namespace = "bench-run-%d" % (os.getpid() % 10000)
        subprocess.run(self.kctl("create", "namespace", namespace), env=self.env, capture_output=True, check=False)
        saved = self.work / "run-result.json"
        task = {"name": "run", "continuouspipe.kubernetes.run": {
            "task": "latency", "namespace": namespace, "image": "busybox", "commands": ["true"],
            "kubeconfig": self.kubeconfig}, "register": "ran"}
        save = {"name": "save", "ansible.builtin.copy": {"content": "{{ ran | to_json }}", "dest": str(saved)}}
        path = self.playbook_file("run-latency", [task, save])
        samples = []
        for dummy in range(max(3, self.args.runs)):
            seen = {}
            watcher = threading.Thread(target=self.watch_succeeded, args=(namespace, "run-latency", seen), daemon=True)
            watcher.start()
            while "open" not in seen and watcher.is_alive():
                time.sleep(0.05)  # the watch is open before the pod exists
            position = self.audit_position()
            wall, cpu = self.measure.run(self.local_playbook(path), self.ansible_env())[:2]
            watcher.join(timeout=5)
            deleted = self.audit_pod_delete(position, namespace, "run-latency")
            timings = json.loads(saved.read_text()).get("timings") or {}
            if "succeeded" in seen and deleted is not None and "output" in timings:
                # the module deletes the pod right after it read its output: it saw the end then
                noticed = deleted - timings["output"]
                samples.append({"latency": noticed - seen["succeeded"], "task_wall": wall, "task_cpu": cpu,
                                "timings": timings})
                log("run: completion seen by the module %.2fs after the pod succeeded (task %.2fs; %s)"
                    % (noticed - seen["succeeded"], wall, timings))
        self.results["run"] = {"samples": samples, "latency": med(s["latency"] for s in samples),
                               "max_latency": max((s["latency"] for s in samples), default=0.0),
                               "task_wall": med(s["task_wall"] for s in samples)}
        self.delete_namespace(namespace)

    def watch_succeeded(self, namespace, pod, seen):
        """Record (epoch seconds) when the pod is first seen Succeeded, by a watch of this process."""
        import urllib.request

        path = "/api/v1/namespaces/%s/pods?watch=true&fieldSelector=metadata.name%%3D%s&timeoutSeconds=60" % (
            namespace, pod)
        request = urllib.request.Request(self.cluster.server + path, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, context=self.cluster._ssl(client_cert=True), timeout=70) as response:
            seen["open"] = True
            for line in response:
                event = json.loads(line)
                if ((event.get("object") or {}).get("status") or {}).get("phase") == "Succeeded":
                    seen["succeeded"] = time.time()
                    return

    def audit_pod_delete(self, position, namespace, pod):
        with open(self.cluster.logs / "audit.log", encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                if index < position:
                    continue
                event = json.loads(line)
                ref = event.get("objectRef") or {}
                if event.get("verb") == "delete" and ref.get("resource") == "pods" and ref.get("name") == pod \
                        and ref.get("namespace") == namespace and str(event.get("userAgent", "")).startswith(AGENT):
                    return datetime.datetime.fromisoformat(
                        event["requestReceivedTimestamp"].replace("Z", "+00:00")).timestamp()
        return None

    # -- the run -----------------------------------------------------------------------------------

    def ensure_project(self, services):
        self.project = self.work / ("project-%d" % services)
        if not self.project.exists():
            self.project.mkdir()
            (self.project / "continuous-pipe.yml").write_text(base.project_text(services))

    def run_all(self):
        self.ensure_runtime()
        if "rollout" in self.args.sections:
            self.ensure_kcore()
        self.start()
        for section in SECTIONS:
            if section in self.args.sections:
                log("== %s" % section)
                getattr(self, {"run": "run_latency"}.get(section, section))()
        self.results["machine"] = "%d cores" % os.cpu_count()
        self.results["date"] = time.strftime("%Y-%m-%d")
        if "rollout" in self.args.sections:
            self.results["kubernetes_core"] = self.kcore_version()
        return self.results


def med(values):
    values = list(values)
    return statistics.median(values) if values else 0.0


def tables(results) -> str:
    out = []
    floor = results.get("floor")
    if floor:
        out.append("**ansible-playbook's floor** (an empty play on localhost): %.2f s wall, %.2f s CPU."
                   % (floor["wall"], floor["cpu"]))
    task = results.get("task")
    if task:
        out += ["", "| an unchanged deploy task (30 services) | wall s | CPU s | CPU − floor |", "|---|---:|---:|---:|"]
        for mode, label in (("in-process", "in the controller's process (default)"),
                            ("module", "as a module process (`continuouspipe_in_process=false`)")):
            row = task[mode]
            out.append("| %s | %.2f | %.2f | %.2f |" % (label, row["wall"], row["cpu"], row["cpu_minus_floor"]))
    pipeline = results.get("pipeline")
    if pipeline:
        out += ["", "| examples/app on one cluster | fresh: wall s | fresh: CPU s | unchanged: wall s | unchanged: CPU s |",
                "|---|---:|---:|---:|---:|"]
        for tool, label in (("deploy.yml", "playbooks/deploy.yml (preflight, rollout, report)"),
                            ("kubectl", "kubectl apply --server-side + rollout status")):
            row = pipeline[tool]
            out.append("| %s | %.2f | %.2f | %.2f | %.2f |" % (
                label, row["fresh"]["wall"], row["fresh"]["cpu"], row["unchanged"]["wall"], row["unchanged"]["cpu"]))
        ratio = pipeline["deploy.yml"]["unchanged"]["wall"] / max(pipeline["kubectl"]["unchanged"]["wall"], 1e-9)
        out.append("")
        out.append("Unchanged pipeline ÷ kubectl: **%.2f×** (wall)." % ratio)
        shown = results.get("pipeline_output")
        if shown:
            out.append("Output of the unchanged run: %d lines, %d task banners, %d `skipping:` lines."
                       % (shown["lines"], shown["banners"], shown["skipping"]))
    rollout = results.get("rollout")
    if rollout:
        for services, tools in rollout.items():
            out += ["", "| %s services, waiting for rollouts | fresh: wall s | fresh: CPU s | unchanged: wall s "
                    "| unchanged: CPU s |" % services, "|---|---:|---:|---:|---:|"]
            for tool, label in (("module", "continuouspipe.kubernetes.deploy via ansible-playbook"),
                                ("kubectl", "kubectl apply --server-side + rollout status"),
                                ("kcore-list-wait", "kubernetes.core.k8s, one task with the list, wait: true")):
                row = tools[tool]
                out.append("| %s | %.2f | %.2f | %.2f | %.2f |" % (
                    label, row["fresh"]["wall"], row["fresh"]["cpu"], row["unchanged"]["wall"], row["unchanged"]["cpu"]))
            ours = tools["module"]
            out.append("")
            out.append("Ratios (wall): ours ÷ kubectl fresh **%.2f×**, unchanged %.2f×; kubernetes.core ÷ ours fresh "
                       "**%.1f×**, unchanged **%.1f×**." % (
                           ours["fresh"]["wall"] / tools["kubectl"]["fresh"]["wall"],
                           ours["unchanged"]["wall"] / tools["kubectl"]["unchanged"]["wall"],
                           tools["kcore-list-wait"]["fresh"]["wall"] / ours["fresh"]["wall"],
                           tools["kcore-list-wait"]["unchanged"]["wall"] / ours["unchanged"]["wall"]))
    render = results.get("render")
    if render:
        out += ["", "| services | objects | load CPU s | translate CPU s | load + translate | render module CPU s "
                "| module ÷ (load + translate) | per 1,000 services |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for row in render:
            both = row["load"] + row["translate"]
            out.append("| %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |" % (
                row["services"], row["objects"], row["load"], row["translate"], both, row["module"],
                row["module"] / both, both * 1000.0 / row["services"]))
    run = results.get("run")
    if run and run.get("samples"):
        out += ["", "Run task: the module saw the pod's completion %.2f s (median; max %.2f s over %d runs) after a "
                "watcher saw it Succeeded; the whole task took %.2f s through ansible-playbook (the pod completes 1 s "
                "after it starts)." % (run["latency"], run["max_latency"], len(run["samples"]), run["task_wall"])]
    out.append("")
    out.append("Measured %s, %s%s." % (results.get("date"), results.get("machine"),
                                       ("; kubernetes.core %s" % results["kubernetes_core"])
                                       if results.get("kubernetes_core") else ""))
    return "\n".join(out)


def update_readme(text):
    path = ROOT / "benchmarks" / "README.md"
    content = path.read_text()
    block = "%s\n%s\n%s" % (MARK_BEGIN, text, MARK_END)
    if MARK_BEGIN in content and MARK_END in content:
        content = content[:content.index(MARK_BEGIN)] + block + content[content.index(MARK_END) + len(MARK_END):]
    else:
        content += "\n" + block + "\n"
    path.write_text(content)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    parser.add_argument("--services", nargs="+", type=int, default=[30, 200])
    parser.add_argument("--runs-large", type=int, default=1,
                        help="runs of the rollout section above 100 services (kubernetes.core takes ~20 min each)")
    parser.add_argument("--render-services", nargs="+", type=int, default=[1000, 2000, 3000])
    parser.add_argument("--keep", action="store_true", help="keep the cluster")
    parser.add_argument("--nodes", type=int, default=6, help="kwok nodes of the benchmark's cluster")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--readme", action="store_true")
    args = parser.parse_args(argv)
    bench = Bench(args)
    try:
        results = bench.run_all()
    finally:
        bench.stop()
    text = tables(results)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.readme:
        update_readme(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
