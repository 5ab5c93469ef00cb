"""The render module through ansible-playbook: keyed pod checksums in files and results.

Where Secret values are masked, the checksums computed from them are masked too; files written with
the real values keep their checksum key, so rendering again changes nothing.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
CANARY = "canary-render-module-5e5e"

PIPELINE = """
tasks:
  deployment:
    deploy:
      cluster: local
      services:
        web: {specification: {environment_variables: [{name: DB_PASSWORD, value: "${DB_PASSWORD}"}]}}
"""
COMPOSE = """
version: '2'
services:
  web:
    image: registry.example/web:1
    expose: ["80"]
"""


def run_render(tmp_path, **args):
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "continuous-pipe.yml").write_text(PIPELINE)
    (project / "docker-compose.yml").write_text(COMPOSE)
    module_args = dict(source_dir=str(project), branch="main", sha="abc", flow_uuid="00000000-0000-0000-0000-00000000000a",
                       secret_variables={"DB_PASSWORD": CANARY}, **args)
    playbook = tmp_path / "render.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False, "connection": "local",
        "tasks": [{"continuouspipe.kubernetes.render": module_args, "register": "rendered"},
                  {"ansible.builtin.copy": {"content": "{{ rendered | to_json }}", "dest": str(tmp_path / "result.json")}}],
    }]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(playbook),
         "-e", "ansible_python_interpreter=%s" % sys.executable], capture_output=True, text=True, env=env,
        timeout=300, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert CANARY not in proc.stdout + proc.stderr
    return json.loads((tmp_path / "result.json").read_text())


def objects_of(path):
    with open(path, encoding="utf-8") as handle:
        return {(obj["kind"], obj["metadata"]["name"]): obj for obj in yaml.safe_load_all(handle)}


def checksum(objects):
    return objects[("Deployment", "web")]["spec"]["template"]["metadata"]["annotations"]["continuouspipe.io/checksum"]


def test_masked_files_and_results_mask_the_checksum_and_stay_the_same(tmp_path):
    out = tmp_path / "out"
    first = run_render(tmp_path, output_dir=str(out), return_objects=True)
    assert first["changed"]
    (path,) = first["files"]
    objects = objects_of(path)
    assert checksum(objects) == "hmac-sha256:********"
    assert objects[("Secret", "cp-checksum-key.deployment")]["data"] == {"key": "********"}
    result_objects = {(o["kind"], o["metadata"]["name"]): o for o in first["environments"][0]["objects"]}
    assert checksum(result_objects) == "hmac-sha256:********"
    assert not run_render(tmp_path, output_dir=str(out))["changed"]


def test_files_with_secret_values_keep_their_key(tmp_path):
    out = tmp_path / "out"
    first = run_render(tmp_path, output_dir=str(out), include_secrets=True)
    (path,) = first["files"]
    objects = objects_of(path)
    key = base64.b64decode(objects[("Secret", "cp-checksum-key.deployment")]["data"]["key"])
    assert len(key) == 32
    assert checksum(objects).startswith("hmac-sha256:") and "*" not in checksum(objects)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    # rendered again: the key is read back from the file, nothing changes
    assert not run_render(tmp_path, output_dir=str(out), include_secrets=True)["changed"]
    assert objects_of(path) == objects
    # without the earlier file, a new random key: a different checksum
    fresh = run_render(tmp_path, output_dir=str(tmp_path / "elsewhere"), include_secrets=True)
    assert checksum(objects_of(fresh["files"][0])) != checksum(objects)


def test_a_fixed_checksum_key_gives_the_same_files_anywhere(tmp_path):
    one = run_render(tmp_path, output_dir=str(tmp_path / "one"), include_secrets=True, checksum_key="k" * 40)
    two = run_render(tmp_path, output_dir=str(tmp_path / "two"), include_secrets=True, checksum_key="k" * 40)
    first, second = objects_of(one["files"][0]), objects_of(two["files"][0])
    assert first == second
    assert base64.b64decode(first[("Secret", "cp-checksum-key.deployment")]["data"]["key"]) == b"k" * 40


def test_render_takes_task_like_deploy(tmp_path):
    """Issue 12: ``render task=…`` was "Unsupported parameters"; ``tasks`` keeps working."""
    one = run_render(tmp_path, task="deployment")
    assert [item["task"] for item in one["environments"]] == ["deployment"]
    both = run_render(tmp_path, tasks=["deployment"])
    assert [item["task"] for item in both["environments"]] == ["deployment"]


def test_objects_come_back_only_when_asked_once_the_files_hold_them(tmp_path):
    written = run_render(tmp_path, output_dir=str(tmp_path / "out"))
    (environment,) = written["environments"]
    assert "objects" not in environment
    assert environment["object_count"] == len(objects_of(written["files"][0]))
    returned = run_render(tmp_path)
    (environment,) = returned["environments"]
    assert environment["object_count"] == len(environment["objects"]) > 0
