# -*- coding: utf-8 -*-
"""Issue 10: a secret variable's value in a field that is not stored in a Secret.

It used to be written in clear into the cluster and into rendered files "safe to share". Now it is
an error naming the key path, or with ``secrets_in_plain_fields: warn`` a warning naming it, and the
value is masked in rendered files and results.
"""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import render
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

SECRET = "hunter2-s3cret"
BASE = """
tasks:
  d:
    deploy:
      cluster: c
      services:
        web:
          specification:
            source: {image: registry.example/web, tag: %(tag)s}
            environment_variables:
              - {name: DB_PASSWORD, value: "${SECRET}"}
            command: %(command)s
          deployment_strategy:
            readiness_probe: {type: exec, command: %(probe)s}
"""


def write(project, tag='"1"', command='["run"]', probe='["true"]'):
    project.write("continuous-pipe.yml", BASE % dict(tag=tag, command=command, probe=probe))


@pytest.mark.parametrize("field, expected_path", [
    (dict(tag='"${SECRET}"'), ("specification", "source", "tag")),
    (dict(probe='["mysql", "-p${SECRET}"]'), ("deployment_strategy", "readiness_probe", "command", 1)),
    (dict(command='["sh", "-c", "login ${SECRET}"]'), ("specification", "command", 2)),
])
def test_a_secret_outside_a_secret_is_an_error_naming_the_key_path(project, field, expected_path):
    write(project, **field)
    with pytest.raises(DefinitionError) as raised:
        project.load(secret_variables={"SECRET": SECRET})
    assert raised.value.path == ("tasks", "d", "deploy", "services", "web") + expected_path
    assert raised.value.file == "continuous-pipe.yml"
    assert SECRET not in str(raised.value)
    assert "secrets_in_plain_fields" in str(raised.value)


def test_secrets_in_environment_values_and_conditions_are_fine(project):
    write(project)
    web = project.load(secret_variables={"SECRET": SECRET}).pipelines[0].tasks[0].services[0]
    assert [(e.name, e.secret) for e in web.environment] == [("DB_PASSWORD", True)]


def test_a_secret_in_a_docker_compose_command_names_the_deploy_key(project):
    project.write("docker-compose.yml", "web: {image: nginx, command: 'serve --token ${SECRET}'}\n")
    project.write("continuous-pipe.yml", "tasks: {d: {deploy: {cluster: c, services: {web: {specification: "
                                         "{source: {tag: '1'}}}}}}}\n")
    with pytest.raises(DefinitionError) as raised:
        project.load(secret_variables={"SECRET": SECRET})
    assert raised.value.path[-3:] == ("specification", "command", 0)


def test_a_secret_in_a_run_task_image_or_environment_name(project):
    project.write("continuous-pipe.yml", """
        tasks:
          migrate:
            run:
              cluster: c
              image: "registry.example/tools:${SECRET}"
              commands: [migrate]
              environment_variables: [{name: TOKEN, value: "${SECRET}"}]
          d:
            deploy:
              cluster: c
              environment: {name: '"app-${SECRET}"'}
              services: {web: {specification: {source: {image: nginx, tag: "1"}}}}
        """)
    with pytest.raises(DefinitionError) as raised:
        project.load(secret_variables={"SECRET": SECRET})
    paths = {error.path for error in raised.value.errors}
    assert paths == {("tasks", "migrate", "run", "image", "name"), ("tasks", "d", "deploy", "environment", "name")}


def test_warn_names_the_key_path_and_render_masks_the_value(project):
    write(project, tag='"${SECRET}"')
    loaded = project.load(secret_variables={"SECRET": SECRET}, secrets_in_plain_fields="warn")
    (warning,) = loaded.warnings
    assert "continuous-pipe.yml: tasks.d.deploy.services.web.specification.source.tag" in warning
    assert SECRET not in warning
    assert loaded.exposed_secrets == (SECRET,)
    assert "exposed_secrets" not in repr(loaded)
    (item,) = render.render_tasks(loaded)
    assert SECRET in render.file_content(item, include_secrets=True)  # asked for: mode 0600 file
    masked = render.file_content(item, include_secrets=False)
    assert SECRET not in masked and "registry.example/web:********" in masked
    assert SECRET not in repr(item.summary())


def test_the_option_is_checked(project):
    write(project)
    with pytest.raises(DefinitionError, match="secrets_in_plain_fields"):
        project.load(secrets_in_plain_fields="maybe")


def test_a_secret_as_an_environment_variable_name_is_refused(project):
    """The name is written in the pod spec and is the key of the Secret: it is not stored as a secret."""
    project.write("continuous-pipe.yml", BASE % dict(tag='"1"', command='["run"]', probe='["true"]')
                  + "        worker:\n          specification:\n            source: {image: w, tag: '1'}\n"
                    "            environment_variables: [{name: '${SECRET}', value: x}]\n")
    with pytest.raises(DefinitionError) as raised:
        project.load(secret_variables={"SECRET": SECRET})
    assert raised.value.key_path == "tasks.d.deploy.services.worker.specification.environment_variables[0].name"
