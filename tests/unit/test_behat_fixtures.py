# -*- coding: utf-8 -*-
"""ContinuousPipe's Behat doc-strings as a conformance suite for the load stage.

``shared/corpus/monorepo-fixtures`` holds the YAML doc-strings of the monorepo's Behat features,
one file per step: ``<feature>__sNN-<scenario>__<kind>.yml``. A scenario's inputs are its
``continuous-pipe`` (or ``tide-configuration``, a complete ``continuous-pipe.yml``),
``docker-compose`` and ``flow-configuration`` files, plus those of the feature's Background
(``s00``). Its expectations are ``expected-generated-at-least`` / ``expected-generated-not-contain``
(on the whole generated configuration) and ``expected-tide-config-at-least`` (on the configuration
of the tide, i.e. the selected pipeline), compared the way the feature contexts did
(``array_intersect_recursive``: a subset match, scalars compared strictly).

Every scenario is classified in :data:`CASES` (feature-wide entries in :data:`FEATURES`), with the
non-doc-string steps of the scenario that matter here (branch, commit, ``there is N application
images in the repository``, decrypted values) and the ``Then`` steps that concern the load stage
turned into assertions on the model. Outcomes:

``pass``
    loads; the expectation files and the scenario's load-stage ``Then`` steps are asserted.
``fail``
    the scenario expects a failure: a DefinitionError matching ``error`` is asserted.
``rejected``
    ContinuousPipe's ``ConfigurationFactory`` rejects this configuration too (the scenario only
    looks at something else, e.g. read models built from the failed tide): the error is asserted.
``n/a``
    the scenario is about something outside the load stage (reason given); when it has inputs,
    they are still loaded (``loads=True``) or their error asserted.
``background``
    a Background (``s00``) whose files are inputs of the feature's other scenarios.

A summary (per scenario and per fixture file) is printed at the end of the session and written
to ``.build/behat-conformance.txt``.
"""
from __future__ import annotations

import collections
import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import expressions, model, naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.loader import (
    LoadOptions,
    load_configuration,
    load_project,
    tide_configurations,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.yaml_dialect import load_yaml
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
SHARED = os.environ.get("CP_SHARED_DIR") or os.path.join(REPO, os.pardir, "shared")
FIXTURES = os.path.join(SHARED, "corpus", "monorepo-fixtures")
FLOW = "00000000-0000-0000-0000-000000000000"
SHA = "sha1"

INPUT_KINDS = ("continuous-pipe", "tide-configuration", "docker-compose", "flow-configuration")
EXPECTATION_KINDS = ("expected-generated-at-least", "expected-generated-not-contain",
                     "expected-tide-config-at-least")


@dataclass(frozen=True)
class Case:
    outcome: str                      # pass | fail | rejected | n/a | background
    note: str = ""                    # what is asserted, or why n/a
    branch: str = "master"
    sha: str = SHA
    app_images: int = 0               # "Given there is N application images in the repository"
    secrets: Dict[str, str] = field(default_factory=dict)
    undefined: str = "keep"           # ContinuousPipe's behaviour; the missing-variables feature uses "error"
    error: str = ""                   # regular expression the error text must match
    check: Optional[Callable[["Scenario"], None]] = None
    loads: bool = True                # n/a only: whether the inputs load
    unreadable_compose: bool = False  # simulate "the code repository will return a 500 for docker-compose.yml"
    pull_request: Optional[model.PullRequest] = None
    continuous_pipe: str = ""         # a continuous-pipe.yml written by a (non doc-string) step


# --------------------------------------------------------------------------------------------------
# fixtures


def _groups() -> Dict[str, Dict[str, str]]:
    groups: Dict[str, Dict[str, str]] = collections.OrderedDict()
    for name in sorted(os.listdir(FIXTURES)) if os.path.isdir(FIXTURES) else ():
        match = re.match(r"^(.+?__s\d\d)-.*?__([a-z-]+?)(?:-\d+)?\.yml$", name)
        if match:
            groups.setdefault(match.group(1), {})[match.group(2)] = name
    return groups


GROUPS = _groups()


def _feature(key: str) -> str:
    return key.split("__")[0]


def _background(key: str) -> Dict[str, str]:
    background = GROUPS.get(_feature(key) + "__s00", {})
    return {} if key.endswith("__s00") else background


class Scenario:
    """One scenario: its inputs written in a temporary project directory, loaded on demand."""

    def __init__(self, key: str, case: Case, directory: str):
        self.key = key
        self.case = case
        self.files = dict(_background(key), **GROUPS[key])
        self.directory = directory
        self.flow_configuration = None
        self._write_inputs()

    def _read(self, kind: str) -> str:
        with open(os.path.join(FIXTURES, self.files[kind]), encoding="utf-8") as handle:
            return handle.read()

    def _write_inputs(self) -> None:
        for kind in ("continuous-pipe", "tide-configuration"):
            if kind in self.files:
                shutil.copy(os.path.join(FIXTURES, self.files[kind]), os.path.join(self.directory, "continuous-pipe.yml"))
        if self.case.continuous_pipe:
            with open(os.path.join(self.directory, "continuous-pipe.yml"), "w", encoding="utf-8") as handle:
                handle.write(self.case.continuous_pipe)
        compose = os.path.join(self.directory, "docker-compose.yml")
        if self.case.unreadable_compose:
            os.mkdir(compose)
        elif "docker-compose" in self.files:
            shutil.copy(os.path.join(FIXTURES, self.files["docker-compose"]), compose)
        elif self.case.app_images:
            # TideContext::thereIsApplicationImagesInTheRepository
            with open(compose, "w", encoding="utf-8") as handle:
                for index in range(self.case.app_images):
                    handle.write("image%d:\n    build: ./%d\n    labels:\n        com.continuouspipe.image-name: image%d\n"
                                 % (index, index, index))
        if "flow-configuration" in self.files:
            self.flow_configuration = self._read("flow-configuration")

    @property
    def release(self) -> model.Release:
        return model.Release(FLOW, model.CodeReference(self.case.branch, self.case.sha,
                                                       self.case.pull_request or model.PullRequest()))

    @property
    def options(self) -> LoadOptions:
        # ContinuousPipe's behaviour, privileged containers and hostPath volumes included (the migration option)
        return LoadOptions(flow_configuration=self.flow_configuration, secret_variables=dict(self.case.secrets),
                           undefined_variables=self.case.undefined, allow_host_access=True)

    def project(self) -> model.Project:
        return load_project(self.directory, self.release, self.options)

    def generated(self) -> Dict[str, Any]:
        return load_configuration(self.directory, self.release, self.options)

    def tides(self) -> List[Dict[str, Any]]:
        return tide_configurations(self.directory, self.release, self.options)

    def expectation(self, kind: str) -> Any:
        return load_yaml(self._read(kind), self.files[kind])


# --------------------------------------------------------------------------------------------------
# TideConfigurationContext::array_intersect_recursive


def _php_items(value: Any):
    return value.items() if isinstance(value, dict) else enumerate(value)


def intersect(expected: Any, actual: Any) -> Any:
    """What of ``expected`` is found in ``actual`` (keys by name or index, scalars compared with ``===``).

    One adaptation: a mapping expected where this loader produces a list (run tasks'
    ``environment_variables`` map form, whose keys ContinuousPipe kept) matches items anywhere in
    the list.
    """
    out = {} if isinstance(expected, dict) else []
    for key, value in _php_items(expected):
        found, item = _lookup(actual, key, value)
        if not found:
            continue
        if isinstance(value, (dict, list)):
            kept = intersect(value, item) if isinstance(item, (dict, list)) else None
            if kept is not None:
                _put(out, key, kept)
        elif type(item) is type(value) and item == value:
            _put(out, key, value)
    return out


def _lookup(actual: Any, key: Any, value: Any):
    if isinstance(actual, dict):
        return (key in actual and actual[key] is not None), actual.get(key)
    if isinstance(actual, list):
        if isinstance(key, int):
            return (0 <= key < len(actual) and actual[key] is not None), (actual[key] if 0 <= key < len(actual) else None)
        for item in actual:
            if intersect(value, item) == value if isinstance(value, (dict, list)) else item == value:
                return True, item
    return False, None


def _put(out: Any, key: Any, value: Any) -> None:
    if isinstance(out, dict):
        out[key] = value
    else:
        out.append(value)


def assert_contains(expected: Any, actual: Any, what: str) -> None:
    assert intersect(expected, actual) == expected, "%s does not contain %r\n(found %r)" % (what, expected, actual)


def assert_not_contains(expected: Any, actual: Any, what: str) -> None:
    assert intersect(expected, actual) != expected, "%s contains %r" % (what, expected)


def _path(data: Any, *keys: Any) -> Any:
    for key in keys:
        data = data[key]
    return data


# --------------------------------------------------------------------------------------------------
# model helpers for the scenarios' Then steps


def only_pipeline(project: model.Project) -> model.Pipeline:
    assert len(project.pipelines) == 1, [pipeline.name for pipeline in project.pipelines]
    return project.pipelines[0]


def task(project: model.Project, identifier: str) -> model.Task:
    return only_pipeline(project).task(identifier)


def component(project: model.Project, name: str) -> model.Service:
    for deploy in project.deploy_tasks:
        for service in deploy.services:
            if service.name == name or service.identifier == name:
                return service
    raise AssertionError("no component %s in %r" % (name, project))


def deployed(project: model.Project) -> List[str]:
    return [service.identifier for deploy in project.deploy_tasks for service in deploy.services]


def environment(container: Any, pipeline: model.Pipeline, name: str) -> Dict[str, str]:
    """The container's variables plus the pipeline variables exposed to it (``as_environment_variable``)."""
    values = {variable.name: variable.value for variable in container.environment}
    for variable in pipeline.variables:
        exposed = variable.as_environment_variable
        if ("*" in exposed or name in exposed) and variable.name not in values:
            values[variable.name] = variable.value
    return values


def host(project: model.Project, service: str, endpoint: str) -> model.Endpoint:
    for candidate in component(project, service).endpoints:
        if candidate.name == endpoint:
            return candidate
    raise AssertionError("no endpoint %s" % endpoint)


def evaluate_filter(scenario: "Scenario", identifier: str, tasks: Optional[Dict[str, Any]] = None) -> bool:
    project = scenario.project()
    source = task(project, identifier).filter
    reference = project.release.code_reference
    pull_request = {"number": reference.pull_request.number, "title": reference.pull_request.title,
                    "labels": list(reference.pull_request.labels)}
    context = expressions.tide_context(FLOW, reference.branch, reference.sha, pull_request, tasks or {})
    return expressions.to_bool_filter(expressions.evaluate(source, context, {}), source)


# --------------------------------------------------------------------------------------------------
# checks (one per scenario that asserts more than its expectation files)


def _tasks(*identifiers: str) -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        assert [t.identifier for t in only_pipeline(scenario.project()).tasks] == list(identifiers)
    return check


def _types(*pairs: str) -> Callable[[Scenario], None]:
    """``"identifier:type"`` of every task of the only pipeline, in order."""
    def check(scenario: Scenario) -> None:
        found = ["%s:%s" % (t.identifier, t.type) for t in only_pipeline(scenario.project()).tasks]
        assert found == list(pairs)
    return check


def _pipelines(*names: str) -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        assert [pipeline.name for pipeline in scenario.project().pipelines] == list(names)
    return check


def _env(component_name: str, expected: Dict[str, str], absent: tuple = ()) -> Callable[[Scenario], None]:
    """"the component X should be deployed with the following environment variables"."""
    def check(scenario: Scenario) -> None:
        project = scenario.project()
        pipeline = only_pipeline(project)
        if component_name.startswith("run-"):
            container = next(t for t in pipeline.tasks if isinstance(t, model.RunTask)
                             and naming.run_pod_name(t.identifier) == component_name)
        else:
            container = component(project, component_name)
        values = environment(container, pipeline, component_name)
        for name, value in expected.items():
            assert values.get(name) == value, (name, values)
        for name in absent:
            assert name not in values, (name, values)
    return check


def _all(*checks: Callable[[Scenario], None]) -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        for each in checks:
            each(scenario)
    return check


def check_cs_s01(scenario: Scenario) -> None:
    assert isinstance(task(scenario.project(), "task0"), model.OtherTask)


def check_manual_create_services(scenario: Scenario) -> None:
    project = scenario.project()
    one, two = component(project, "one"), component(project, "two")
    assert one.strategy.locked and not one.from_external
    assert two.from_external and two.image == "mine:" + SHA
    assert two.ports == (model.Port("twohttp", 80, "TCP"),)


def _volume(storage_class: str) -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        service = component(scenario.project(), "image0")
        assert service.volume_mounts[0].mount_path == "/var/lib/app"
        volume = [v for v in service.volumes if v.name == service.volume_mounts[0].name][0]
        assert volume.type == "persistent" and volume.storage_class == storage_class
    return check


def _replicas(replicas: Optional[int]) -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        service = component(scenario.project(), "image0")
        assert service.scalable and service.replicas == replicas
    return check


def _probe(probe_type: str, **expected: Any) -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        probe = component(scenario.project(), "image0").strategy.readiness_probe
        assert probe.type == probe_type
        for key, value in expected.items():
            assert getattr(probe, key) == value, (key, probe)
    return check


def _resources(requests: Dict[str, str], limits: Dict[str, str]) -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        resources = component(scenario.project(), "image0").resources
        assert resources.requests == requests and resources.limits == limits
    return check


def _ingress_host(expected: str, endpoint: str = "http") -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        assert host(scenario.project(), "app", endpoint).ingress.hosts == (expected,)
    return check


def _cloudflare_host(expected: str) -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        assert host(scenario.project(), "app", "http").cloud_flare_zone["hostname"] == expected
    return check


def _httplabs_host(expected: str) -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        assert host(scenario.project(), "app", "http").httplabs["incoming"] == expected
    return check


def check_endpoint_nodeport_ssl(scenario: Scenario) -> None:
    endpoint = host(scenario.project(), "app", "https")
    assert endpoint.type == "NodePort"
    assert endpoint.ssl_certificates == (model.TlsCertificate("continuouspipeio", "VALUE", "VALUE"),)


def check_endpoint_cloudflare(scenario: Scenario) -> None:
    zone = host(scenario.project(), "app", "http").cloud_flare_zone
    assert zone["zone_identifier"] == 123456 and zone["authentication"]["email"] == "sam@example.com"


def check_httplabs_middlewares(scenario: Scenario) -> None:
    httplabs = host(scenario.project(), "app", "http").httplabs
    assert httplabs["middlewares"][0]["name"] == "basic_authentication"


def check_annotations(scenario: Scenario) -> None:
    annotations = host(scenario.project(), "app", "http").annotations
    assert annotations == {"service.beta.kubernetes.io/external-traffic": "OnlyLocal"}


def check_cloudflare_options(scenario: Scenario) -> None:
    zone = host(scenario.project(), "app", "http").cloud_flare_zone
    assert zone["proxied"] is True and zone["ttl"] == 1800


def check_cloudflare_backend(scenario: Scenario) -> None:
    assert host(scenario.project(), "app", "http").cloud_flare_zone["backend_address"] == "1.2.3.4"


def _automatic_certificate(name: str) -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        endpoint = host(scenario.project(), "app", "app")
        assert endpoint.ssl_certificates[0].name == name and endpoint.ssl_certificates[0].automatic
        assert endpoint.ingress.hosts == ("my-feature-12357-flex.example.com",)
    return check


def _endpoints(*names: str) -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        assert [endpoint.name for endpoint in component(scenario.project(), "app").endpoints] == list(names)
    return check


def check_reverse_proxy(scenario: Scenario) -> None:
    assert component(scenario.project(), "one").reverse_proxy_domains == ("example.com",)


def check_two_port_identifiers(scenario: Scenario) -> None:
    project = scenario.project()
    first, second = project.deploy_tasks
    assert first.services[0].ports[0].identifier == "web1" and second.services[0].ports[0].identifier == "web2"


def check_port_only(scenario: Scenario) -> None:
    assert component(scenario.project(), "app").ports == (model.Port("port-80", 80, "TCP"),)


def check_reset(scenario: Scenario) -> None:
    assert component(scenario.project(), "image0").strategy.reset


def check_dashed_service(scenario: Scenario) -> None:
    assert component(scenario.project(), "my-database").identifier == "my-database"


def _deployed(*names: str) -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        assert deployed(scenario.project()) == list(names)
    return check


def check_skip_by_task(scenario: Scenario) -> None:
    first, second = scenario.project().deploy_tasks
    assert [s.name for s in first.services] == ["image0"] and [s.name for s in second.services] == ["image1"]


def _environment_name(identifier: str, expression: Optional[str]) -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        assert task(scenario.project(), identifier).environment_name == expression
    return check


def check_env_name_expression(scenario: Scenario) -> None:
    found = [t for t in only_pipeline(scenario.project()).tasks if t.type in ("deploy", "run")][0]
    value = expressions.evaluate(found.environment_name, expressions.tide_context(FLOW, scenario.case.branch, SHA))
    assert naming.environment_name(FLOW, scenario.case.branch, value) == "river-feature-123-foo-bar"


def check_task_variable(scenario: Scenario) -> None:
    env = component(scenario.project(), "foo").environment
    assert env[0].value.startswith("${__TASK_") or "${__TASK_" in env[0].value


def check_foo_dashed(scenario: Scenario) -> None:
    assert component(scenario.project(), "foo-dashed").identifier == "foo-dashed"
    assert component(scenario.project(), "bar").environment[0].value == "${SERVICE_FOO_DASHED_PUBLIC_ENDPOINT}"


def check_bar_underscored(scenario: Scenario) -> None:
    assert component(scenario.project(), "bar_underscored").identifier == "bar-underscored"


def check_run_component(scenario: Scenario) -> None:
    run = [t for t in only_pipeline(scenario.project()).tasks if isinstance(t, model.RunTask)][0]
    assert run.image == "busybox" and run.commands == ("echo testing", "sleep 10", "echo done")


def check_run_volume(scenario: Scenario) -> None:
    run = task(scenario.project(), "testing_command")
    assert naming.run_pod_name(run.identifier) == "run-testing-command"
    assert run.volume_mounts == (model.VolumeMount("api-volume", "/var/lib/app"),)
    assert run.volumes[0].type == "persistent" and run.volumes[0].capacity == "5Gi"


def check_run_endpoint_variable(scenario: Scenario) -> None:
    run = task(scenario.project(), "testing")
    assert dict((e.name, e.value) for e in run.environment) == {
        "BAZ": "BAR", "PUBLIC_ADDRESS": "${SERVICE_BAR_PUBLIC_ENDPOINT}"}


def check_zero_string(scenario: Scenario) -> None:
    assert task(scenario.project(), "testing").environment == (model.EnvVar("MIGRATION_BRANCH", "0"),)


def check_build_context(scenario: Scenario) -> None:
    configuration = task(scenario.project(), "images").configuration
    first = configuration["services"]["first"]
    assert (first["build_directory"], first["docker_file_path"], first["image"]) == (
        "./sub-directory", "./foo/Dockerfile-bar", "docker.io/sroze/image")


def check_build_env_hash(scenario: Scenario) -> None:
    configuration = task(scenario.project(), "build").configuration
    assert configuration["services"]["image0"]["environment"] == [{"name": "FOO", "value": "BAR"}]


def check_build_env_per_service(scenario: Scenario) -> None:
    services = task(scenario.project(), "images").configuration["services"]
    assert services["second"]["environment"] == [{"name": "FOO", "value": "BAZ"}, {"name": "BAR", "value": "FOO"}]


def check_build_steps(scenario: Scenario) -> None:
    steps = task(scenario.project(), "images").configuration["services"]["first"]["steps"]
    assert [step["docker_file_path"] for step in steps.values()] == ["./Buildfile", "./Dockerfile"]


def check_build_reuse(scenario: Scenario) -> None:
    assert task(scenario.project(), "build").configuration["services"]["image0"]["reuse"] is False


def check_build_cache(scenario: Scenario) -> None:
    cache = task(scenario.project(), "images").configuration["services"]["first"]["cache"]
    assert cache == [{"identifier": "my-app-master", "path": "/app/vendor"}]


def check_build_sha1_tag(scenario: Scenario) -> None:
    images = task(scenario.project(), "images").configuration["services"]
    assert images[list(images)[0]]["tag"] == scenario.case.sha


def check_delete(expected_name: Optional[str], cluster: str = "foo") -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        delete = task(scenario.project(), "cleanup")
        assert delete.kind == "delete" and delete.configuration["cluster"] == cluster
        assert delete.configuration["environment"]["name"] == expected_name
    return check


def check_webhook(scenario: Scenario) -> None:
    hooks = [t for t in only_pipeline(scenario.project()).tasks if t.type == "web_hook"]
    assert hooks and all(hook.configuration["url"].startswith("http") for hook in hooks)


def check_wait(scenario: Scenario) -> None:
    wait = task(scenario.project(), "task0")
    assert wait.kind == "wait" and wait.configuration["status"] == {"context": "scrutinizer", "state": "success"}


def check_notifications(scenario: Scenario) -> None:
    assert "my_notification" in scenario.generated()["notifications"]


def check_override_master(scenario: Scenario) -> None:
    _env("app", {"FOO": "bar", "BAR": "bar", "RICHARD": "MILLER"})(scenario)


def check_override_develop(scenario: Scenario) -> None:
    project = scenario.project()
    assert deployed(project) == ["app", "database"]  # mailcatcher not deployed
    assert project.deploy_tasks[0].environment_name == '"ui-ci"'


def check_override_feature(scenario: Scenario) -> None:
    _env("app", {"FOO": "foo", "BAR": "bar", "RICHARD": "JONES"})(scenario)
    _env("database", {"BAZ": "baz"})(scenario)
    assert component(scenario.project(), "app").from_external


def check_filter(identifier: str, expected: bool, tasks: Optional[Dict[str, Any]] = None) -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        assert evaluate_filter(scenario, identifier, tasks) is expected
    return check


def check_pipeline_filter_kept(scenario: Scenario) -> None:
    first = task(scenario.project(), "first")
    assert first.filter == "code_reference.branch != 'master'"
    assert evaluate_filter(scenario, "first") is False and task(scenario.project(), "second").filter is None


def check_teamup(scenario: Scenario) -> None:
    project = scenario.project()
    assert [t.type for t in only_pipeline(project).tasks] == ["build", "run"]
    run = only_pipeline(project).tasks[1]
    assert run.environment_name == '"teamup-ci"' and run.environment == (model.EnvVar("DEVELOPMENT_MODE", "0"),)
    assert run.image == "quay.io/inviqa_images/inviqa-teamup:" + SHA


def check_deploy_built_image(scenario: Scenario) -> None:
    assert component(scenario.project(), "api").image == "docker.io/foo/bar:qwerty"


def check_summary(scenario: Scenario) -> None:
    assert deployed(scenario.project()) == ["database", "app"]


def check_tag_from_branch(scenario: Scenario) -> None:
    build = task(scenario.project(), "images").configuration["services"]["image0"]
    assert build["tag"] == "sroze-feature-dc-labels"


def check_has_changes_for_files(scenario: Scenario) -> None:
    base = task(scenario.project(), "base_images")
    assert base.filter == 'has_changes_for_files(["docker/base/**"])'
    function = expressions.has_changes_for_files_function(["docker/base/Dockerfile"])
    assert expressions.evaluate(base.filter, {}, {"has_changes_for_files": function}) is True


def check_variable_expression_cluster(scenario: Scenario) -> None:
    assert task(scenario.project(), "named").cluster == "master"


def check_missing_variable_escaped(scenario: Scenario) -> None:
    assert task(scenario.project(), "kubernetes").cluster == "\\${FOO}"


def check_dynamic_variables(scenario: Scenario) -> None:
    env = {e.name: e.value for e in component(scenario.project(), "bar").environment}
    assert env == {"ENDPOINT": "${SERVICE_FOO_PUBLIC_ENDPOINT}", "ENDPOINT2": "${ENDPOINT_HTTPS_API_PUBLIC_ENDPOINT}"}


def check_cluster(expected: str, identifier: str = "kubernetes") -> Callable[[Scenario], None]:
    def check(scenario: Scenario) -> None:
        assert task(scenario.project(), identifier).cluster == expected
    return check


def check_pr_pipeline_selected(scenario: Scenario) -> None:
    assert [pipeline.name for pipeline in scenario.project().pipelines] == ["My pipeline"]


def check_flex_s08(scenario: Scenario) -> None:
    build = task(scenario.project(), "images").configuration["services"]["app"]
    assert build["image"] == "my-image" and build["build_directory"] == "."


# --------------------------------------------------------------------------------------------------
# classification

WEBHOOK = "the scenario is about webhook-created tides / code-repository events"
READ_MODEL = "the scenario checks read models (branch / tide views) built by ContinuousPipe"
RUNTIME = "the scenario checks what happens while the tide runs"
LOADS = "only that the configuration loads (and its tasks) can be checked at the load stage"
TOP_LEVEL_FILTER = "the top-level `filter` vetoes webhook-created tides only (not modelled); the configuration loads"
BUILD_NO_SERVICES = ('The child node "services" must be configured',
                     "`build: ~` and no docker-compose.yml: ContinuousPipe's ConfigurationFactory rejects it too; "
                     "the scenario only checks ")

PR_LABELLED = model.PullRequest(1, "", ("Ready for QA",))


def _rejected_build(what: str) -> Case:
    return Case("rejected", BUILD_NO_SERVICES[1] + what, error=BUILD_NO_SERVICES[0])


#: Cases that apply to every scenario of a feature (unless listed in CASES).
FEATURES: Dict[str, Case] = {
    "river-domain-branches-pinned-branches": _rejected_build("pinned-branch views"),
    "river-domain-repository-read-projection": _rejected_build("branch read models"),
    "river-integrations-code-repositories-bitbucket-branches-read-projection": _rejected_build(
        "Bitbucket branch read models"),
    "river-integrations-code-repositories-github-branches-read-projection": _rejected_build("GitHub branch read models"),
    "river-domain-cluster-policies-default-policy": Case(
        "n/a", "cluster choice by the team's clusters and `default` policy (cluster inventory of the deploy stage); "
               "the configuration loads"),
    "river-domain-cluster-policies-endpoint-policy": Case(
        "n/a", "cluster `endpoint` policies (not in continuous-pipe.yml); the configuration loads"),
    "river-domain-cluster-policies-environment-policy": Case(
        "n/a", "cluster `environment` prefix policies (not in continuous-pipe.yml); the configuration loads"),
    "river-domain-cluster-policies-resources-policy": Case(
        "n/a", "cluster `resources` policies (not in continuous-pipe.yml); the configuration loads"),
    "river-domain-flex-configuration-generation": Case(
        "n/a", "Flex: ContinuousPipe generating a configuration for a Symfony Flex project (not re-implemented); "
               "the expectations are that generator's output", loads=False),
    "river-domain-logging-logstream-archive": Case("n/a", "log archiving; " + LOADS),
    "river-domain-notifications-slack": Case("pass", "notifications are kept in the configuration (not sent)",
                                             check=check_notifications),
    "river-domain-tasks-manual-approval-logging": Case("pass", "manual approval logs; " + LOADS,
                                                       check=_types("task0:manual_approval")),
    "river-domain-tasks-webhook-send": Case("pass", "web_hook task kept as configuration (the HTTP call is run time)",
                                            check=check_webhook),
    "river-domain-tide-create": Case("n/a", "tide creation API (branch/commit/permission checks); the configuration "
                                            "loads"),
    "river-integrations-code-repositories-github-tasks-wait-github-status": Case(
        "pass", "wait task kept as configuration (GitHub statuses are run time)", check=check_wait),
    "river-integrations-code-repositories-github-tide-unicity": Case("n/a", WEBHOOK + "; the configuration loads"),
    "river-integrations-code-repositories-github-filters-tide": Case("n/a", TOP_LEVEL_FILTER),
    "river-integrations-code-repositories-github-pull-request": Case("n/a", WEBHOOK + "; the configuration loads"),
}

_ENV_CPY = "river-domain-tasks-deploy-environment"
_ENDPOINTS = "river-domain-tasks-deploy-endpoints"

#: One entry per scenario not covered by FEATURES (checked by test_every_fixture_is_classified).
CASES: Dict[str, Case] = {
    # configuration/continuous-pipe.yml.feature
    "river-domain-configuration-continuous-pipe-yml__s01": Case("pass", "build task from the file", app_images=1,
                                                                check=check_cs_s01),
    "river-domain-configuration-continuous-pipe-yml__s02": Case(
        "fail", "deploy task without services", error=r'tasks\.kubernetes\.deploy\.services.*"services" must be configured'),
    "river-domain-configuration-continuous-pipe-yml__s03": Case("pass", "flow configuration merged"),
    "river-domain-configuration-continuous-pipe-yml__s04": Case("pass", "the file wins over the flow configuration"),
    "river-domain-configuration-continuous-pipe-yml__s05": Case("pass", "configuration only in the flow", app_images=1,
                                                                check=_types("foo:build")),
    "river-domain-configuration-continuous-pipe-yml__s06": Case(
        "fail", "two task types in one task", error=r'Only one task should be configured here but found "deploy" & "build"'),
    "river-domain-configuration-continuous-pipe-yml__s07": Case("fail", "invalid YAML",
                                                                error=r"^continuous-pipe\.yml: YAML seems invalid: .* line 3"),
    "river-domain-configuration-continuous-pipe-yml__s08": Case("pass", "valid image name and tag",
                                                                check=_types("images:build")),
    "river-domain-configuration-continuous-pipe-yml__s09": Case(
        "fail", "invalid image name", error=re.escape('The name "${invalid-image-name}" of the Docker image is invalid.')),
    "river-domain-configuration-continuous-pipe-yml__s10": Case(
        "fail", "invalid image name", error=r'The name ".*something-with\.\.bad__separators" of the Docker image is invalid'),
    "river-domain-configuration-continuous-pipe-yml__s11": Case(
        "fail", "invalid image tag", error=re.escape('The tag ".1.0.0" of the Docker image is invalid.')),
    "river-domain-configuration-continuous-pipe-yml__s12": Case(
        "fail", "invalid image tag", error=re.escape('The tag "1.0/0" of the Docker image is invalid.')),
    # configuration/default-values/environment.feature
    "river-domain-configuration-default-values-environment__s01": Case("pass", "defaults.environment", app_images=1),
    "river-domain-configuration-default-values-environment__s02": Case("pass", "defaults do not override", app_images=1),
    "river-domain-configuration-default-values-environment__s03": Case("pass", "defaults.cluster", app_images=1),
    # configuration/docker-compose-guessing.feature
    **{"river-domain-configuration-docker-compose-guessing__s%02d" % n: Case("pass", "docker-compose defaults")
       for n in (1, 2, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22)},
    "river-domain-configuration-docker-compose-guessing__s03": Case(
        "pass", "no build defaults for compose services without `build`",
        check=lambda s: _path(s.generated(), "tasks", "images", "build")["services"] in ({}, [])),
    "river-domain-configuration-docker-compose-guessing__s10": Case(
        "fail", "no image for the deployed compose service", branch="configuration",
        error=r'tasks\.deploy\.deploy\.services\.api\.specification\.source.*must be configured'),
    "river-domain-configuration-docker-compose-guessing__s23": Case(
        "fail", "docker-compose.yml cannot be read (simulated: a directory)", unreadable_compose=True,
        error=r'^docker-compose\.yml: Unable to read file "docker-compose\.yml"'),
    # configuration/encrypted-variables.feature
    "river-domain-configuration-encrypted-variables__s03": Case(
        "pass", "encrypted value given through secret_variables", secrets={"FOO": "something"},
        check=check_cluster("something", "named")),
    "river-domain-configuration-encrypted-variables__s04": Case(
        "fail", "no value for the encrypted variable", error=r'Unable to decrypt the value of the variable "FOO"'),
    # configuration/image-tag-name.feature
    "river-domain-configuration-image-tag-name__s01": Case(
        "pass", "the commit SHA is the default tag", app_images=1, branch="my-feature",
        sha="3b0110193e36b317207909163d0a582f6f568cf8", check=check_build_sha1_tag),
    # configuration/missing-variables.feature: "the variable X should be missing" ⇒ undefined variable error
    "river-domain-configuration-missing-variables__s01": Case(
        "fail", "undefined ${CLUSTER} is an error", undefined="error", error=r'cluster: undefined variable "CLUSTER"'),
    "river-domain-configuration-missing-variables__s02": Case("pass", "defined in the file", undefined="error",
                                                              check=check_cluster("FOO")),
    "river-domain-configuration-missing-variables__s03": Case("pass", "defined in the flow configuration",
                                                              undefined="error", check=check_cluster("FOO")),
    "river-domain-configuration-missing-variables__s04": Case("pass", "escaped \\${FOO} is not missing",
                                                              undefined="error", check=check_missing_variable_escaped),
    "river-domain-configuration-missing-variables__s05": Case("pass", "deploy-time variables are not missing",
                                                              undefined="error", check=check_dynamic_variables),
    "river-domain-configuration-missing-variables__s06": Case(
        "rejected", "CP's missing-variables API analysed invalid configurations; a tide fails on them (mysql has no "
                    "image): the load stage reports that first", undefined="error",
        error=r"mysql\.specification.*must be configured"),
    "river-domain-configuration-missing-variables__s07": Case(
        "fail", "the missing IMAGE_NAME and CLUSTER are both reported as undefined variables (the build image name "
                "is not validated while it holds an undefined variable: issue 10)", undefined="error",
        error=r'(?s)images\.build\.services\.web\.image: undefined variable "IMAGE_NAME".*'
              r'deployment\.deploy\.cluster: undefined variable "CLUSTER"'),
    "river-domain-configuration-missing-variables__s08": Case(
        "fail", "an unknown key is reported, not the variable", undefined="error",
        error=r'^continuous-pipe\.yml: that_key_do_not_exists: Unrecognized option "that_key_do_not_exists"'),
    # configuration/variables-as-environment.feature
    "river-domain-configuration-variables-as-environment__s01": Case(
        "pass", "as_environment_variable: true", check=_all(_env("foo", {"SECRET": "qwerty"}, ("SUPER_SECRET",)),
                                                            _env("run-tests", {"SECRET": "qwerty"}))),
    "river-domain-configuration-variables-as-environment__s02": Case("pass", "conditions", check=_env(
        "foo", {"ENVIRONMENT": "prod"})),
    "river-domain-configuration-variables-as-environment__s03": Case("pass", "conditions", check=_env(
        "foo", {"ENVIRONMENT": "prod"})),
    "river-domain-configuration-variables-as-environment__s04": Case(
        "pass", "task variables win", check=_all(_env("foo", {"ENV": "prod"}), _env("run-tests", {"ENV": "dev"}))),
    "river-domain-configuration-variables-as-environment__s05": Case(
        "pass", "pipeline variables", check=_env("app", {"ENV": "prod", "SECRET": "secret"})),
    "river-domain-configuration-variables-as-environment__s06": Case(
        "pass", "among the manual ones", check=_all(_env("foo", {"SECRET": "qwerty", "TEST": "foo"}),
                                                    _env("run-tests", {"SECRET": "qwerty", "TEST": "bar"}))),
    "river-domain-configuration-variables-as-environment__s07": Case(
        "pass", "exposed to some services", check=_all(
            _env("foo", {"SECRET": "qwerty", "SUPER_SECRET": "wow"}), _env("bar", {"SECRET": "qwerty"}, ("SUPER_SECRET",)),
            _env("run-tests", {"SECRET": "qwerty"}, ("SUPER_SECRET",)))),
    # configuration/variables.feature
    **{"river-domain-configuration-variables__s%02d" % n: Case("pass", "variables") for n in
       (1, 4, 5, 6, 7, 8, 9, 10, 11)},
    "river-domain-configuration-variables__s02": Case("pass", "conditional variables", app_images=1),
    "river-domain-configuration-variables__s03": Case("pass", "expression variables",
                                                      check=check_variable_expression_cluster),
    "river-domain-configuration-variables__s12": Case("pass", "map form with an expression", sha="1234abc"),
    # flex/configuration-generation.feature
    "river-domain-flex-configuration-generation__s08": Case(
        "pass", "a Flex project with its own configuration is loaded as is", check=check_flex_s08),
    # flow
    "river-domain-flow-alerts__s06": Case("fail", "the missing-variable alert ⇒ undefined variable error",
                                          undefined="error", error=r'undefined variable "CLUSTER"'),
    "river-domain-flow-crud__s06": _rejected_build("flow deletion"),
    # pipelines
    "river-domain-pipelines-creation__s01": Case("pass", "pipeline by condition", app_images=1,
                                                 check=_tasks("images", "deployment")),
    "river-domain-pipelines-creation__s02": Case("pass", "pipeline by condition", app_images=1, branch="foo/bar",
                                                 check=_tasks("images", "tests")),
    "river-domain-pipelines-creation__s03": Case("pass", "two tides", app_images=1, branch="foo/bar",
                                                 check=_pipelines("To master", "Only the branches")),
    "river-domain-pipelines-creation__s04": Case("pass", "no tide", app_images=1, branch="foo/bar",
                                                 check=_pipelines()),
    "river-domain-pipelines-creation__s05": Case("pass", "pipeline for pushes", app_images=1,
                                                 check=_tasks("images", "deployment")),
    "river-domain-pipelines-creation__s06": Case("pass", "task filters kept", app_images=1,
                                                 check=check_pipeline_filter_kept),
    "river-domain-pipelines-creation__s07": Case("pass", "`matches` in conditions", app_images=1, branch="cpdev-user",
                                                 check=_tasks("first")),
    "river-domain-pipelines-creation__s08": Case("fail", "invalid configuration", app_images=1,
                                                 error=r'Unrecognized option "this_is_not_valid" under "tasks\.first\.run"'),
    "river-domain-pipelines-creation__s09": Case("pass", "task order and overrides", app_images=1, branch="develop",
                                                 check=check_teamup),
    "river-domain-pipelines-deletion__s00": Case("pass", "two pipelines", app_images=1,
                                                 check=_pipelines("First pipeline", "Second pipeline")),
    "river-domain-pipelines-list__s00": Case("pass", "pipelines by condition", app_images=1,
                                             check=_pipelines("To master")),
    "river-domain-pipelines-override__s00": Case(
        "pass", "background of 6 scenarios, asserted on master (their Then steps)", check=check_override_master),
    "river-domain-pipelines-override-variables__s00": Case("background", "docker-compose.yml of s01, s02"),
    "river-domain-pipelines-override-variables__s01": Case(
        "pass", "pipeline variable wins", branch="production", check=_env("app", {"SYMLINK_ENVIRONMENT": "production"})),
    "river-domain-pipelines-override-variables__s02": Case(
        "pass", "the top-level condition is kept", branch="production",
        check=_env("app", {"SYMLINK_ENVIRONMENT": "${SYMLINK_ENVIRONMENT}"})),
    "river-domain-pipelines-read-projection__s01": Case("pass", "two tides", app_images=1,
                                                        check=_pipelines("First pipeline", "Second pipeline")),
    "river-domain-pipelines-read-projection__s02": Case("pass", "default pipeline", app_images=1,
                                                        check=_pipelines("Default pipeline")),
    "river-domain-pipelines-read-projection__s03": Case("pass", "default pipeline", app_images=1,
                                                        check=_pipelines("Default pipeline")),
    # tasks/build
    "river-domain-tasks-build-artifacts__s01": Case("n/a", "build artifacts are used by the image builder; "
                                                    "the configuration loads"),
    "river-domain-tasks-build-artifacts__s02": Case("n/a", "build cache (image builder); the configuration loads"),
    "river-domain-tasks-build-artifacts__s03": Case("pass", "cache identifier with a variable", check=check_build_cache),
    "river-domain-tasks-build-artifacts__s04": Case("n/a", "build cache (image builder); the configuration loads"),
    "river-domain-tasks-build-artifacts__s05": Case("n/a", "build cache (image builder); the configuration loads"),
    "river-domain-tasks-build-context__s03": Case("pass", "build context", check=check_build_context),
    "river-domain-tasks-build-context__s05": Case("pass", "build environment from a hash", app_images=1,
                                                  check=check_build_env_hash),
    "river-domain-tasks-build-context__s06": Case("pass", "build environment per service",
                                                  check=check_build_env_per_service),
    "river-domain-tasks-build-context__s07": Case("pass", "build steps", check=check_build_steps),
    "river-domain-tasks-build-context__s08": Case("n/a", "build order of dependent images (image builder); "
                                                  "the configuration loads"),
    "river-domain-tasks-build-context__s09": Case("pass", "reuse: false", app_images=1, check=check_build_reuse),
    "river-domain-tasks-build-naming__s01": Case("pass", "naming_strategy sha1", sha="abc123def",
                                                 check=check_build_sha1_tag),
    **{"river-domain-tasks-build-naming__s%02d" % n: Case(
        "n/a", "image name guessed from the team's registry credentials; the configuration loads") for n in (2, 3, 4, 5)},
    # tasks/delete
    "river-domain-tasks-delete-delete-environment__s01": Case("pass", "delete", check=check_delete('"app-" ~ code_reference.branch')),
    "river-domain-tasks-delete-delete-environment__s02": Case("pass", "delete", check=check_delete(None)),
    "river-domain-tasks-delete-delete-environment__s03": Case("pass", "defaults", check=check_delete('"app-" ~ code_reference.branch')),
    "river-domain-tasks-delete-delete-environment__s04": Case("pass", "defaults", check=check_delete('"app-test-" ~ code_reference.branch')),
    "river-domain-tasks-delete-delete-environment__s05": Case("pass", "delete failure is run time",
                                                              check=check_delete('"app-" ~ code_reference.branch')),
    # tasks/deploy
    "river-domain-tasks-deploy-deploy-built-images__s03": Case(
        "pass", "configuration of the step \"a tide is started for the branch X with a build and deploy task\"; "
                "the image name is asserted (the tag, qwerty, is the image builder's naming)", branch="qwerty",
        continuous_pipe="tasks: [{build: []}, {deploy: {cluster: fake/foo}}]\n",
        check=lambda s: component(s.project(), "app").image.startswith("docker.io/foo/bar:")),
    "river-domain-tasks-deploy-deployed-endpoints-variables__s01": Case(
        "pass", "deploy-time variable kept verbatim", check=_env("bar", {"ENDPOINT": "${SERVICE_FOO_PUBLIC_ENDPOINT}"})),
    _ENDPOINTS + "__s01": Case("pass", "NodePort + certificates", check=check_endpoint_nodeport_ssl),
    _ENDPOINTS + "__s02": Case("pass", "CloudFlare", check=_all(
        check_endpoint_cloudflare, _cloudflare_host("master.example.com"))),
    _ENDPOINTS + "__s03": Case("fail", "CloudFlare needs authentication",
                               error=r"cloud_flare_zone\.authentication.*must be configured"),
    _ENDPOINTS + "__s04": Case("pass", "HttpLabs", check=lambda s: host(s.project(), "app", "http").httplabs),
    _ENDPOINTS + "__s05": Case("pass", "HttpLabs middlewares", check=check_httplabs_middlewares),
    _ENDPOINTS + "__s06": Case("pass", "HttpLabs host expression", branch="my-very-long-shiny-new-feature-branch-name",
                               check=_httplabs_host("my-very-long-shi-02b27a5635-certeo.inviqa-001.httplabs.net")),
    _ENDPOINTS + "__s07": Case("pass", "HttpLabs record_suffix", branch="my-very-long-shiny-new-feature-branch-name",
                               check=_httplabs_host("my-very-long-shiny-new-02b27a5635-certeo.inviqa-001.httplabs.net")),
    _ENDPOINTS + "__s08": Case("pass", "annotations", check=check_annotations),
    _ENDPOINTS + "__s09": Case("pass", "CloudFlare proxied/ttl", check=check_cloudflare_options),
    _ENDPOINTS + "__s10": Case("pass", "ingress host expression",
                               check=_ingress_host("master-certeo.inviqa-001.example.com")),
    _ENDPOINTS + "__s11": Case("pass", "slugify()", branch="feature/123-foo-bar",
                               check=_ingress_host("feature-123-foo-bar-certeo.inviqa-001.example.com")),
    _ENDPOINTS + "__s12": Case("pass", "hash_long_domain_prefix()", branch="my-very-long-shiny-new-feature-branch-name",
                               check=_ingress_host("my-very-long-shi-02b27a5635-certeo.inviqa-001.example.com")),
    _ENDPOINTS + "__s13": Case(
        "pass", "host_suffix (the feature's literal is stale since 4508fa86e; docs/behaviour.md §8.4 gives the value)",
        branch="feature/my-very-long-shiny-new-branch-name",
        check=_ingress_host("feature-my-very-long-sh-c5743d6c37-certeo.inviqa-001.example.com")),
    _ENDPOINTS + "__s14": Case("fail", "host_suffix too long", branch="feature/new-branch-name",
                               error=r"ingress\.host_suffix: The ingress host_suffix cannot be more than 53 characters"),
    _ENDPOINTS + "__s15": Case("pass", "CloudFlare backend", check=check_cloudflare_backend),
    _ENDPOINTS + "__s16": Case("pass", "CloudFlare with ingress", check=_ingress_host(
        "master-certeo.inviqa-001.example.com")),
    _ENDPOINTS + "__s17": Case("fail", "a host expression that is not an expression",
                               error=r'host\.expression: The expression provided \("certeo\.inviqa-001\.example\.com"\) '
                                     r'is not valid'),
    _ENDPOINTS + "__s18": Case("pass", "CloudFlare hostname", check=_cloudflare_host("master.example.com")),
    _ENDPOINTS + "__s19": Case("pass", "CloudFlare host expression",
                               check=_cloudflare_host("master.certeo.inviqa-001.example.com")),
    _ENDPOINTS + "__s20": Case("pass", "CloudFlare slugified host", branch="feature/123-foo-bar",
                               check=_cloudflare_host("feature-123-foo-bar-certeo.inviqa-001.example.com")),
    _ENDPOINTS + "__s21": Case("pass", "CloudFlare hashed host", branch="my-very-long-shiny-new-feature-branch-name",
                               check=_cloudflare_host("my-very-long-shi-02b27a5635-certeo.inviqa-001.example.com")),
    _ENDPOINTS + "__s22": Case("pass", "CloudFlare record_suffix (stale literal in the feature, as s13)",
                               branch="feature/my-very-long-shiny-new-branch-name",
                               check=_cloudflare_host("feature-my-very-long-sh-c5743d6c37-certeo.inviqa-001.example.com")),
    _ENDPOINTS + "__s23": Case("pass", "automatic certificate", branch="my-feature",
                               check=_automatic_certificate("automatic")),
    _ENDPOINTS + "__s24": Case("pass", "automatic certificate", branch="my-feature", check=_automatic_certificate("app")),
    _ENDPOINTS + "__s25": Case("pass", "literal host", branch="feature/my-very-long-shiny-new-branch-name",
                               check=_ingress_host("continuouspipe.github.io")),
    _ENDPOINTS + "__s26": Case("pass", "endpoint condition false", check=_all(
        _endpoints("http"), _ingress_host("master-12357-flex.example.com"))),
    _ENDPOINTS + "__s27": Case("pass", "endpoint condition true", branch="production", check=_all(
        _endpoints("production", "http"), _ingress_host("continuouspipe.github.io", "production"),
        _ingress_host("production-12357-flex.example.com"))),
    "river-domain-tasks-deploy-environment-names-as-variables__s01": Case("pass", "__TASK_ variable kept",
                                                                          check=check_task_variable),
    "river-domain-tasks-deploy-environment-names-as-variables__s02": Case(
        "pass", "__TASK_ variable kept", check=_env("bar", {"ENVIRONMENT": "${__TASK_INFRASTRUCTURE_TARGET_ENVIRONMENT_NAME}"})),
    "river-domain-tasks-deploy-environment-names-as-variables__s03": Case(
        "pass", "task name with dashes", check=_all(_tasks("application_deployment"), _env(
            "foo", {"ENVIRONMENT": "${__TASK_APPLICATION_DEPLOYMENT_TARGET_ENVIRONMENT_NAME}"}))),
    "river-domain-tasks-deploy-environment-names-as-variables__s04": Case(
        "pass", "variables inside variables (single pass)", check=_env(
            "foo", {"ENVIRONMENT": "mailcatcher.${__TASK_APPLICATION_TARGET_ENVIRONMENT_NAME}.svc.cluster.local"})),
    "river-domain-tasks-deploy-environment-names-as-variables__s05": Case(
        "pass", "__TASK_ variable kept (its value is computed by translate)",
        branch="this-long-branch-name-will-force-continuous-pipe-to-truncate-hash-and-do-its-magic-for-it-to-work",
        check=check_task_variable),
    _ENV_CPY + "__s01": Case("pass", "manual services, legacy locked, built image", check=check_manual_create_services),
    _ENV_CPY + "__s02": Case("pass", "persistent volume", app_images=1, check=_volume("default")),
    _ENV_CPY + "__s03": Case("pass", "storage class", app_images=1, check=_volume("slow")),
    _ENV_CPY + "__s04": Case("pass", "reverse proxy extension", check=check_reverse_proxy),
    _ENV_CPY + "__s05": Case("pass", "ports per task", check=check_two_port_identifiers),
    _ENV_CPY + "__s06": Case("pass", "port number only", check=check_port_only),
    _ENV_CPY + "__s07": Case("n/a", "namespace labels (translate stage); the configuration loads"),
    _ENV_CPY + "__s08": Case("pass", "replicas not set", app_images=1, check=_replicas(None)),
    _ENV_CPY + "__s09": Case("pass", "replicas", app_images=1, check=_replicas(5)),
    _ENV_CPY + "__s10": Case("pass", "replicas from a variable", app_images=1, check=_replicas(5)),
    _ENV_CPY + "__s11": Case("pass", "http probe", app_images=1, check=_probe(
        "http", path="/", initial_delay_seconds=5, timeout_seconds=5, period_seconds=5)),
    _ENV_CPY + "__s12": Case("pass", "tcp probe", app_images=1, check=_probe("tcp", port=3306)),
    _ENV_CPY + "__s13": Case("pass", "exec probe", app_images=1, check=_probe("exec", command=("blah", "blah"))),
    _ENV_CPY + "__s14": Case("pass", "resources", app_images=1, check=_resources(
        {"cpu": "250m", "memory": "2Gi"}, {"cpu": "1", "memory": "3Gi"})),
    _ENV_CPY + "__s15": Case("pass", "reset", app_images=1, check=check_reset),
    _ENV_CPY + "__s16": Case("pass", "probe value from a variable", app_images=1,
                             check=_probe("tcp", port=80, initial_delay_seconds=5)),
    _ENV_CPY + "__s17": Case("pass", "dashed service name", app_images=1, check=check_dashed_service),
    _ENV_CPY + "__s18": Case("pass", "mount_path shorthand", app_images=1, check=_volume("default")),
    _ENV_CPY + "__s19": Case("pass", "resources shorthand", app_images=1, check=_resources(
        {"cpu": "250m", "memory": "2Gi"}, {"cpu": "250m", "memory": "2Gi"})),
    _ENV_CPY + "__s20": Case("fail", "resources shorthand mixed", app_images=1,
                             error=re.escape("You cannot combine `cpu` and/or `memory` resource configuration with "
                                             "`requests` and/or `limits`")),
    **{"river-domain-tasks-deploy-image-name-configuration__s%02d" % n: Case(
        "pass", "built images", branch="my-feature", sha="de3ad3af0a7be847aa6fae2c14caa39eb5c1bee3")
       for n in (1, 3, 4)},
    "river-domain-tasks-deploy-image-name-configuration__s02": Case("pass", "built images, branch tag", branch="my-feature"),
    "river-domain-tasks-deploy-image-name-configuration__s05": Case("pass", "built images",
                                                                    sha="de3ad3af0a7be847aa6fae2c14caa39eb5c1bee3"),
    "river-domain-tasks-deploy-image-name-configuration__s06": Case("pass", "built images",
                                                                    sha="3b0110193e36b317207909163d0a582f6f568cf8"),
    "river-domain-tasks-deploy-image-name-configuration__s07": Case("pass", "built steps, branch tag", branch="my-feature"),
    "river-domain-tasks-deploy-service-and-environment-variables-transformed-properly__s01": Case(
        "pass", "dashed service", check=check_foo_dashed),
    "river-domain-tasks-deploy-service-and-environment-variables-transformed-properly__s02": Case(
        "pass", "underscored service", check=check_bar_underscored),
    "river-domain-tasks-deploy-skip-components__s01": Case("pass", "only listed services", app_images=2,
                                                           check=_deployed("image0")),
    "river-domain-tasks-deploy-skip-components__s02": Case("pass", "services per task", app_images=2,
                                                           check=check_skip_by_task),
    "river-domain-tasks-deploy-skip-components__s03": Case("pass", "service conditions", app_images=3,
                                                           check=_deployed("image0", "image1")),
    # tasks/environment-name.feature
    "river-domain-tasks-environment-name__s05": Case("pass", "environment name expression (deploy)",
                                                     branch="feature/123-FOO-bar", check=check_env_name_expression),
    "river-domain-tasks-environment-name__s06": Case("pass", "environment name expression (run)",
                                                     branch="feature/123-FOO-bar", check=check_env_name_expression),
    # tasks/manual_approval/task.feature
    **{"river-domain-tasks-manual-approval-task__s%02d" % n: Case(
        "pass", "manual approval (run time); " + LOADS, check=_types("task0:manual_approval"))
       for n in (1, 2, 3)},
    **{"river-domain-tasks-manual-approval-task__s%02d" % n: Case(
        "pass", "manual approval between deploys", check=_types("task0:deploy", "task1:manual_approval", "task2:deploy"))
       for n in (4, 5)},
    # tasks/run
    "river-domain-tasks-run-deploy-attached-components__s01": Case("pass", "run task", check=check_run_component),
    "river-domain-tasks-run-deploy-attached-components__s02": Case(
        "pass", "run pod name", check=lambda s: naming.run_pod_name(task(s.project(), "testing_command").identifier)
        == "run-testing-command"),
    "river-domain-tasks-run-deploy-attached-components__s03": Case("pass", "run volumes", check=check_run_volume),
    "river-domain-tasks-run-deploy-attached-components__s04": Case("pass", "run volume shorthand", check=check_run_volume),
    "river-domain-tasks-run-deployed-endpoints-variables__s01": Case("pass", "endpoint variables are run time; "
                                                                     + LOADS, check=_types("deploy:deploy", "testing:run")),
    "river-domain-tasks-run-deployed-endpoints-variables__s02": Case("pass", "variables in run tasks",
                                                                     check=check_run_endpoint_variable),
    "river-domain-tasks-run-deployed-endpoints-variables__s03": Case("pass", "0 as a string", check=check_zero_string),
    "river-domain-tasks-run-environment-variables__s01": Case("pass", "map form"),
    **{"river-domain-tasks-run-service-name-configuration__s%02d" % n: Case("pass", "from_service") for n in (1, 2, 3)},
    "river-domain-tasks-webhook-send__s05": Case(
        "fail", "the web-hook fails in CP because ${WEBHOOK_URL} is not defined: with undefined_variables=error that "
                "is a load error", undefined="error", error=r'web_hook\.url: undefined variable "WEBHOOK_URL"'),
    # tide
    "river-domain-tide-cancel__s03": Case("pass", "cancellation is run time; " + LOADS, app_images=1,
                                          check=_types("images:build", "deployment:deploy", "fixtures:run")),
    "river-domain-tide-concurrency__s00": Case("n/a", "tide concurrency (run time); the configuration loads",
                                               app_images=1),
    "river-domain-tide-create__s06": Case("fail", "no tasks", error=r"You need to configure tasks to be run for the tide\."),
    "river-domain-tide-filtering-entire-tide__s01": Case("pass", "no filter", check=_types("task0:build")),
    "river-domain-tide-filtering-entire-tide__s02": Case("n/a", TOP_LEVEL_FILTER),
    "river-domain-tide-filtering-entire-tide__s03": Case("n/a", TOP_LEVEL_FILTER, branch="feature"),
    "river-domain-tide-filtering-entire-tide__s04": Case(
        "rejected", "without the webhook-only filter (a user-triggered tide) there is nothing to run: CP's message",
        branch="feature", error=r"No `continuous-pipe\.yml` file was found in the code repository\."),
    "river-domain-tide-filtering-filter-tasks__s01": Case(
        "fail", "filter with an unknown variable (checked at load time)",
        error=r'filter\.expression: The expression provided \("foo\.bar"\) is not valid: Variable "foo" is not valid'),
    "river-domain-tide-filtering-filter-tasks__s02": Case("pass", "filter false ⇒ skipped", branch="feature",
                                                          check=check_filter("task0", False)),
    "river-domain-tide-filtering-filter-tasks__s03": Case("pass", "filter true ⇒ run", check=check_filter("task0", True)),
    "river-domain-tide-filtering-filter-tasks__s04": Case(
        "pass", "created service ⇒ run", check=check_filter("fixtures", True, {"deployment": expressions.deploy_task_context(
            {"mysql": {"created": True, "updated": False, "deleted": False}})})),
    "river-domain-tide-filtering-filter-tasks__s05": Case(
        "pass", "not created ⇒ skipped", check=check_filter("fixtures", False, {"deployment": expressions.deploy_task_context(
            {"mysql": {"created": False, "updated": False, "deleted": False}})})),
    "river-domain-tide-filtering-filter-tasks__s06": Case("n/a", "unknown service in a filter fails when the filter is "
                                                          "evaluated (run time); the configuration loads"),
    "river-domain-tide-filtering-filter-tasks__s07": Case("n/a", "unknown task in a filter fails when the filter is "
                                                          "evaluated (run time); the configuration loads"),
    "river-domain-tide-filtering-filter-tasks__s08": Case(
        "pass", "skipped deploy ⇒ false", branch="my/feature", check=_all(
            check_filter("deployment", False),
            check_filter("fixtures", False, {"deployment": expressions.deploy_task_context(None)}))),
    "river-domain-tide-summary__s09": Case("pass", "two deploy tasks", check=check_summary),
    "river-domain-tide-tides-per-hour__s00": Case("n/a", "tide statistics; the configuration loads", app_images=1),
    "river-domain-tide-time-out__s00": Case("n/a", "tide time-out (run time); the configuration loads", app_images=1),
    # integrations
    "river-integrations-code-repositories-bitbucket-notifications-commit-statuses__s00": Case(
        "n/a", "Bitbucket commit statuses; the configuration loads"),
    "river-integrations-code-repositories-bitbucket-tide__s01": Case("n/a", WEBHOOK + "; the configuration loads"),
    "river-integrations-code-repositories-bitbucket-tide__s02": Case("n/a", WEBHOOK + "; the configuration loads"),
    "river-integrations-code-repositories-common-notifications-commit__s01": Case(
        "n/a", "commit notifications; the configuration loads", app_images=1),
    "river-integrations-code-repositories-common-notifications-commit__s02": Case(
        "fail", "the scenario's configuration is unreadable on purpose", app_images=1,
        error=r"pipelines\.something_wrong_matey\.(name|tasks).*must be configured"),
    "river-integrations-code-repositories-github-archive__s02": Case("n/a", "GitHub archive download (builder); "
                                                                     "the configuration loads"),
    "river-integrations-code-repositories-github-default-configuration__s01": Case(
        "pass", "branch naming strategy on a pull request from a fork (the branch CP computed is given)", app_images=1,
        branch="sroze/feature/dc-labels", check=check_tag_from_branch),
    "river-integrations-code-repositories-github-default-configuration__s02": Case(
        "pass", "branch naming strategy on a pull request from a fork", app_images=1,
        branch="sroze/feature/dc-labels", check=check_tag_from_branch),
    "river-integrations-code-repositories-github-filters-code-changes__s00": Case(
        "pass", "has_changes_for_files() kept in the filter and evaluated with changed files", check=check_has_changes_for_files),
    "river-integrations-code-repositories-github-filters-tasks__s01": Case(
        "pass", "pull request labels in filters (no PR)", app_images=1, check=check_filter("environment", True)),
    "river-integrations-code-repositories-github-filters-tasks__s02": Case(
        "pass", "pull request labels in filters (no PR)", app_images=1, branch="feature",
        check=check_filter("environment", False)),
    **{"river-integrations-code-repositories-github-filters-tasks__s%02d" % n: Case(
        "pass", "pull request labels in filters", app_images=1, pull_request=PR_LABELLED,
        check=check_filter("environment", True)) for n in (3, 4, 5, 6)},
    "river-integrations-code-repositories-github-filters-tide__s07": Case(
        "pass", "pull request condition on a pipeline", pull_request=PR_LABELLED, check=check_pr_pipeline_selected),
    "river-integrations-code-repositories-github-filters-tide__s08": Case(
        "pass", "pull request title in a pipeline condition", pull_request=model.PullRequest(1, "something great"),
        check=check_pr_pipeline_selected),
    "river-integrations-code-repositories-github-notifications-commit-status__s07": Case(
        "pass", "legacy github_commit_status key", app_images=1,
        check=lambda s: s.generated()["notifications"]["default"]["commit"] is False),
    "river-integrations-code-repositories-github-notifications-commit-status__s08": Case(
        "pass", "default commit status kept with another notification", app_images=1,
        check=lambda s: set(s.generated()["notifications"]) == {"default", "my_notification"}),
}


def case_of(key: str) -> Case:
    if key in CASES:
        return CASES[key]
    if _feature(key) in FEATURES:
        return FEATURES[_feature(key)]
    raise KeyError(key)


# --------------------------------------------------------------------------------------------------
# tests

RESULTS: Dict[str, str] = {}


def _expectations(scenario: Scenario) -> int:
    checked = 0
    kinds = {kind for kind in scenario.files if kind.startswith("expected")}
    if kinds & {"expected-generated-at-least", "expected-generated-not-contain"}:
        generated = scenario.generated()
        if "expected-generated-at-least" in kinds:
            assert_contains(scenario.expectation("expected-generated-at-least"), generated, "generated configuration")
            checked += 1
        if "expected-generated-not-contain" in kinds:
            assert_not_contains(scenario.expectation("expected-generated-not-contain"), generated,
                                "generated configuration")
            checked += 1
    if "expected-tide-config-at-least" in kinds:
        tides = scenario.tides()
        assert tides, "no tide"
        assert_contains(scenario.expectation("expected-tide-config-at-least"), tides[0], "tide configuration")
        checked += 1
    return checked


@pytest.mark.parametrize("key", list(GROUPS))
def test_scenario(key, tmp_path):
    case = case_of(key)
    inputs = [kind for kind in dict(_background(key), **GROUPS[key]) if kind in INPUT_KINDS]
    if case.outcome == "background":
        users = [other for other in GROUPS if _feature(other) == _feature(key) and other != key]
        assert users, "a background without scenarios must be run as a scenario"
        RESULTS[key] = "background"
        return
    if case.outcome == "n/a" and not inputs:
        RESULTS[key] = "n/a"
        pytest.skip(case.note)
    scenario = Scenario(key, case, str(tmp_path))
    if case.outcome in ("fail", "rejected") or (case.outcome == "n/a" and not case.loads):
        with pytest.raises(DefinitionError) as raised:
            scenario.project()
        assert re.search(case.error, str(raised.value)), str(raised.value)
        RESULTS[key] = case.outcome
        return
    project = scenario.project()
    assert isinstance(project, model.Project)
    if case.outcome == "n/a":
        RESULTS[key] = "n/a"
        return
    assert case.outcome == "pass", case
    checked = _expectations(scenario)
    if case.check is not None:
        case.check(scenario)
        checked += 1
    assert checked, "a passing scenario must assert something beyond loading: %s" % key
    RESULTS[key] = "pass"


def test_every_fixture_is_classified():
    """Every scenario has an explicit case; every case names an existing scenario; n/a has a reason."""
    assert GROUPS, "no fixtures found in %s" % FIXTURES
    unclassified = []
    for key in GROUPS:
        try:
            case = case_of(key)
        except KeyError:
            unclassified.append(key)
            continue
        assert case.outcome in ("pass", "fail", "rejected", "n/a", "background"), (key, case.outcome)
        assert case.note, "%s needs a note" % key
        if case.outcome in ("fail", "rejected"):
            assert case.error, "%s needs the expected error" % key
    assert not unclassified, unclassified
    assert not set(CASES) - set(GROUPS), sorted(set(CASES) - set(GROUPS))
    assert not set(FEATURES) - {_feature(key) for key in GROUPS}


def summary() -> str:
    """Counts per outcome, per scenario and per fixture file, with the n/a reasons."""
    scenarios = collections.Counter()
    files = collections.Counter()
    reasons = collections.Counter()
    for key, names in GROUPS.items():
        case = case_of(key)
        scenarios[case.outcome] += 1
        for kind in names:
            files[(case.outcome, "input" if kind in INPUT_KINDS else "expectation")] += 1
        if case.outcome == "n/a":
            reasons[case.note] += 1
    lines = ["Behat fixture conformance (%d scenarios, %d files)" % (len(GROUPS), sum(files.values()))]
    for outcome in ("pass", "fail", "rejected", "n/a", "background"):
        lines.append("  %-10s %3d scenarios, %3d input files, %3d expectation files" % (
            outcome, scenarios[outcome], files[(outcome, "input")], files[(outcome, "expectation")]))
    lines.append("  n/a reasons:")
    for reason, count in reasons.most_common():
        lines.append("    %3d  %s" % (count, reason))
    return "\n".join(lines)


def test_summary(capsys):
    text = summary()
    os.makedirs(os.path.join(REPO, ".build"), exist_ok=True)
    with open(os.path.join(REPO, ".build", "behat-conformance.txt"), "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    with capsys.disabled():
        print("\n" + text)
    assert "pass" in text
