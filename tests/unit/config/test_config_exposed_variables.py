"""Variables with ``as_environment_variable`` become env vars of deploy services and run tasks (docs/behaviour.md §6.3),
as in the Behat feature variables-as-environment.feature."""
from __future__ import annotations

CONFIGURATION = """
variables:
- name: SUPER_SECRET
  value: wow
  as_environment_variable: ['foo']
- name: SECRET
  value: qwerty
  as_environment_variable: true
- name: HIDDEN
  value: nope
tasks:
    deployment:
        deploy:
            cluster: foo
            services:
                foo:
                    specification:
                        source: {image: busybox}
                        environment_variables:
                            - {name: SECRET, value: from-the-task}
                bar:
                    specification:
                        source: {image: busybox}
    tests:
        run:
            cluster: foo
            commands: [echo foo]
            image: busybox
"""


def _env(environment):
    return [(variable.name, variable.value) for variable in environment]


def test_exposed_variables_reach_the_named_services_and_run_tasks(project):
    project.write("continuous-pipe.yml", CONFIGURATION)
    loaded = project.load(branch="master")
    deploy, run = loaded.pipelines[0].tasks
    # the task's own SECRET wins over the exposed one; SUPER_SECRET is for foo only
    assert _env(deploy.service("foo").environment) == [("SECRET", "from-the-task"), ("SUPER_SECRET", "wow")]
    assert _env(deploy.service("bar").environment) == [("SECRET", "qwerty")]
    assert _env(run.environment) == [("SECRET", "qwerty")]


def test_exposed_secret_variables_stay_secret(project):
    project.write("continuous-pipe.yml", CONFIGURATION)
    loaded = project.load(branch="master", secret_variables={"SECRET": "s3cr3t"})
    deploy, run = loaded.pipelines[0].tasks
    assert [(v.name, v.value, v.secret) for v in deploy.service("bar").environment] == [("SECRET", "s3cr3t", True)]
    assert [(v.name, v.secret) for v in run.environment] == [("SECRET", True)]
