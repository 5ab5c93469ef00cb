"""Deploying one environment: continuouspipe.kubernetes against kubectl and kubernetes.core, side by side.

A generated project of N services (default 30; each a Deployment, a Service and a Secret for its
secret env var: 3N objects plus the Namespace) is rendered once by the collection's translator; the
*same* manifests are then deployed, each tool into its own namespace of one local control plane
(tests/cluster), twice: fresh, then again unchanged.

    engine           module_utils.cluster.engine in a fresh Python process (what the module runs),
                     not waiting for rollouts, like the others
    engine+wait      the same, waiting for every rollout (the module's default)
    module           continuouspipe.kubernetes.deploy through ansible-playbook (load, translate, apply, wait)
    kubectl-ss       kubectl apply --server-side -f all.yaml (kubectl from the build dir; discovery cache warm)
    kcore-loop       kubernetes.core.k8s with loop: one task item per manifest (state: present)
    kcore-list       kubernetes.core.k8s with the whole list as one definition (its advice for slow loops)

Between two measurements the rollouts of the previous one are waited for (not measured), so no run
shares the CPUs with the pods the previous one started. Measured per run: wall time, write requests of the client (from the API server's audit log: create,
update, patch and delete requests on the tool's namespace and its objects; the control plane's own
writes are not audited), and peak memory (max RSS of the largest process of the run, GNU time).

    python benchmarks/run.py [--services 30] [--runs 3] [--keep] [--readme]

The engine and module rows run in a venv holding what users install (requirements.txt and the
ansible-core of requirements-dev.txt, ``~/.cache/continuouspipe-kubernetes/bench-runtime-venv``), not in
the development venv. kubernetes.core comes from the ``ansible`` package installed into a separate venv
(``make kcore``: ``~/.cache/continuouspipe-kubernetes/kcore-venv-<key>`` from tests/kcore-requirements.txt,
created on first use, shared with the side-by-side connection tests; never part of
requirements-dev.txt). ``--readme`` rewrites the results table of benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = Path(sys.executable)
KCORE_REQUIREMENTS = Path(__file__).resolve().parents[1] / "tests" / "kcore-requirements.txt"
# the venv of `make kcore` (keyed like the Makefile's: requirements file + Python version), shared with the
# side-by-side connection tests
KCORE_VENV = Path(os.environ.get("CP_KCORE_PYTHON") or os.path.expanduser(
    "~/.cache/continuouspipe-kubernetes/kcore-venv-%s/bin/python" % hashlib.sha256(
        KCORE_REQUIREMENTS.read_bytes() + sys.version.encode()).hexdigest()[:12])).parents[1]
# The collection runs in a venv with what users install (requirements.txt + ansible-core), not in the
# development venv: kubernetes.dynamic imports optional packages when they are there (kubernetes_validate
# and jsonschema, test-only here), which adds ~0.2 s to every start of a process using the client.
RUNTIME_VENV = Path(os.path.expanduser("~/.cache/continuouspipe-kubernetes/bench-runtime-venv"))
RUNTIME_PYTHON = RUNTIME_VENV / "bin" / "python"
CLUSTER_NAME = "bench"
TOOLS = ("engine", "engine+wait", "module", "kubectl-ss", "kcore-loop", "kcore-list")
MARK_BEGIN = "<!-- results:begin -->"
MARK_END = "<!-- results:end -->"


def log(message: str) -> None:
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def cluster_module():
    spec = importlib.util.spec_from_file_location("bench_cluster", ROOT / "tests" / "cluster" / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_cluster"] = module
    spec.loader.exec_module(module)
    return module


def collection_path() -> Path:
    link = ROOT / ".build" / "collections" / "ansible_collections" / "continuouspipe" / "kubernetes"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(ROOT)
    return ROOT / ".build" / "collections"


# --------------------------------------------------------------------------------------------------
# the environment


def project_text(services: int) -> str:
    """N services, one line each (flow style), so that 3,000 of them stay under the 1 MiB a project
    file may have (``config.files.MAX_FILE_BYTES``)."""
    lines = ["tasks:", "  deployment:", "    deploy:", "      cluster: bench", "      services:"]
    for index in range(services):
        lines.append(
            '        svc%02d: {specification: {source: {image: registry.example/svc%02d, tag: "${TAG}"}, ports: [8080], '
            'environment_variables: [{name: APP_ENV, value: production}, {name: SERVICE_INDEX, value: "%d"}, '
            '{name: API_TOKEN, value: "${API_TOKEN}"}], resources: {requests: {cpu: 10m, memory: 16Mi}}}}'
            % (index, index, index))
    return "\n".join(lines) + "\n"


def module_params(project: Path, namespace: str, kubeconfig: str) -> dict:
    # the generated project is no git checkout: its identity is given
    return {"source_dir": str(project), "branch": "main", "namespace": namespace, "kubeconfig": kubeconfig,
            "flow_uuid": "0b9c6d1e-0000-4000-8000-0000000000b1",
            "variables": {"TAG": "1"}, "secret_variables": {"API_TOKEN": "bench-token"}}


def render(project: Path, namespace: str) -> list:
    sys.path.insert(0, str(collection_path()))
    from ansible.plugins.loader import init_plugin_loader
    init_plugin_loader([str(collection_path())])
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import render as render_mod
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.source import load_from_params

    project_model = load_from_params(module_params(project, namespace, ""))
    options = render_mod.TranslateOptions(namespace=namespace, checksum_key=b"benchmark-pod-checksum-key-00032")
    (rendered,) = render_mod.render_tasks(project_model, ["deployment"], options)
    return rendered.objects


def in_namespace(objects: list, namespace: str) -> list:
    out = json.loads(json.dumps(objects))
    for obj in out:
        if obj["kind"] == "Namespace":
            obj["metadata"]["name"] = namespace
            for key in list(obj["metadata"].get("labels", {})):
                if key in ("continuous-pipe-environment", "continuouspipe.io/environment"):
                    obj["metadata"]["labels"][key] = namespace
        else:
            obj["metadata"]["namespace"] = namespace
    return out


# --------------------------------------------------------------------------------------------------
# running one tool


def engine_main(argv) -> int:
    """``run.py _engine KUBECONFIG NAMESPACE MANIFESTS.json WAIT``: one deploy, as its own process."""
    kubeconfig, namespace, manifests, wait = argv
    # ansible_collections/... is a plain namespace package tree: no Ansible machinery needed to import it
    sys.path.insert(0, str(collection_path()))
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import connection, engine

    objects = json.loads(Path(manifests).read_text())
    cluster = connection.connect({"kubeconfig": kubeconfig})
    options = engine.DeployOptions(task="deployment", namespace=namespace, wait=wait == "1")
    result = engine.deploy(cluster, engine.ManifestEnvironment(namespace, objects), options)
    print(json.dumps({"changed": result.changed, "timings": result.timings}))
    return 0


class Bench:
    def __init__(self, args):
        self.args = args
        self.cp = cluster_module()
        self.cluster = self.cp.Cluster(CLUSTER_NAME)
        self.work = Path(tempfile.mkdtemp(prefix="cp-bench-"))
        self.kubectl = None
        self.started = False

    def start(self) -> None:
        self.started = not self.cluster.healthy()
        self.kubeconfig = str(self.cluster.start())
        self.kubectl = str(Path(self.cluster.state["bin"]) / "kubectl")
        self.env = dict(os.environ, KUBECONFIG=self.kubeconfig, KUBECACHEDIR=str(self.work / "kube-cache"),
                        ANSIBLE_COLLECTIONS_PATH=str(collection_path()), ANSIBLE_NOCOLOR="1",
                        ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
        # kubectl's discovery cache warm, as on a workstation
        subprocess.run([self.kubectl, "api-resources"], env=self.env, capture_output=True, check=True)

    def stop(self) -> None:
        if self.started and not self.args.keep:
            self.cluster.stop()

    def audit_position(self) -> int:
        try:
            with open(self.cluster.logs / "audit.log", "rb") as handle:
                return sum(1 for _line in handle)
        except FileNotFoundError:
            return 0

    def audit_writes(self, start: int, namespace: str) -> int:
        count = 0
        with open(self.cluster.logs / "audit.log", encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                if index < start:
                    continue
                event = json.loads(line)
                ref = event.get("objectRef") or {}
                if ref.get("namespace") == namespace or (ref.get("resource") == "namespaces"
                                                         and ref.get("name") == namespace):
                    count += 1
        return count

    def timed(self, argv, env=None) -> tuple:
        rss_file = self.work / "rss"
        start = time.monotonic()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss_file)] + argv, env=env or self.env,
                              capture_output=True, text=True, check=False)
        seconds = time.monotonic() - start
        if proc.returncode != 0:
            raise RuntimeError("%s failed (%s):\n%s\n%s" % (argv[0], proc.returncode, proc.stdout[-3000:],
                                                            proc.stderr[-3000:]))
        self.last_stdout = proc.stdout
        return seconds, int(rss_file.read_text().strip().splitlines()[-1]) / 1024.0

    def settle(self, namespace: str) -> None:
        """Not measured: wait until the rollouts a run started are done and the control plane is idle,
        so that the next measurement does not share the CPUs with the previous one's pods."""
        subprocess.run([self.kubectl, "-n", namespace, "wait", "deployment", "--all", "--for=condition=Available",
                        "--timeout=600s"], env=self.env, capture_output=True, check=False)
        time.sleep(2.0)

    # -- tools -------------------------------------------------------------------------------------

    def command(self, tool: str, namespace: str, objects: list) -> list:
        manifests = self.work / ("%s.json" % namespace)
        manifests.write_text(json.dumps(objects))
        if tool in ("engine", "engine+wait"):
            return [str(RUNTIME_PYTHON), str(Path(__file__).resolve()), "_engine", self.kubeconfig, namespace,
                    str(manifests), "1" if tool == "engine+wait" else "0"]
        if tool == "kubectl-ss":
            path = self.work / ("%s.yaml" % namespace)
            path.write_text("\n---\n".join(json.dumps(obj) for obj in objects))
            return [self.kubectl, "apply", "--server-side", "--field-manager=bench", "-f", str(path)]
        if tool == "module":
            params = module_params(self.project, namespace, self.kubeconfig)
            return self.playbook(namespace, [{"name": "deploy", "continuouspipe.kubernetes.deploy": params}],
                                 str(RUNTIME_VENV / "bin" / "ansible-playbook"), str(RUNTIME_PYTHON))
        python = str(KCORE_VENV / "bin" / "python")
        if tool == "kcore-loop":
            task = {"name": "apply", "kubernetes.core.k8s": {"definition": "{{ item }}", "state": "present",
                                                             "kubeconfig": self.kubeconfig},
                    "loop": "{{ manifests }}", "loop_control": {"label": "{{ item.kind }}/{{ item.metadata.name }}"}}
        else:
            task = {"name": "apply", "kubernetes.core.k8s": {"definition": "{{ manifests }}", "state": "present",
                                                             "kubeconfig": self.kubeconfig}}
        (self.work / ("%s-vars.json" % namespace)).write_text(json.dumps({"manifests": objects}))
        return self.playbook(namespace, [task], str(KCORE_VENV / "bin" / "ansible-playbook"), python,
                             vars_file=self.work / ("%s-vars.json" % namespace))

    def playbook(self, namespace, tasks, ansible_playbook, python, vars_file=None) -> list:
        path = self.work / ("%s.yml" % namespace)
        path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
        argv = [ansible_playbook, "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=%s" % python]
        if vars_file:
            argv += ["-e", "@%s" % vars_file]
        return argv + [str(path)]

    def ensure_runtime(self) -> None:
        """A venv with requirements.txt and the ansible-core of requirements-dev.txt, rebuilt when they change."""
        wanted = [line.strip() for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
                  if line.strip().startswith("ansible-core")]
        wanted += [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
                   if line.strip() and not line.startswith("#")]
        stamp = RUNTIME_VENV / ".requirements"
        if stamp.exists() and stamp.read_text() == "\n".join(wanted):
            return
        log("installing %s into %s" % (", ".join(wanted), RUNTIME_VENV))
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(RUNTIME_VENV)], check=True)
        subprocess.run([str(RUNTIME_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                        *wanted], check=True)
        stamp.write_text("\n".join(wanted))

    def ensure_kcore(self) -> None:
        if (KCORE_VENV / ".complete").exists():
            return
        log("installing the ansible package (kubernetes.core) into %s" % KCORE_VENV)
        subprocess.run([sys.executable, "-m", "venv", str(KCORE_VENV)], check=True)
        subprocess.run([str(KCORE_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(KCORE_REQUIREMENTS)], check=True)
        (KCORE_VENV / ".complete").touch()

    def kcore_version(self) -> str:
        out = subprocess.run([str(KCORE_VENV / "bin" / "ansible-galaxy"), "collection", "list", "kubernetes.core"],
                             capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("kubernetes.core"):
                return line.rsplit(maxsplit=1)[-1]
        return "?"

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> dict:
        self.ensure_runtime()
        self.ensure_kcore()
        self.start()
        self.project = self.work / "project"
        self.project.mkdir()
        (self.project / "continuous-pipe.yml").write_text(project_text(self.args.services))
        objects = render(self.project, "bench-template")
        log("%d objects per environment (%d services)" % (len(objects), self.args.services))
        rows = {tool: {"fresh": [], "unchanged": []} for tool in self.args.tools}
        for attempt in range(self.args.runs):
            for tool in self.args.tools:
                namespace = "bench-%s-%d-%d" % (tool.replace("+", "-"), attempt, os.getpid() % 10000)
                manifests = in_namespace(objects, namespace)
                for phase in ("fresh", "unchanged"):
                    argv = self.command(tool, namespace, manifests)
                    position = self.audit_position()
                    seconds, rss = self.timed(argv)
                    self.settle(namespace)
                    writes = self.audit_writes(position, namespace)
                    row = {"seconds": round(seconds, 2), "writes": writes, "rss_mb": round(rss, 1)}
                    if tool.startswith("engine"):
                        row["engine_timings"] = json.loads(self.last_stdout.strip().splitlines()[-1])["timings"]
                    rows[tool][phase].append(row)
                    log("%-12s %-9s %6.2fs %4d writes %6.1f MB" % (tool, phase, seconds, writes, rss))
                if not self.args.keep:
                    subprocess.run([self.kubectl, "delete", "namespace", namespace, "--wait=false"], env=self.env,
                                   capture_output=True, check=False)
        return {"services": self.args.services, "objects": len(objects), "runs": self.args.runs,
                "kubernetes_core": self.kcore_version(), "machine": "%d cores" % os.cpu_count(), "rows": rows}


def table(results: dict) -> str:
    label = {
        "engine": "continuouspipe engine (no wait)",
        "engine+wait": "continuouspipe engine (wait for rollouts)",
        "module": "continuouspipe.kubernetes.deploy via ansible-playbook (wait)",
        "kubectl-ss": "kubectl apply --server-side",
        "kcore-loop": "kubernetes.core.k8s, loop over manifests",
        "kcore-list": "kubernetes.core.k8s, one task with the list",
    }
    lines = ["| tool | fresh: wall s | fresh: writes | fresh: peak MB | unchanged: wall s | unchanged: writes "
             "| unchanged: peak MB |", "|---|---:|---:|---:|---:|---:|---:|"]
    for tool, phases in results["rows"].items():
        cells = []
        for phase in ("fresh", "unchanged"):
            runs = phases[phase]
            cells += ["%.2f" % statistics.median(r["seconds"] for r in runs),
                      "%d" % statistics.median(r["writes"] for r in runs),
                      "%.0f" % max(r["rss_mb"] for r in runs)]
        lines.append("| %s | %s |" % (label.get(tool, tool), " | ".join(cells)))
    return "\n".join(lines)


def update_readme(results: dict, text: str) -> None:
    path = ROOT / "benchmarks" / "README.md"
    content = path.read_text() if path.exists() else ""
    block = "%s\n%s\n\n%d services, %d objects, median of %d run(s); kubernetes.core %s; %s; measured %s.\n%s" % (
        MARK_BEGIN, text, results["services"], results["objects"], results["runs"], results["kubernetes_core"],
        results["machine"], time.strftime("%Y-%m-%d"), MARK_END)
    if MARK_BEGIN in content and MARK_END in content:
        content = content[:content.index(MARK_BEGIN)] + block + content[content.index(MARK_END) + len(MARK_END):]
    else:
        content += "\n" + block + "\n"
    path.write_text(content)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_engine":
        return engine_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--services", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=TOOLS)
    parser.add_argument("--keep", action="store_true", help="keep the cluster and the namespaces")
    parser.add_argument("--json", type=Path, help="write the raw results there")
    parser.add_argument("--readme", action="store_true", help="rewrite the table in benchmarks/README.md")
    args = parser.parse_args(argv)
    bench = Bench(args)
    try:
        results = bench.run()
    finally:
        bench.stop()
    text = table(results)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.readme:
        update_readme(results, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
