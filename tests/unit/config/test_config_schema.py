# -*- coding: utf-8 -*-
"""Normalisation and validation with Symfony Config semantics (docs/behaviour.md §3, §4, §11.1)."""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError, DefinitionErrors

from cp_load_helpers import env, service, task

WEB = """
tasks:
  x:
    deploy:
      cluster: foo
      services:
        web:
          specification:
            source: {image: nginx}
%s
"""


def _spec(lines: str) -> str:
    return WEB % "\n".join("            " + line for line in lines.strip("\n").splitlines())


def _error(project, text, **options) -> DefinitionError:
    project.write("continuous-pipe.yml", text)
    with pytest.raises(DefinitionError) as raised:
        project.load(**options)
    return raised.value


def _errors(error: DefinitionError):
    return error.errors if isinstance(error, DefinitionErrors) else [error]


def test_unknown_key_with_did_you_mean(project):
    error = _error(project, _spec("por: [80]"))
    assert error.file == "continuous-pipe.yml"
    assert error.key_path == "tasks.x.deploy.services.web.specification.por"
    assert error.message == ('Unrecognized option "por" under "tasks.x.deploy.services.web.specification". '
                             'Did you mean "ports"?')


def test_unknown_key_lists_the_options_when_nothing_is_close(project):
    error = _error(project, "tasks:\n  x:\n    run: {image: busybox, zzz: 1}\n")
    assert error.key_path == "tasks.x.run.zzz"
    assert 'Available options are "cluster", "commands", "environment"' in error.message


def test_unknown_top_level_key(project):
    error = _error(project, "that_key_do_not_exists: ${CLUSTER}\n")
    assert str(error).startswith('continuous-pipe.yml: that_key_do_not_exists: Unrecognized option '
                                 '"that_key_do_not_exists" at the top level.')


def test_every_problem_of_a_file_is_reported(project):
    error = _error(project, _spec("por: [80]\nports: ['80']\nresources: {cpu: 1, limits: {cpu: 2}}"))
    paths = [e.key_path for e in _errors(error)]
    assert paths == ["tasks.x.deploy.services.web.specification.ports[0]",
                     "tasks.x.deploy.services.web.specification.resources",
                     "tasks.x.deploy.services.web.specification.por"]


def test_quoted_port_is_an_error(project):
    error = _error(project, _spec("ports: ['80']"))
    assert error.key_path == "tasks.x.deploy.services.web.specification.ports[0]"
    assert 'a string ("80")' in error.message and "unquoted" in error.expected


def test_quoted_port_in_the_long_form_is_an_error(project):
    error = _error(project, _spec("ports: [{identifier: http, port: '80'}]"))
    assert error.key_path == "tasks.x.deploy.services.web.specification.ports[0].port"
    assert "a quoted value is a string" in error.expected


def test_variables_cannot_be_used_in_integer_nodes(project):
    error = _error(project, _spec("ports: [{identifier: http, port: '${PORT}'}]"), variables={"PORT": "80"})
    assert "variables cannot be used here" in error.expected


def test_port_short_form(project):
    project.write("continuous-pipe.yml", _spec("ports: [80, {identifier: dns, port: 53, protocol: UDP}]"))
    web = service(project.load(), "x", "web")
    assert web.ports == (model.Port("port-80", 80, "TCP"), model.Port("dns", 53, "UDP"))


def test_protocol_is_case_sensitive(project):
    error = _error(project, _spec("ports: [{identifier: dns, port: 53, protocol: udp}]"))
    assert error.key_path.endswith("ports[0].protocol")
    assert error.message == 'The value a string ("udp") is not allowed' and '"UDP"' in error.expected


@pytest.mark.parametrize("value", ["yes", "on", "'true'", "1"])
def test_booleans_must_be_booleans(project, value):
    error = _error(project, WEB % "          deployment_strategy: {locked: %s}" % value)
    assert error.key_path == "tasks.x.deploy.services.web.deployment_strategy.locked"
    assert error.expected.startswith("true or false")


def test_null_boolean_means_true(project):
    project.write("continuous-pipe.yml", WEB % "          deployment_strategy: {reset: ~}")
    assert service(project.load(), "x", "web").strategy.reset is True


def test_resources_shorthand(project):
    project.write("continuous-pipe.yml", _spec("resources: {cpu: 250m, memory: 2Gi}"))
    resources = service(project.load(), "x", "web").resources
    assert resources == model.Resources({"cpu": "250m", "memory": "2Gi"}, {"cpu": "250m", "memory": "2Gi"})


def test_resources_shorthand_cannot_be_mixed(project):
    error = _error(project, _spec("resources: {cpu: 250m, limits: {memory: 1G}}"))
    assert error.key_path == "tasks.x.deploy.services.web.specification.resources"
    assert error.message == ("You cannot combine `cpu` and/or `memory` resource configuration with `requests` "
                             "and/or `limits`")


def test_legacy_locked_moves_to_the_deployment_strategy(project):
    project.write("continuous-pipe.yml", WEB % "          locked: true")
    assert service(project.load(), "x", "web").strategy.locked


def test_legacy_locked_does_not_override_the_strategy(project):
    project.write("continuous-pipe.yml", WEB % "          locked: true\n          deployment_strategy: {locked: false}")
    assert not service(project.load(), "x", "web").strategy.locked


def test_mount_path_shorthand(project):
    project.write("continuous-pipe.yml", _spec("volumes: [{name: data, capacity: 5Gi, mount_path: /data}]"))
    web = service(project.load(), "x", "web")
    assert web.volumes == (model.Volume("data", "persistent", capacity="5Gi", storage_class="default"),)
    assert web.volume_mounts == (model.VolumeMount("data", "/data"),)


def test_mount_path_is_not_a_shorthand_when_volume_mounts_are_given(project):
    error = _error(project, _spec("volumes: [{name: data, mount_path: /data}]\nvolume_mounts: []"))
    assert error.key_path.endswith("volumes[0].mount_path")


def test_task_keys_are_normalised_but_service_keys_are_not(project):
    project.write("continuous-pipe.yml", """
        tasks:
          app-deploy:
            deploy:
              cluster: foo
              services:
                my-db:
                  specification: {source: {image: mysql}}
                  deployment-strategy: {locked: true}
        """)
    loaded = project.load()
    db = service(loaded, "app_deploy", "my-db")
    assert db.identifier == "my-db" and db.strategy.locked


def test_service_identifier_is_slugified(project):
    project.write("continuous-pipe.yml", WEB.replace("web:", "My_DB:") % "")
    assert service(project.load(), "x", "My_DB").identifier == "my-db"


def test_a_task_with_two_types_is_an_error(project):
    error = _error(project, "tasks:\n  - {deploy: {cluster: foo, services: []}, build: {services: []}}\n")
    assert error.key_path == "tasks.task0"
    assert error.message == 'Only one task should be configured here but found "deploy" & "build"'


def test_a_task_without_type_is_an_error(project):
    error = _error(project, "tasks:\n  x: {filter: {expression: 'true'}}\n")
    assert error.message == "You have to configure a task here, found nothing"


def test_required_keys(project):
    error = _error(project, "tasks:\n  kubernetes:\n    deploy: ~\n")
    assert error.key_path == "tasks.kubernetes.deploy.services"
    assert error.message == 'The child node "services" must be configured'


def test_missing_image_has_a_hint(project):
    error = _error(project, WEB.replace("source: {image: nginx}", "ports: [80]") % "")
    assert error.key_path == "tasks.x.deploy.services.web.specification.source"
    assert "build task" in error.expected and "images option" in error.expected


def test_list_where_a_mapping_is_expected(project):
    error = _error(project, "tasks:\n  x:\n    deploy: {cluster: foo, services: [web]}\n")
    assert error.key_path == "tasks.x.deploy.services[0]" or error.key_path == "tasks.x.deploy.services.0"
    assert "got a string" in error.message


def test_services_as_an_empty_list(project):
    project.write("continuous-pipe.yml", "tasks:\n  x:\n    deploy: {cluster: foo, services: []}\n")
    assert task(project.load(), "x").services == ()


def test_disabled_and_null_services(project):
    project.write("docker-compose.yml", "a: {image: a}\n")
    project.write("continuous-pipe.yml", """
        tasks:
          x:
            deploy:
              cluster: foo
              services:
                a: false
                b: {enabled: false, specification: {source: {image: b}}}
                c: {specification: {source: {image: c}}}
        """)
    assert [s.name for s in task(project.load(), "x").services] == ["c"]


def test_disabled_services_still_need_a_specification(project):
    error = _error(project, "tasks: {x: {deploy: {cluster: foo, services: {a: false}}}}\n")
    assert error.key_path == "tasks.x.deploy.services.a.specification"


def test_legacy_top_level_environment_variables(project):
    project.write("continuous-pipe.yml", "environment_variables: [{name: C, value: foo}]\n"
                                         "tasks: {x: {deploy: {cluster: '${C}', services: []}}}\n")
    assert task(project.load(), "x").cluster == "foo"


def test_variables_map_form(project):
    project.write("continuous-pipe.yml", """
        variables:
          A: one
          B: {expression: code_reference.branch}
          C: {value: three, condition: 'false'}
        tasks: {x: {run: {image: busybox, commands: ['${A} ${B} ${C?:none}']}}}
        """)
    assert task(project.load(branch="dev"), "x").commands == ("one dev none",)


def test_as_environment_variable_false_is_an_error(project):
    error = _error(project, "variables: [{name: A, value: a, as_environment_variable: false}]\n"
                            "tasks: {x: {run: {image: busybox}}}\n")
    assert error.key_path == "variables[0].as_environment_variable"


def test_errors_name_the_flow_configuration(project):
    project.write("continuous-pipe.yml", "tasks: {x: {run: {image: busybox}}}\n")
    with pytest.raises(DefinitionError) as raised:
        project.load(flow_configuration={"tasks": {"y": {"run": {"image": "a", "bogus": 1}}}})
    assert raised.value.file == "flow configuration" and raised.value.key_path == "tasks.y.run.bogus"


@pytest.mark.parametrize("image, tag, message", [
    ("registry.co/something-with..bad__separators", None, 'The name "registry.co/something-with..bad__separators"'),
    ("Upper/Case", None, 'The name "Upper/Case" of the Docker image is invalid.'),
    ("foo/bar", ".1.0.0", 'The tag ".1.0.0" of the Docker image is invalid.'),
    ("foo/bar", "1.0/0", 'The tag "1.0/0" of the Docker image is invalid.'),
])
def test_build_image_names_and_tags_are_checked(project, image, tag, message):
    text = "tasks:\n  images:\n    build:\n      services:\n        api: {image: '%s'%s}\n" % (
        image, ", tag: '%s'" % tag if tag else "")
    error = _error(project, text)
    assert message in error.message
    assert error.key_path == "tasks.images.build.services.api.%s" % ("tag" if tag else "image")


def test_valid_build_image(project):
    project.write("continuous-pipe.yml", "tasks:\n  images:\n    build:\n      services:\n"
                                         "        api: {image: registry.io/org/repository-for-something.1, tag: 1.0.0}\n")
    configuration = task(project.load(), "images").configuration
    assert configuration["services"]["api"]["tag"] == "1.0.0"


def test_build_environment_is_copied_to_services(project):
    project.write("continuous-pipe.yml", "tasks:\n  b:\n    build:\n      environment: {FOO: BAR}\n"
                                         "      services: {a: {image: a}, b: {image: b, environment: []}}\n")
    services = task(project.load(), "b").configuration["services"]
    assert services["a"]["environment"] == [{"name": "FOO", "value": "BAR"}] and services["b"]["environment"] == []


def test_probe_numbers(project):
    project.write("continuous-pipe.yml", WEB % """
          deployment_strategy:
            readiness_probe: {type: http, port: http, path: /, initial_delay_seconds: '${D}', period_seconds: '5'}
            liveness_probe: {type: exec, command: [true]}""")
    web = service(project.load(variables={"D": "7"}), "x", "web")
    assert web.strategy.readiness_probe == model.Probe(type="http", port="http", path="/", initial_delay_seconds=7,
                                                       period_seconds=5)
    assert web.strategy.liveness_probe.command == ("1",)


@pytest.mark.parametrize("field, value", [("period_seconds", "abc"), ("timeout_seconds", "[1]")])
def test_probe_numbers_must_be_integers(project, field, value):
    error = _error(project, WEB % "          deployment_strategy: {readiness_probe: {type: tcp, port: 80, %s: %s}}"
                   % (field, value))
    assert error.key_path == "tasks.x.deploy.services.web.deployment_strategy.readiness_probe.%s" % field


def test_unknown_probe_type(project):
    error = _error(project, WEB % "          deployment_strategy: {readiness_probe: {type: grpc, port: 80}}")
    assert error.key_path.endswith("readiness_probe.type") and error.expected == "http, tcp or exec"


def test_endpoint_annotations_cannot_be_empty(project):
    error = _error(project, WEB % "          endpoints: [{name: web, annotations: {}}]")
    assert error.key_path.endswith("endpoints[0].annotations")


def test_pipeline_task_identifier_is_accepted(project):
    project.write("continuous-pipe.yml", """
        tasks: {a: {run: {image: busybox}}}
        pipelines:
          - name: P
            tasks:
              - a
              - identifier: extra
                run: {image: alpine}
        """)
    assert [t.identifier for t in project.load().pipelines[0].tasks] == ["a", "extra"]


def test_string_environment_values_come_from_php_casts(project):
    project.write("continuous-pipe.yml", _spec(
        "environment_variables: [{name: A, value: true}, {name: B, value: false}, {name: C, value: ~}, "
        "{name: D, value: 1.50}, {name: E, value: 0}]"))
    assert env(service(project.load(), "x", "web")) == {"A": "1", "B": "", "C": "", "D": "1.5", "E": "0"}
