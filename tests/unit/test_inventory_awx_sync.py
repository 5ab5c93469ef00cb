"""The clusters inventory synced in one Python environment and used by a job in another, as AWX does.

AWX runs ``ansible-inventory --list`` in the execution environment of the inventory source, stores the
host variables, and hands them to jobs as an inventory script, possibly in another execution
environment. The sync here runs with the development venv; the job with the ansible-playbook of
kubernetes.core's venv (``make kcore``), a different Python at a different path. The cluster hosts
must run their modules with the job's Python.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import yaml

from test_connection_kcore import kcore_python

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
COLLECTIONS = os.path.join(ROOT, ".build", "collections")

INVENTORY = {
    "plugin": "continuouspipe.kubernetes.clusters",
    "clusters": [{"name": "aws-eu", "provider": "aws", "connection": {"kubeconfig": "/k/aws.yml", "context": "eu"}},
                 {"name": "gce-eu", "provider": "gce", "connection": {"kubeconfig": "/k/gce.yml", "context": "eu"}}],
    "environments": {"production": ["aws-eu", "gce-eu"]},
}


def clean_env(**extra) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "K8S_AUTH_"))}
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="False", **extra)
    return env


def test_an_inventory_synced_in_one_environment_works_in_a_job_of_another(tmp_path):
    source = tmp_path / "fleet.clusters.yml"
    source.write_text(yaml.safe_dump(INVENTORY))
    sync_python = sys.executable
    listed = subprocess.run([os.path.join(os.path.dirname(sync_python), "ansible-inventory"), "-i", str(source),
                             "--list"], env=clean_env(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS), capture_output=True,
                            text=True, check=True).stdout
    hostvars = json.loads(listed)["_meta"]["hostvars"]
    assert hostvars["aws-eu"]["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
    assert sync_python not in listed and os.path.dirname(sync_python) not in listed

    # the job: AWX's inventory script printing what the sync stored, another Python running ansible-playbook
    script = tmp_path / "awx_inventory.py"
    script.write_text(textwrap.dedent("""\
        #!%s
        import json, sys
        DATA = json.loads(%r)
        print(json.dumps({} if "--host" in sys.argv else DATA))
        """) % (kcore_python(), listed))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    facts = tmp_path / "facts"
    playbook = tmp_path / "job.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "job", "hosts": "production", "gather_facts": False,
        "tasks": [
            {"name": "run a module on the cluster host", "ansible.builtin.setup": {"gather_subset": ["!all", "!min", "python"]}},
            {"name": "record its Python", "ansible.builtin.copy": {
                "dest": str(facts) + "-{{ inventory_hostname }}", "content": "{{ ansible_facts.python.executable }}"},
             "delegate_to": "localhost"},
        ]}]))
    job_python = kcore_python()
    done = subprocess.run([os.path.join(os.path.dirname(job_python), "ansible-playbook"), "-i", str(script),
                           str(playbook)], cwd=tmp_path, env=clean_env(), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    for host in ("aws-eu", "gce-eu"):
        used = (tmp_path / ("facts-%s" % host)).read_text()
        assert os.path.realpath(used) == os.path.realpath(job_python) or used == job_python, used
        assert used != sync_python
