"""The collection's modules run in the controller's process (their action plugins) for local tasks.

Through ansible-playbook, without a cluster: the in-process run gives the same registered result as
the module run as its own process (``continuouspipe_in_process=false``) — arguments checked, secret
values masked, warnings in the result — and the pipeline module prints one line per pipeline task
while it runs (only in-process: a module process cannot print before it ends).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
APP = os.path.join(ROOT, "examples", "app")
FLOW = "5ea0c0de-0000-4000-8000-00000000d3e0"
CANARY = "canary-in-process-2b7d"


def playbook(tmp_path, tasks, *args):
    path = tmp_path / "play.yml"
    tasks = list(tasks) + [{"ansible.builtin.copy": {"content": "{{ results | to_json }}",
                                                     "dest": str(tmp_path / "results.json")},
                            "vars": {"results": "{{ [first | default({}), second | default({})] }}"}}]
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "connection": "local",
                                     "tasks": tasks}]))
    output = ansible_playbook(path, *args)
    assert CANARY not in output
    return json.loads((tmp_path / "results.json").read_text()), output


def ansible_playbook(path, *args, collections=os.path.join(ROOT, ".build", "collections"), env_changes=None):
    """Output of a successful ansible-playbook run of ``path`` (K8S_AUTH_KUBECONFIG unset, and ``env_changes``:
    a value of None unsets the variable)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
    env.pop("K8S_AUTH_KUBECONFIG", None)
    for name, value in (env_changes or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(path),
                           "-e", "ansible_python_interpreter=%s" % sys.executable, *args],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    return output


def comparable(result):
    out = dict(result)
    out.pop("invocation", None)
    return out


def test_in_process_and_module_process_give_the_same_result(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    # a duplicate key: a load warning, which must reach the result in both ways
    (project / "continuous-pipe.yml").write_text(
        "tasks:\n  web:\n    deploy:\n      services:\n        web:\n          specification:\n"
        "            source: {image: nginx}\n            source: {image: httpd}\n"
        "            environment_variables: [{name: TOKEN, value: '${TOKEN}'}]\n")
    args = {"source_dir": str(project), "branch": "main", "flow_uuid": FLOW, "secret_variables": {"TOKEN": CANARY}}
    (first, second), output = playbook(tmp_path, [
        {"continuouspipe.kubernetes.render": args, "register": "first"},
        {"continuouspipe.kubernetes.render": args, "register": "second", "vars": {"continuouspipe_in_process": False}},
    ])
    assert comparable(first) == comparable(second)
    assert any('duplicate key "source"' in warning for warning in first["warnings"])
    secret = next(o for o in first["environments"][0]["objects"] if o["kind"] == "Secret" and o["metadata"]["name"] != "cp-checksum-key.web")
    assert set(secret["data"].values()) == {"********"}
    assert 'duplicate key "source"' in output  # shown (Ansible shows a repeated warning once)


def test_the_pipeline_prints_one_line_per_task_while_it_runs(tmp_path):
    # only the web_hook task: nothing of it reaches a cluster, every task is reported
    args = {"source_dir": APP, "branch": "main", "flow_uuid": FLOW, "cluster": "here", "only_tasks": ["notify"],
            "variables": {"CLUSTER_NAME": "here"},
            "secret_variables": {"DATABASE_PASSWORD": CANARY}, "host": "https://127.0.0.1:9"}
    (first, second), output = playbook(tmp_path, [
        {"name": "in-process", "continuouspipe.kubernetes.pipeline": args, "register": "first"},
        {"name": "as a module", "continuouspipe.kubernetes.pipeline": args, "register": "second",
         "vars": {"continuouspipe_in_process": False}},
    ])
    assert comparable(first) == comparable(second)
    assert first["status"] == "unchanged" and first["changed"] is False
    assert [(t["task"], t["status"]) for t in first["tasks"]] == [
        ("infrastructure", "skipped"), ("migrations", "skipped"), ("application", "skipped"),
        ("smoke_test", "skipped"), ("notify", "skipped")]
    assert first["tasks"][0]["reason"] == "not selected (only notify)"
    assert first["tasks"][4]["reason"].startswith("web_hook tasks are not run by this collection")
    in_process = output[output.index("TASK [in-process]"):output.index("TASK [as a module]")]
    lines = [line for line in in_process.splitlines() if line.startswith("[localhost] ")]
    assert lines == ["[localhost] infrastructure (deploy): skipped, not selected (only notify)",
                     "[localhost] migrations (run): skipped, not selected (only notify)",
                     "[localhost] application (deploy): skipped, not selected (only notify)",
                     "[localhost] smoke_test (run): skipped, not selected (only notify)",
                     "[localhost] notify (web_hook): skipped, " + first["tasks"][4]["reason"]]
    as_module = output[output.index("TASK [as a module]"):]
    assert "[localhost] " not in as_module


def test_an_unknown_task_fails_before_any_request_with_the_outcome(tmp_path):
    args = {"source_dir": APP, "branch": "main", "flow_uuid": FLOW, "cluster": "here", "only_tasks": ["nope"],
            "host": "https://127.0.0.1:9", "undefined_variables": "keep"}
    (first, second), output = playbook(tmp_path, [
        {"continuouspipe.kubernetes.pipeline": args, "register": "first", "ignore_errors": True}])
    assert first["failed"] is True
    assert first["msg"] == ("here: only_tasks: unknown task(s) nope; the pipeline of main has: infrastructure, "
                            "migrations, application, smoke_test, notify")
    assert first["status"] == "failed" and first["failed_task"] == "" and first["tasks"] == []


def collection_copy(tmp_path):
    """This collection copied (plugins and metadata) into a collections path of its own."""
    root = tmp_path / "collections"
    target = root / "ansible_collections" / "continuouspipe" / "kubernetes"
    shutil.copytree(os.path.join(ROOT, "plugins"), target / "plugins",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(os.path.join(ROOT, "meta"), target / "meta")
    shutil.copy(os.path.join(ROOT, "galaxy.yml"), target / "galaxy.yml")
    return root, target


def render_playbook(tmp_path, collections, env_changes):
    out = tmp_path / "rendered"
    path = tmp_path / "render.yml"
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "connection": "local", "tasks": [
        {"continuouspipe.kubernetes.render": {"source_dir": APP, "branch": "main", "flow_uuid": FLOW,
                                              "output_dir": str(out), "variables": {"CLUSTER_NAME": "local"},
                                              "secret_variables": {"DATABASE_PASSWORD": CANARY}}}]}]))
    ansible_playbook(path, collections=collections, env_changes=env_changes)
    return sorted(p.name for p in out.rglob("*.yml"))


def test_module_utils_get_a_bytecode_cache_unless_python_is_told_not_to_write_one(tmp_path):
    # Ansible's collection loader compiles every module from source in every run; in the controller's
    # process the collection's own files are loaded by Python's file loader, which keeps __pycache__
    collections, target = collection_copy(tmp_path)
    cached = target / "plugins" / "module_utils" / "__pycache__"
    assert render_playbook(tmp_path, collections, {"PYTHONDONTWRITEBYTECODE": "1"})
    assert not cached.exists()
    files = render_playbook(tmp_path, collections, {"PYTHONDONTWRITEBYTECODE": None})
    names = {p.name.split(".")[0] for p in cached.glob("*.pyc")}
    assert {"render", "source", "manifests", "naming"} <= names, names
    assert any((target / "plugins" / "module_utils" / "config" / "__pycache__").glob("loader.*.pyc"))
    assert any((target / "plugins" / "modules" / "__pycache__").glob("render.*.pyc"))
    # and a run that reads them renders the same files
    assert render_playbook(tmp_path, collections, {"PYTHONDONTWRITEBYTECODE": None}) == files


def test_the_finder_only_finds_plain_files_of_this_collection(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))
    try:
        from ansible_collections.continuouspipe.kubernetes.plugins.plugin_utils.in_process import (
            BytecodeCachingFinder,
        )
    finally:
        sys.path.pop(0)
    plugins = tmp_path / "plugins"
    (plugins / "module_utils" / "sub").mkdir(parents=True)
    (plugins / "module_utils" / "sub" / "__init__.py").write_text("")
    (plugins / "module_utils" / "thing.py").write_text("VALUE = 1\n")
    (plugins / "modules").mkdir()
    (plugins / "modules" / "mod.py").write_text("")
    (plugins / "filter").mkdir()
    (plugins / "filter" / "f.py").write_text("")
    finder = BytecodeCachingFinder(str(plugins))
    prefix = "ansible_collections.continuouspipe.kubernetes.plugins."
    spec = finder.find_spec(prefix + "module_utils.thing")
    assert spec is not None and spec.origin == str(plugins / "module_utils" / "thing.py")
    assert finder.find_spec(prefix + "modules.mod").origin == str(plugins / "modules" / "mod.py")
    for name in ("module_utils.sub",  # a package: the collection loader's
                 "module_utils.missing", "filter.f", "module_utils", "module_utils..thing",
                 "module_utils.sub.__init__x", "module_utils.thing-x"):
        assert finder.find_spec(prefix + name) is None, name
    assert finder.find_spec("ansible_collections.other.collection.plugins.module_utils.thing") is None
    assert finder.find_spec("thing") is None
