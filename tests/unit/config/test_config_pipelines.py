# -*- coding: utf-8 -*-
"""Pipelines: default pipeline, imports and overrides, conditions, identifiers (docs/behaviour.md §2.5, §7)."""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

from cp_load_helpers import env, service, task

OVERRIDE = """
variables:
  - {name: RICHARD, value: MILLER}
  - {name: BAR_VALUE, value: bar}
defaults:
  environment: {name: '"ui-" ~ code_reference.branch'}
  cluster: foo
tasks:
  deployment:
    deploy:
      services:
        app:
          specification:
            environment_variables:
              - {name: FOO, value: foo}
              - {name: BAR, value: '${BAR_VALUE}'}
              - {name: RICHARD, value: '${RICHARD}'}
            ports: [80]
        database: ~
pipelines:
  - name: To master
    condition: code_reference.branch == 'master'
    tasks:
      - imports: deployment
        deploy:
          services:
            app:
              specification:
                environment_variables: [{name: FOO, value: '${BAR_VALUE}'}]
                ports: [8080]
  - name: To develop
    condition: code_reference.branch == 'develop'
    tasks:
      - imports: deployment
        deploy: {environment: {name: '"ui-ci"'}}
  - name: Only the branches
    condition: code_reference.branch not in ['develop', 'master']
    variables: [{name: RICHARD, value: JONES}]
    tasks:
      - imports: deployment
        deploy:
          services:
            database: {specification: {environment_variables: [{name: BAZ, value: baz}]}}
            app: {specification: {accessibility: {from_external: true}}}
"""


@pytest.fixture
def override(project):
    """pipelines/override.feature."""
    project.write("docker-compose.yml", "app: {image: landing-page}\ndatabase: {image: mysql}\nmailcatcher: {image: mc}\n")
    project.write("continuous-pipe.yml", OVERRIDE)
    return project


def test_override_environment_variables(override):
    loaded = override.load(branch="master")
    assert [p.name for p in loaded.pipelines] == ["To master"]
    app = service(loaded, "deployment", "app")
    assert env(app) == {"FOO": "bar", "BAR": "bar", "RICHARD": "MILLER"}
    assert [p.port for p in app.ports] == [8080]  # ports replaced by the override


def test_override_environment_name_and_listed_services(override):
    deploy = task(override.load(branch="develop"), "deployment")
    assert deploy.environment_name == '"ui-ci"' and deploy.cluster == "foo"
    assert [s.name for s in deploy.services] == ["app", "database"]  # no mailcatcher


def test_override_pipeline_variables_and_accessibility(override):
    loaded = override.load(branch="feature/my-branch")
    assert env(service(loaded, "deployment", "app")) == {"FOO": "foo", "BAR": "bar", "RICHARD": "JONES"}
    assert env(service(loaded, "deployment", "database")) == {"BAZ": "baz"}
    assert service(loaded, "deployment", "app").from_external
    assert task(loaded, "deployment").environment_name == '"ui-" ~ code_reference.branch'


def test_default_pipeline_imports_every_task_in_order(project):
    project.write("continuous-pipe.yml", "tasks: {b: {run: {image: b}}, a: {manual_approval: ~}}\n")
    pipeline = project.load().pipelines[0]
    assert pipeline.name == "Default pipeline"
    assert [(t.identifier, t.type) for t in pipeline.tasks] == [("b", "run"), ("a", "manual_approval")]


def test_list_of_tasks_gets_task_n_identifiers(project):
    project.write("continuous-pipe.yml", "tasks: [{run: {image: a}}, {wait: {status: {context: ci, state: success}}}]\n")
    assert [t.identifier for t in project.load().pipelines[0].tasks] == ["task0", "task1"]


def test_only_pipelines_create_tides(project):
    project.write("continuous-pipe.yml", """
        tasks: {a: {run: {image: a}}, b: {run: {image: b}}}
        pipelines: [{name: Only a, tasks: [a]}]
        """)
    assert [t.identifier for t in project.load().pipelines[0].tasks] == ["a"]


def test_several_pipelines_can_match(project):
    project.write("continuous-pipe.yml", """
        tasks: {a: {run: {image: a}}}
        pipelines: [{name: One, tasks: [a]}, {name: Two, tasks: [a]}, {name: Never, condition: 'false', tasks: [a]}]
        """)
    assert [p.name for p in project.load().pipelines] == ["One", "Two"]


def test_no_pipeline_matches(project):
    project.write("continuous-pipe.yml", "tasks: {a: {run: {image: a}}}\n"
                                         "pipelines: [{name: P, condition: 'code_reference.branch == \"prod\"', tasks: [a]}]\n")
    assert project.load().pipelines == ()


@pytest.mark.parametrize("branch, expected", [("cpdev/sam", ["Remote"]), ("master", ["Production"]),
                                              ("feature/x", ["Features"])])
def test_matches_with_both_delimiters(project, branch, expected):
    project.write("continuous-pipe.yml", """
        tasks: {a: {run: {image: a}}}
        pipelines:
          - {name: Production, condition: 'code_reference.branch in ["master"]', tasks: [a]}
          - {name: Features, condition: 'code_reference.branch not in ["master"] and not(code_reference.branch matches "#^cpdev/#")', tasks: [a]}
          - {name: Remote, condition: 'code_reference.branch matches "/^cpdev/"', tasks: [a]}
        """)
    assert [p.name for p in project.load(branch=branch).pipelines] == expected


def test_pipeline_conditions_see_the_pull_request(project):
    project.write("continuous-pipe.yml", """
        tasks: {a: {run: {image: a}}}
        pipelines: [{name: QA, condition: '"Ready for QA" in pull_request.labels and pull_request.number > 0', tasks: [a]}]
        """)
    assert project.load().pipelines == ()
    labelled = model.PullRequest(12, "Add login", ("Ready for QA",))
    assert [p.name for p in project.load(pull_request=labelled).pipelines] == ["QA"]


def test_pipeline_condition_must_be_a_boolean(project):
    project.write("continuous-pipe.yml", "tasks: {a: {run: {image: a}}}\n"
                                         "pipelines: [{name: P, condition: code_reference.branch, tasks: [a]}]\n")
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.key_path == "pipelines[0].condition"
    assert "does not return a boolean" in raised.value.message


HAS_CHANGES = """
tasks: {base: {run: {image: a}}, app: {run: {image: b}}}
pipelines:
  - {name: Base, condition: 'has_changes_for_files(["docker/base/**", "*.lock"])', tasks: [base]}
  - {name: App, tasks: [app]}
"""


def test_has_changes_for_files_needs_changed_files(project):
    project.write("continuous-pipe.yml", HAS_CHANGES)
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.key_path == "pipelines[0].condition" and "changed_files" in raised.value.message


@pytest.mark.parametrize("changed, expected", [
    (["docker/base/php/Dockerfile"], ["Base", "App"]),
    (["composer.lock"], ["Base", "App"]),
    (["src/composer.lock"], ["App"]),  # `*` does not cross directories
    (["docker/basement"], ["App"]),
    ([], ["App"]),
])
def test_has_changes_for_files_globs(project, changed, expected):
    project.write("continuous-pipe.yml", HAS_CHANGES)
    assert [p.name for p in project.load(changed_files=changed).pipelines] == expected


def test_import_of_an_unknown_task(project):
    project.write("continuous-pipe.yml", "tasks: {images: {run: {image: a}}}\npipelines: [{name: P, tasks: [imagse]}]\n")
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.key_path == "pipelines[0].tasks[0].imports"
    assert raised.value.message == 'Unable to import task "imagse": The task does not exist'
    assert raised.value.expected == 'did you mean "images"?'


def test_import_finds_normalised_task_names(project):
    project.write("continuous-pipe.yml", "tasks: {app-deploy: {run: {image: a}}}\npipelines: [{name: P, tasks: [app-deploy]}]\n")
    assert [t.identifier for t in project.load().pipelines[0].tasks] == ["app_deploy"]


def test_inline_pipeline_tasks(project):
    project.write("continuous-pipe.yml", """
        tasks: {a: {run: {image: a}}}
        pipelines:
          - name: P
            tasks:
              - a
              - {run: {image: inline}, filter: {expression: 'code_reference.branch == "master"'}}
              - {identifier: named, run: {image: named}}
        """)
    tasks = project.load().pipelines[0].tasks
    assert [(t.identifier, t.image) for t in tasks] == [("a", "a"), ("1", "inline"), ("named", "named")]
    assert tasks[1].filter == 'code_reference.branch == "master"'


def test_errors_in_imported_tasks_name_the_task(project):
    project.write("continuous-pipe.yml", """
        tasks: {app: {deploy: {cluster: foo, services: {web: {specification: {source: {image: a}}, condition: 'nope('}}}}}
        pipelines: [{name: P, tasks: [app]}]
        """)
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.key_path == "tasks.app.deploy.services.web.condition"


def test_errors_in_overrides_name_the_pipeline(project):
    project.write("continuous-pipe.yml", """
        tasks: {app: {deploy: {cluster: foo, services: {web: {specification: {source: {image: a}}}}}}}
        pipelines: [{name: P, tasks: [{imports: app, deploy: {services: {web: {condition: 'nope('}}}}]}]
        """)
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.key_path == "pipelines[0].tasks[0].deploy.services.web.condition"


def test_pipeline_without_tasks(project):
    project.write("continuous-pipe.yml", "variables: []\n")
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.message == "You need to configure tasks to be run for the tide."


def test_no_file_and_no_tasks(project):
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.message == "No `continuous-pipe.yml` file was found in the code repository."


def test_configuration_only_in_the_flow(project):
    loaded = project.load(flow_configuration={"tasks": {"a": {"run": {"image": "busybox"}}}})
    assert loaded.files == () and task(loaded, "a").image == "busybox"


def test_task_filters_and_environment_names_are_checked_when_loading(project):
    project.write("continuous-pipe.yml", """
        tasks:
          a: {run: {image: a, environment: {name: 'slugify(code_reference.branch)'}}}
          b: {run: {image: b}, filter: {expression: 'tasks.a.services.x.created and has_changes_for_files("a")'}}
          c: {run: {image: c}, filter: {expression: 'code_reference.branch = "x"'}}
        """)
    with pytest.raises(DefinitionError) as raised:
        project.load()
    errors = {e.key_path: e.message for e in raised.value.errors}
    assert 'The function "slugify" does not exist' in errors["tasks.a.run.environment.name"]
    assert "tasks.c.filter.expression" in errors and "tasks.b.filter.expression" not in errors


def test_tide_configurations(project):
    project.write("continuous-pipe.yml", "tasks: {named: {deploy: {cluster: '${FOO}', services: []}}}\n")
    tides = project.tides(flow_configuration="variables: [{name: FOO, value: BAR}]\n")
    assert tides[0]["tasks"]["named"]["deploy"]["cluster"] == "BAR"
    assert tides[0]["tasks"]["named"]["identifier"] == "named"
