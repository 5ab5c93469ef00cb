# -*- coding: utf-8 -*-
"""Privileged containers and hostPath volumes come from files whoever can push a branch writes: they
are refused, naming each key path, unless the deploy allows host access (``allow_host_access``)."""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError, DefinitionErrors
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.source import load_from_params

from cp_load_helpers import service, task

PRIVILEGED = """
tasks:
  kube:
    deploy:
      cluster: foo
      services:
        api:
          specification:
            source: {image: api, tag: v1}
            runtime_policy: {privileged: true}
"""

HOST_PATH = """
tasks:
  kube:
    deploy:
      cluster: foo
      services:
        api:
          specification:
            source: {image: api, tag: v1}
            volumes:
              - {name: cache, type: emptyDirectory}
              - {name: socket, type: hostPath, path: /var/run/docker.sock}
            volume_mounts:
              - {name: socket, mount_path: /var/run/docker.sock}
"""

RUN_HOST_PATH = """
tasks:
  migrate:
    run:
      cluster: foo
      image: {name: busybox}
      commands: [ls]
      volumes: [{name: root, type: hostPath, path: /}]
      volume_mounts: [{name: root, mount_path: /host}]
"""


def _errors(raised):
    error = raised.value
    return error.errors if isinstance(error, DefinitionErrors) else [error]


def test_a_privileged_container_is_refused_naming_its_key_and_the_option(project):
    project.write("continuous-pipe.yml", PRIVILEGED)
    with pytest.raises(DefinitionError) as raised:
        project.load()
    (error,) = _errors(raised)
    assert error.key_path == "tasks.kube.deploy.services.api.specification.runtime_policy.privileged"
    assert error.file == "continuous-pipe.yml"
    assert "allow_host_access: true" in error.expected and "privileged: false" in error.expected
    assert service(project.load(allow_host_access=True), "kube", "api").privileged is True


def test_a_host_path_volume_is_refused_and_other_volumes_are_not(project):
    project.write("continuous-pipe.yml", HOST_PATH)
    with pytest.raises(DefinitionError) as raised:
        project.load()
    (error,) = _errors(raised)
    assert error.key_path == "tasks.kube.deploy.services.api.specification.volumes[1].type"
    assert "hostPath" in error.message
    allowed = service(project.load(allow_host_access=True), "kube", "api")
    assert [volume.type for volume in allowed.volumes] == ["emptyDirectory", "hostPath"]
    project.write("continuous-pipe.yml", HOST_PATH.replace("type: hostPath, path: /var/run/docker.sock",
                                                           "type: persistent, capacity: 1Gi"))
    assert [volume.type for volume in service(project.load(), "kube", "api").volumes] == ["emptyDirectory",
                                                                                          "persistent"]


def test_a_run_task_cannot_mount_the_node_either(project):
    project.write("continuous-pipe.yml", RUN_HOST_PATH)
    with pytest.raises(DefinitionError) as raised:
        project.load()
    (error,) = _errors(raised)
    assert error.key_path == "tasks.migrate.run.volumes[0].type"
    assert task(project.load(allow_host_access=True), "migrate").volumes[0].type == "hostPath"


def test_docker_compose_privileged_and_absolute_volumes_are_both_named_in_its_own_keys(project):
    project.write("docker-compose.yml", "api:\n  image: api:v1\n  privileged: true\n"
                                        "  volumes: ['/var/run/docker.sock:/var/run/docker.sock', 'data:/data']\n")
    project.write("continuous-pipe.yml", "tasks: {kube: {deploy: {cluster: foo}}}\n")
    with pytest.raises(DefinitionError) as raised:
        project.load()
    errors = _errors(raised)
    assert len(errors) == 2
    text = raised.value.describe()
    assert "services.api.privileged in docker-compose.yml" in text
    assert "services.api.volumes, an absolute host path in docker-compose.yml" in text
    assert all(error.file == "docker-compose.yml" for error in errors)
    assert service(project.load(allow_host_access=True), "kube", "api").privileged is True


def test_privileged_false_needs_no_option(project):
    project.write("continuous-pipe.yml", PRIVILEGED.replace("privileged: true", "privileged: false"))
    assert service(project.load(), "kube", "api").privileged is False


def test_the_modules_option_reaches_the_loader(project):
    project.write("continuous-pipe.yml", PRIVILEGED)
    params = {"source_dir": str(project.path), "branch": "master", "sha": "a" * 40,
              "flow_uuid": "00000000-0000-4000-8000-000000000001"}
    with pytest.raises(DefinitionError):
        load_from_params(params)
    loaded = load_from_params(dict(params, allow_host_access=True))
    assert service(loaded, "kube", "api").privileged is True


def test_modules_that_only_need_names_do_not_ask_for_it(project):
    """pipeline_info and a teardown (environment state=absent) create no pod: a project with a privileged
    container is torn down without allow_host_access."""
    project.write("continuous-pipe.yml", PRIVILEGED)
    params = {"source_dir": str(project.path), "branch": "master", "sha": "a" * 40,
              "flow_uuid": "00000000-0000-4000-8000-000000000001"}
    assert task(load_from_params(params, missing_secrets="mask"), "kube").identifier == "kube"
