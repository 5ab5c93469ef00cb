"""Issue 10 against a real control plane: what a branch's files can no longer do to an environment.

* ``services: {}`` in a branch used to prune every workload and Service of the environment;
  now it is an error before any request, unless ``allow_empty_services``.
* a secret variable's value in a field that is not stored in a Secret (an image tag) used to be
  written in clear into the Deployment; now it is an error naming the key path, before any request.
"""
from __future__ import annotations

from deploy_helpers import live, settle

FULL = """
tasks:
  deployment:
    deploy:
      cluster: local
      services:
        web:
          specification:
            source: {image: registry.example/web, tag: "1"}
            ports: [80]
"""
EMPTIED = """
tasks:
  deployment:
    deploy:
      cluster: local
      services: {}
"""
SECRET_TAG = """
tasks:
  deployment:
    deploy:
      cluster: local
      services:
        web:
          specification:
            source: {image: registry.example/web, tag: "${RELEASE_TOKEN}"}
"""


def _args(project, namespace, **extra):
    return dict({"source_dir": str(project), "branch": "main", "namespace": namespace,
                 "flow_uuid": "00000000-0000-4000-8000-00000000c0de"}, **extra)


def test_an_emptied_task_does_not_empty_the_environment(ansible, tmp_path, env_namespace, kube, writes):
    project = tmp_path / "project"
    project.mkdir()
    (project / "continuous-pipe.yml").write_text(FULL)
    first = ansible.run("continuouspipe.kubernetes.deploy", _args(project, env_namespace))
    assert not first.get("failed"), first.get("msg")
    (project / "continuous-pipe.yml").write_text(EMPTIED)
    settle(kube)
    writes.start()
    refused = ansible.run("continuouspipe.kubernetes.deploy", _args(project, env_namespace))
    assert refused.get("failed") and refused["changed"] is False
    assert "tasks.deployment.deploy.services" in refused["msg"] and "allow_empty_services" in refused["msg"]
    assert writes.audit_writes() == []
    assert live(kube, "Deployment", "web", env_namespace) is not None
    emptied = ansible.run("continuouspipe.kubernetes.deploy",
                          _args(project, env_namespace, allow_empty_services=True))
    assert not emptied.get("failed"), emptied.get("msg")
    assert emptied["services"]["web"]["deleted"] is True
    assert live(kube, "Deployment", "web", env_namespace) is None


def test_a_secret_in_an_image_tag_is_refused_before_any_request(ansible, tmp_path, env_namespace, kube, writes):
    project = tmp_path / "project"
    project.mkdir()
    (project / "continuous-pipe.yml").write_text(SECRET_TAG)
    settle(kube)
    writes.start()
    refused = ansible.run("continuouspipe.kubernetes.deploy",
                          _args(project, env_namespace, secret_variables={"RELEASE_TOKEN": "s3cr3t-t0ken"}))
    assert refused.get("failed")
    assert "tasks.deployment.deploy.services.web.specification.source.tag" in refused["msg"]
    assert writes.audit_writes() == []
    assert live(kube, "Namespace", env_namespace, None) is None
