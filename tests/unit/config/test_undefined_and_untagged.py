# -*- coding: utf-8 -*-
"""Issue 10: every undefined variable is listed at once (an undefined ``${IMAGE_NAME}`` was reported
as an invalid image name and hid the others), and an empty image tag is an error unless asked for
(a missing ``sha`` silently deployed ``latest``)."""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

PROJECT = """
tasks:
  images:
    build:
      services:
        web: {image: '${IMAGE_NAME}', tag: '${TAG}'}
  d:
    deploy:
      cluster: '${CLUSTER}'
      services:
        web: {specification: {environment_variables: [{name: A, value: '${B}'}]}}
"""
BUILT = """
tasks:
  images:
    build:
      services:
        web: {image: registry.example/web}
  d:
    deploy:
      cluster: c
      services:
        web: {specification: {ports: [80]}}
"""


def undefined(error):
    return sorted({(e.key_path, e.message) for e in error.errors if e.message.startswith("undefined variable")})


def test_every_undefined_variable_is_listed_at_once(project):
    project.write("continuous-pipe.yml", PROJECT)
    with pytest.raises(DefinitionError) as raised:
        project.load()
    names = {message.split('"')[1] for _path, message in undefined(raised.value)}
    assert names == {"IMAGE_NAME", "TAG", "CLUSTER", "B"}
    assert len(raised.value.errors) == len(undefined(raised.value))  # nothing reported as an invalid name
    assert ("tasks.images.build.services.web.image", 'undefined variable "IMAGE_NAME"') in undefined(raised.value)


def test_with_keep_the_invalid_name_says_which_variable_was_kept(project):
    project.write("continuous-pipe.yml", PROJECT)
    with pytest.raises(DefinitionError) as raised:
        project.load(undefined_variables="keep")
    assert 'The name "${IMAGE_NAME}" of the Docker image is invalid' in str(raised.value)
    assert 'the undefined variable "IMAGE_NAME" is kept verbatim' in str(raised.value)


def test_a_built_image_without_sha_is_not_deployed_as_latest(project):
    project.write("continuous-pipe.yml", BUILT)
    with pytest.raises(DefinitionError) as raised:
        project.load(sha="")
    assert raised.value.key_path == "tasks.images.build.services.web.tag"
    assert "sha option is empty" in str(raised.value) and "allow_untagged_images" in str(raised.value)
    loaded = project.load(sha="", allow_untagged_images=True)
    assert loaded.pipelines[0].tasks[1].services[0].image == "registry.example/web"
    assert project.load().pipelines[0].tasks[1].services[0].image.startswith("registry.example/web:")


def test_naming_strategy_branch_needs_no_sha(project):
    project.write("continuous-pipe.yml", BUILT.replace("{image: registry.example/web}",
                                                       "{image: registry.example/web, naming_strategy: branch}"))
    assert project.load(sha="", branch="feature/x").pipelines[0].tasks[1].services[0].image == \
        "registry.example/web:feature-x"


@pytest.mark.parametrize("tag", ["''", "'${EMPTY}'", "'${MISSING?:}'"])
def test_an_empty_deploy_tag_is_an_error(project, tag):
    project.write("continuous-pipe.yml", "tasks: {d: {deploy: {cluster: c, services: {web: {specification: "
                                         "{source: {image: nginx, tag: %s}}}}}}}\n" % tag)
    with pytest.raises(DefinitionError) as raised:
        project.load(variables={"EMPTY": ""})
    assert raised.value.key_path == "tasks.d.deploy.services.web.specification.source.tag"
    assert project.load(variables={"EMPTY": ""}, allow_untagged_images=True).pipelines[0].tasks[0].services[0].image \
        == "nginx"


def test_an_untagged_compose_image_is_still_fine(project):
    """``image: redis`` (no tag) in docker-compose.yml is what the project asks for, as before."""
    project.write("docker-compose.yml", "redis: {image: redis}\n")
    project.write("continuous-pipe.yml", "tasks: {d: {deploy: {cluster: c, services: {redis: ~}}}}\n")
    assert project.load().pipelines[0].tasks[0].services[0].image == "redis"
