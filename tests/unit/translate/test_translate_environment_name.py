"""Environment (namespace) names (docs/behaviour.md §8.1, §8.4)."""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import expressions, model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.environment import (
    TranslateOptions,
    environment_name,
    translate_environment,
)

FLOW = "00000000-0000-0000-0000-000000000000"


def _release(branch, sha="a1b2c3", pull_request=None):
    return model.Release(FLOW, model.CodeReference(branch, sha, pull_request or model.PullRequest()))


def _deploy(expression=None):
    return model.DeployTask(identifier="deployment", environment_name=expression)


# §8.4, every environment-name example (the host-name rows are naming.py's).
@pytest.mark.parametrize("branch, expression, prefix, expected", [
    ("feature/123-FOO-bar", None, None, "00000000-0000-0000-0000-000000000000-feature-123-foo-bar"),
    ("this-long-branch-name-will-force-continuous-pipe-to-truncate-hash-and-do-its-magic-for-it-to-work", None, None,
     "00000000-0000-0000-0000-000000000000-this-long-branc-8ef2133d04"),
    ("feature/123-FOO-bar", '"river-" ~ code_reference.branch', None, "river-feature-123-foo-bar"),
    ("master", None, "abc123-", "abc123-9f89c-master"),
    ("feature/this-is-a-very-very-long-branch-name-describing-the-feature", None, "abc123-",
     "abc123-9f89c-feature-this-is-a-very-very-long-branch-e61cb61c01"),
])
def test_verified_examples(branch, expression, prefix, expected):
    name = environment_name(_deploy(expression), _release(branch), policy_prefix=prefix)
    assert name == expected
    assert len(name) <= 63


def test_custom_expression_with_pull_request_and_sha():
    release = _release("feature/x", sha="deadbeef", pull_request=model.PullRequest(42, "Add login", ("preview",)))
    task = _deploy('"pr-" ~ pull_request.number ~ "-" ~ code_reference.sha ~ ("preview" in pull_request.labels ? "-p" : "")')
    assert environment_name(task, release) == "pr-42-deadbeef-p"


def test_custom_expression_reading_flow_uuid_is_slugified():
    assert environment_name(_deploy('flow.uuid ~ "/UAT"'), _release("master")) == FLOW + "-uat"


def test_custom_expression_reading_tasks():
    task = _deploy('tasks.infra.services.db.created ? "fresh" : "existing"')
    tasks = {"infra": expressions.deploy_task_context({"db": {"created": True, "updated": False, "deleted": False}})}
    assert environment_name(task, _release("master"), tasks) == "fresh"
    pending = {"infra": expressions.deploy_task_context(None)}
    assert environment_name(task, _release("master"), pending) == "existing"


def test_long_custom_names_are_shortened_too():
    name = environment_name(_deploy('"x" ~ code_reference.branch'), _release("b" * 100))
    assert len(name) == 63
    assert name.startswith("x" + "b" * 36)


def test_run_task_names_its_path():
    task = model.RunTask(identifier="migrations", environment_name="unknown_variable")
    with pytest.raises(DefinitionError) as error:
        environment_name(task, _release("master"))
    assert error.value.key_path == "tasks.migrations.run.environment.name"


@pytest.mark.parametrize("expression, message", [
    ("code_reference.branch ~", "cannot evaluate"),
    ("tasks.missing.services.db.created", "cannot evaluate"),
    ("pull_request.number", "not a string"),
    ("code_reference.branch == 'master'", "not a string"),
])
def test_expression_errors(expression, message):
    with pytest.raises(DefinitionError) as error:
        environment_name(_deploy(expression), _release("master"))
    assert error.value.key_path == "tasks.deployment.deploy.environment.name"
    assert message in error.value.message


def test_name_that_slugifies_to_nothing():
    with pytest.raises(DefinitionError) as error:
        environment_name(_deploy('"///"'), _release("master"))
    assert error.value.key_path == "tasks.deployment.deploy.environment.name"


def test_policy_prefix_is_enforced_on_custom_names():
    with pytest.raises(DefinitionError) as error:
        environment_name(_deploy('"river-" ~ code_reference.branch'), _release("master"), policy_prefix="abc123-")
    assert "prefixed by abc123-" in error.value.message


def test_translate_uses_the_environment_name_by_default_and_the_option_otherwise():
    task = model.DeployTask(identifier="deployment", environment_name='"app-" ~ code_reference.branch',
                            services=(model.Service(name="web", identifier="web", image="acme/web"),))
    rendered = translate_environment(task, _release("Feature/A"))
    assert rendered.namespace == "app-feature-a"
    assert {obj["metadata"].get("namespace", obj["metadata"]["name"]) for obj in rendered.objects} == {"app-feature-a"}
    assert translate_environment(task, _release("Feature/A"), TranslateOptions(namespace="fixed")).namespace == "fixed"


def test_invalid_namespace_option():
    with pytest.raises(DefinitionError) as error:
        translate_environment(_deploy(), _release("master"), TranslateOptions(namespace="Not_Valid"))
    assert error.value.key_path == "namespace"
