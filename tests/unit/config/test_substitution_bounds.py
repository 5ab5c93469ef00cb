# -*- coding: utf-8 -*-
"""Issue 10: ``${VAR}`` substitution is bounded - a variable referenced many times is a "billion
laughs" of its own (a 540 KB file asked for 18 GB). Every value stays under 1 MiB and substitution
adds at most 16 MiB to a configuration (and to a container's environment at deploy time); beyond,
an error names the key path before the string is built."""
from __future__ import annotations

import resource

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import render
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config import variables
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

SERVICE = "web: {specification: {source: {image: a, tag: '1'}, environment_variables: [%s]}}"


def project_text(value: str, entries: str) -> str:
    return ("variables:\n  - {name: A, value: '%s'}\ntasks:\n  d:\n    deploy:\n      cluster: c\n      services:\n"
            "        %s\n" % (value, SERVICE % entries))


@pytest.fixture(autouse=True)
def _memory_limit():
    """A regression would try to build gigabytes: fail with MemoryError instead of swapping."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def test_one_value_repeating_a_variable(project):
    project.write("continuous-pipe.yml", project_text("x" * 300000, "{name: V, value: '%s'}" % ("${A}" * 60000)))
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.key_path == "tasks.d.deploy.services.web.specification.environment_variables[0].value"
    assert "longer than %d characters" % variables.MAX_SUBSTITUTED_CHARS in str(raised.value)


def test_many_values_each_under_the_bound(project):
    entries = ", ".join("{name: V%d, value: '${A}'}" % index for index in range(40))
    project.write("continuous-pipe.yml", project_text("x" * 500000, entries))
    with pytest.raises(DefinitionError, match="more than %d characters longer" % variables.MAX_ADDED_CHARS):
        project.load()


def test_pipeline_variables_substituted_again(project):
    values = "".join("  - {name: B%d, value: '${A}${A}'}\n" % index for index in range(40))
    project.write("continuous-pipe.yml", "variables:\n  - {name: A, value: '%s'}\n%s"
                  "tasks: {d: {deploy: {cluster: c, services: {web: {specification: {source: {image: a, tag: '1'}}}}}}}\n"
                  % ("x" * 400000, values))
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert "characters" in str(raised.value) and raised.value.file == "continuous-pipe.yml"


def test_environment_variables_referencing_each_other_at_deploy_time(project):
    """With undefined_variables=keep, ``${A}`` reaches the translator, which substitutes the env vars
    of the same container."""
    entries = "{name: A, value: '%s'}, {name: B, value: '%s'}" % ("y" * 400000, "${A}" * 10)
    project.write("continuous-pipe.yml", "tasks: {d: {deploy: {cluster: c, services: {%s}}}}\n" % (SERVICE % entries))
    loaded = project.load(undefined_variables="keep")
    with pytest.raises(DefinitionError) as raised:
        render.render_tasks(loaded)
    assert raised.value.key_path == "tasks.d.deploy.services.web.specification.environment_variables[1].value"


def test_ordinary_substitution_is_unchanged(project):
    project.write("continuous-pipe.yml", project_text("x" * 1000, "{name: V, value: '${A}-${A}'}"))
    web = project.load().pipelines[0].tasks[0].services[0]
    assert web.environment[0].value == "x" * 1000 + "-" + "x" * 1000


def test_docker_compose_copied_into_many_tasks(project):
    """Each deploy task gets every docker-compose service: 40 tasks x 20,000 env entries."""
    project.write("docker-compose.yml", "web:\n  image: nginx\n  environment:\n"
                  + "".join("    - V%d=x\n" % index for index in range(20000)))
    project.write("continuous-pipe.yml", "defaults: {cluster: c}\ntasks:\n"
                  + "".join("  t%d: {deploy: {services: {web: ~}}}\n" % index for index in range(40)))
    with pytest.raises(DefinitionError, match="copied into each of its 40 tasks") as raised:
        project.load()
    assert raised.value.file == "continuous-pipe.yml"


def test_pipelines_importing_every_task(project):
    tasks = "".join("  t%d: {deploy: {cluster: c, services: {web: {specification: {source: {image: a, tag: '1'}, "
                    "environment_variables: [{name: A, value: b}, {name: B, value: c}]}}}}}\n" % index
                    for index in range(200))
    names = ", ".join("t%d" % task for task in range(200))
    pipelines = "".join("  - name: P%d\n    tasks: [%s]\n" % (index, names) for index in range(200))
    project.write("continuous-pipe.yml", "tasks:\n" + tasks + "pipelines:\n" + pipelines)
    with pytest.raises(DefinitionError, match="pipelines import their tasks"):
        project.load()
