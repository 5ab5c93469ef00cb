# -*- coding: utf-8 -*-
"""Variables: resolution, substitution, secrets, undefined names (docs/behaviour.md §6.1–§6.4)."""
from __future__ import annotations

import hashlib

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.variables import (
    REFERENCE_RE,
    Resolved,
    SecretStr,
    substitute,
    unresolved_references,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError, DefinitionErrors

from cp_load_helpers import SHA, env, service, task


def _mapping(**values):
    return {name: Resolved(name, value) for name, value in values.items()}


@pytest.mark.parametrize("text, expected", [
    ("${FOO}", "bar"),
    ("a-${FOO}-b-${FOO}", "a-bar-b-bar"),
    ("${foo}", "${foo}"),  # names are case-sensitive (the regular expression is not)
    ("${MISSING}", "${MISSING}"),
    ("${MISSING?:fallback}", "fallback"),
    ("${MISSING?:}", ""),
    ("${FOO?:fallback}", "bar"),
    ("${MISSING?:with spaces/and:colons}", "with spaces/and:colons"),
    ("\\${FOO}", "\\bar"),  # no escaping: the backslash stays
    ("${FOO-BAR}", "${FOO-BAR}"),  # not a variable name
    ("${TRUE}${FALSE}${NULL}${INT}${FLOAT}", "151.5"),
    ("${NESTED}", "${FOO}"),  # single pass
])
def test_substitution(text, expected):
    mapping = _mapping(FOO="bar", TRUE=True, FALSE=False, NULL=None, INT=5, FLOAT=1.5, NESTED="${FOO}")
    assert substitute(text, mapping, apply_defaults=True) == expected


def test_fallbacks_are_not_applied_in_the_pipeline_pass():
    assert substitute("${MISSING?:x}", {}, apply_defaults=False) == "${MISSING?:x}"


def test_secret_taint():
    mapping = {"PASSWORD": Resolved("PASSWORD", "s3cret", secret=True), "USER": Resolved("USER", "app")}
    tainted = substitute("mysql://${USER}:${PASSWORD}@db", mapping, True)
    assert tainted == "mysql://app:s3cret@db" and isinstance(tainted, SecretStr)
    assert not isinstance(substitute("${USER}", mapping, True), SecretStr)


def test_regular_expression_is_cps():
    assert REFERENCE_RE.pattern == r"\$\{(?P<variable>[a-z0-9_]+)(?P<fallback>\?:(?P<default>[^}]*))?\}"


def test_unresolved_references_skip_escapes():
    found = list(unresolved_references({"a": ["${X}", "\\${Y}", "${Z?:d}"]}))
    assert found == [(("a", 0), "X"), (("a", 2), "Z")]


DEPLOY = """
variables:
%s
tasks:
  app:
    deploy:
      cluster: '${CLUSTER?:default-cluster}'
      services:
        web:
          specification:
            source: {image: nginx}
            environment_variables:
%s
"""


def _write(project, variables="  []", environment="              []"):
    project.write("continuous-pipe.yml", DEPLOY % (variables, environment))


def test_conditions_and_last_matching_wins(project):
    _write(project, """
  - {name: CLUSTER, value: production, condition: 'code_reference.branch == "production"'}
  - {name: CLUSTER, value: master, condition: 'code_reference.branch == "master"'}
  - {name: CLUSTER, value: feature, condition: 'code_reference.branch matches "#^feature/#"'}
  - {name: CLUSTER, value: overridden, condition: 'code_reference.branch == "master" and flow.uuid != ""'}""")
    assert task(project.load(), "app").cluster == "overridden"
    assert task(project.load(branch="feature/x"), "app").cluster == "feature"
    assert task(project.load(branch="develop"), "app").cluster == "default-cluster"


def test_expression_variables_have_c1_functions(project):
    _write(project, """
  - {name: CLUSTER, expression: 'hash_long_domain_prefix(slugify(code_reference.branch), 12) ~ "-" ~ code_reference.sha'}""")
    digest = hashlib.md5(b"feature-very-long-name").hexdigest()[:10]
    assert task(project.load(branch="feature/very-long-name", sha="abc"), "app").cluster == "f-%s-abc" % digest


def test_expression_errors_name_the_variable(project):
    _write(project, "  - {name: CLUSTER, expression: 'code_reference.sha1'}")
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.key_path == "variables[0].expression"
    assert 'The key "sha1" does not exist' in str(raised.value)


def test_condition_syntax_error(project):
    _write(project, "  - {name: CLUSTER, value: a, condition: 'code_reference.branch =='}")
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.key_path == "variables[0].condition"
    assert raised.value.message.startswith('The expression provided ("code_reference.branch ==") is not valid')


def test_variable_without_value(project):
    _write(project, "  - {name: CLUSTER}")
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.message == 'Unable to read the value of the variable "CLUSTER"'


def test_options_override_file_variables(project):
    _write(project, "  - {name: CLUSTER, value: from-file}")
    assert task(project.load(variables={"CLUSTER": "from-ansible"}), "app").cluster == "from-ansible"
    assert task(project.load(secret_variables={"CLUSTER": "secret"}), "app").cluster == "secret"


def test_encrypted_variables_take_their_value_from_secret_variables(project):
    _write(project, "  - {name: PASSWORD, encrypted_value: 0987654321qwertyu}",
           "              - {name: DB_URL, value: 'mysql://app:${PASSWORD}@db'}\n"
           "              - {name: PLAIN, value: plain}")
    web = service(project.load(secret_variables={"PASSWORD": "s3cret"}), "app", "web")
    assert web.environment == (model.EnvVar("DB_URL", "mysql://app:s3cret@db", secret=True),
                               model.EnvVar("PLAIN", "plain", secret=False))
    assert not isinstance(web.environment[0].value, SecretStr)  # no SecretStr leaks into the model


def test_encrypted_variable_without_secret_is_an_error(project):
    _write(project, "  - {name: PASSWORD, encrypted_value: 0987654321qwertyu}")
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.key_path == "variables[0].encrypted_value"
    assert raised.value.message.startswith('Unable to decrypt the value of the variable "PASSWORD"')
    assert "secret_variables" in raised.value.message


def test_encrypted_variable_with_a_false_condition_needs_no_secret(project):
    _write(project, "  - {name: PASSWORD, encrypted_value: x, condition: 'false'}")
    assert task(project.load(), "app")


def test_undefined_variable_is_an_error_naming_the_path(project):
    _write(project, "  []", "              - {name: A, value: '${NOPE}'}")
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert str(raised.value).startswith(
        'continuous-pipe.yml: tasks.app.deploy.services.web.specification.environment_variables[0].value: '
        'undefined variable "NOPE"')


def test_undefined_variables_keep_mode(project):
    _write(project, "  []", "              - {name: A, value: '${NOPE}'}")
    assert env(service(project.load(undefined_variables="keep"), "app", "web")) == {"A": "${NOPE}"}


def test_every_undefined_variable_is_reported(project):
    project.write("continuous-pipe.yml", "tasks: {a: {run: {image: '${IMAGE}', cluster: '${C}', "
                                         "environment_variables: [{name: X, value: '${X}'}]}}}\n")
    with pytest.raises(DefinitionErrors) as raised:
        project.load()
    assert sorted(e.key_path for e in raised.value.errors) == [
        "tasks.a.run.cluster", "tasks.a.run.environment_variables[0].value", "tasks.a.run.image.name"]


def test_deploy_time_names_are_kept_in_environment_values(project):
    _write(project, "  []", "              - {name: A, value: '${SERVICE_API_PUBLIC_ENDPOINT}'}\n"
                            "              - {name: B, value: '${ENDPOINT_HTTPS_API_PUBLIC_ENDPOINT}'}\n"
                            "              - {name: C, value: 'ns=${__TASK_APP_TARGET_ENVIRONMENT_NAME}'}")
    assert env(service(project.load(), "app", "web")) == {
        "A": "${SERVICE_API_PUBLIC_ENDPOINT}", "B": "${ENDPOINT_HTTPS_API_PUBLIC_ENDPOINT}",
        "C": "ns=${__TASK_APP_TARGET_ENVIRONMENT_NAME}"}


def test_deploy_time_names_elsewhere_are_an_error(project):
    project.write("continuous-pipe.yml", "tasks: {a: {run: {image: busybox, commands: ['${SERVICE_API_PUBLIC_ENDPOINT}']}}}\n")
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.key_path == "tasks.a.run.commands[0]"
    assert "only substituted inside environment variable values" in raised.value.message


def test_variables_inside_variables_are_replaced_twice_at_most(project):
    """The pipeline pass inserts ``${B}`` from the value of A, the top-level pass replaces it; no third pass."""
    _write(project, "  - {name: A, value: '${B}'}\n  - {name: B, value: '${C}'}\n  - {name: C, value: c}",
           "              - {name: X, value: '${B}'}\n              - {name: Y, value: '${A}'}")
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.key_path.endswith("environment_variables[1].value")
    assert "only replaced twice" in raised.value.message
    assert env(service(project.load(undefined_variables="keep"), "app", "web")) == {"X": "c", "Y": "${C}"}


def test_escaped_references_are_not_undefined(project):
    project.write("continuous-pipe.yml", "tasks: {k: {deploy: {cluster: '\\${FOO}', services: []}}}\n")
    assert task(project.load(), "k").cluster == "\\${FOO}"


def test_undefined_variables_in_skipped_services_are_not_reported(project):
    project.write("continuous-pipe.yml", """
        tasks:
          app:
            deploy:
              cluster: foo
              services:
                web:
                  condition: code_reference.branch == "production"
                  specification: {source: {image: '${PRODUCTION_IMAGE}'}}
        """)
    assert task(project.load(), "app").services == ()


def test_undefined_variables_in_unselected_pipelines_are_not_reported(project):
    project.write("continuous-pipe.yml", """
        tasks:
          a: {run: {image: '${A_IMAGE}'}}
          b: {run: {image: busybox}}
        pipelines:
          - {name: A, condition: 'code_reference.branch == "a"', tasks: [a]}
          - {name: B, tasks: [b]}
        """)
    assert [p.name for p in project.load().pipelines] == ["B"]


def test_pipeline_variables_override_and_keep_top_level_conditions(project):
    """pipelines/override-variables.feature."""
    project.write("docker-compose.yml", "app: {image: landing-page}\n")
    project.write("continuous-pipe.yml", """
        variables:
          - {name: SYMLINK, value: dev, condition: 'code_reference.branch not in ["production"]'}
        pipelines:
          - name: Production
            condition: 'code_reference.branch == "production"'
            tasks: [deployment]
            variables: [{name: SYMLINK, value: production}]
        tasks:
          deployment:
            deploy:
              cluster: foo
              services:
                app: {specification: {environment_variables: [{name: SYMLINK, value: '${SYMLINK}'}]}}
        """)
    loaded = project.load(branch="production", undefined_variables="keep")
    assert env(service(loaded, "deployment", "app")) == {"SYMLINK": "${SYMLINK}"}


def test_pipeline_variables_in_the_model(project):
    project.write("continuous-pipe.yml", """
        variables:
          - {name: ENV, value: prod, as_environment_variable: true}
          - {name: KEY, value: k, as_environment_variable: [web, worker]}
          - {name: HIDDEN, value: h, condition: 'false', as_environment_variable: true}
          - {name: SHA, expression: code_reference.sha}
        tasks: {a: {run: {image: busybox}}}
        """)
    variables = project.load(secret_variables={"KEY": "secret-key"}).pipelines[0].variables
    assert variables == (model.Variable("ENV", "prod", False, ("*",)),
                         model.Variable("KEY", "secret-key", True, ("web", "worker")),
                         model.Variable("SHA", SHA, False, ()))


def test_variables_everywhere_in_strings(project):
    project.write("docker-compose.yml", "web: {image: '${REGISTRY}/web'}\n")
    project.write("continuous-pipe.yml", """
        variables: [{name: REGISTRY, value: quay.io/acme}, {name: HOST, value: example.com}, {name: R, value: 3}]
        tasks:
          app:
            deploy:
              cluster: foo
              environment: {name: '"app-${R}-" ~ code_reference.branch'}
              services:
                web:
                  specification: {scalability: {number_of_replicas: '${R}'}}
                  endpoints: [{name: web, ingress: {host: 'web.${HOST}'}}]
        """)
    deploy = task(project.load(), "app")
    web = deploy.service("web")
    assert web.image == "quay.io/acme/web" and web.replicas == 3
    assert web.endpoints[0].ingress.hosts == ("web.example.com",)
    assert deploy.environment_name == '"app-3-" ~ code_reference.branch'


def test_exposed_variables_are_substituted_and_tainted(project):
    project.write("continuous-pipe.yml", """
        variables:
          - {name: DB_URL, value: 'mysql://app:${PASSWORD}@db', as_environment_variable: true}
          - {name: HOST, value: '${SERVICE_WEB_PUBLIC_ENDPOINT}', as_environment_variable: [web]}
        tasks: {a: {run: {image: busybox}}}
        """)
    variables = project.load(secret_variables={"PASSWORD": "s3cret"}).pipelines[0].variables
    assert variables == (model.Variable("DB_URL", "mysql://app:s3cret@db", True, ("*",)),
                         model.Variable("HOST", "${SERVICE_WEB_PUBLIC_ENDPOINT}", False, ("web",)))
