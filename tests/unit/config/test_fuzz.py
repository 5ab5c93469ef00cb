# -*- coding: utf-8 -*-
"""Malformed definitions never escape as anything but DefinitionError, and every error says where.

Random nested documents are built from the schema's own key names (plus unknown ones) and random
scalars, lists and mappings, and given to the loader as ``continuous-pipe.yml`` (YAML text), as the
flow configuration (Python data) and as ``docker-compose.yml``.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config import nodes, schema
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.loader import LoadOptions, load_project
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError, DefinitionErrors

#: Errors about the whole project, not about one key.
PROJECT_LEVEL = ("No `continuous-pipe.yml` file was found in the code repository.",)


def _schema_keys(node, seen=None):
    seen = set() if seen is None else seen
    if id(node) in seen:
        return set()
    seen.add(id(node))
    keys = set()
    if isinstance(node, nodes.ArrayNode):
        keys.update(node.children)
        for child in node.children.values():
            keys |= _schema_keys(child, seen)
    if isinstance(node, nodes.PrototypedNode):
        keys |= _schema_keys(node.prototype, seen)
    return keys


KNOWN = sorted(_schema_keys(schema.root()) | {"environment_variables", "locked", "mount_path", "cpu", "memory",
                                              "imports", "web", "task0"})
COMPOSE_KEYS = ["version", "services", "image", "build", "labels", "expose", "environment", "volumes", "command",
                "privileged", "context", "dockerfile", "com.continuouspipe.image-name",
                "com.continuouspipe.visibility", "com.continuouspipe.update", "web", "db"]
UNKNOWN = ["bogus", "por", "deploy-ment", "0", "Deploy"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70000), st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(["", "80", "nginx", "yes", "${X}", "${X?:d}", "\\${Y}", "code_reference.branch", "'a' ~ 1",
                     "slugify(", "TCP", "UDP", "http", "tcp", "exec", "persistent", "hostPath", "/data", ".:/app",
                     "/a:/b", "lock", "public", "-x.example.com", "automatic", "*", "branch", "sha1", "a=b",
                     "true", "false", "8000-8010"]),
    st.text(max_size=8),
)


def documents(keys):
    key = st.one_of(st.sampled_from(keys), st.sampled_from(UNKNOWN))
    return st.recursive(
        scalars,
        lambda children: st.one_of(st.lists(children, max_size=3),
                                   st.dictionaries(key, children, max_size=4)),
        max_leaves=25,
    )


configurations = st.one_of(
    st.dictionaries(st.sampled_from(["tasks", "variables", "pipelines", "defaults", "environment_variables",
                                     "notifications", "filter"]), documents(KNOWN), max_size=4),
    documents(KNOWN),
)
composes = st.one_of(st.none(), st.dictionaries(st.sampled_from(["web", "db", "version", "services"]),
                                                documents(COMPOSE_KEYS), max_size=3))


def _check(error: DefinitionError) -> None:
    assert isinstance(error, DefinitionError)
    for each in (error.errors if isinstance(error, DefinitionErrors) else [error]):
        assert each.message, each
        assert each.path or each.file or each.message in PROJECT_LEVEL, each.describe()
        assert isinstance(each.describe(), str)


def _load(directory, options, branch="feature/x"):
    release = model.Release("00000000-0000-0000-0000-000000000000", model.CodeReference(branch, "abc"))
    try:
        project = load_project(directory, release, options)
    except DefinitionError as error:
        _check(error)
    else:
        assert isinstance(project, model.Project)


FUZZ = settings(max_examples=int(os.environ.get("CP_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(configuration=configurations, compose=composes, keep=st.booleans())
def test_malformed_files_only_raise_definition_errors(configuration, compose, keep):
    directory = tempfile.mkdtemp()
    try:
        with open(os.path.join(directory, "continuous-pipe.yml"), "w", encoding="utf-8") as handle:
            handle.write(yaml.safe_dump(configuration, allow_unicode=True))
        if compose is not None:
            with open(os.path.join(directory, "docker-compose.yml"), "w", encoding="utf-8") as handle:
                handle.write(yaml.safe_dump(compose, allow_unicode=True))
        _load(directory, LoadOptions(undefined_variables="keep" if keep else "error", variables={"X": "x"}))
    finally:
        shutil.rmtree(directory)


@FUZZ
@given(configuration=configurations, images=st.dictionaries(st.sampled_from(["web", "db"]), st.just("r/i:1")))
def test_malformed_flow_configurations_only_raise_definition_errors(configuration, images):
    directory = tempfile.mkdtemp()
    try:
        _load(directory, LoadOptions(flow_configuration=configuration, images=images, changed_files=["a"]))
    finally:
        shutil.rmtree(directory)


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("ab:- {}[]&*<>!|'\"\n\t#%@`,?~0")), max_size=60))
def test_malformed_yaml_only_raises_definition_errors(text):
    directory = tempfile.mkdtemp()
    try:
        with open(os.path.join(directory, "continuous-pipe.yml"), "w", encoding="utf-8") as handle:
            handle.write(text)
        _load(directory, LoadOptions())
    finally:
        shutil.rmtree(directory)


# a realistic project with one random subtree replaced by junk
BASE = {
    "variables": [{"name": "X", "value": "x"}],
    "tasks": {
        "images": {"build": {"services": {"web": {"image": "acme/web"}}}},
        "deployment": {"deploy": {"cluster": "c", "services": {"web": {
            "specification": {"ports": [80], "environment_variables": [{"name": "A", "value": "${X}"}]},
            "endpoints": [{"name": "web", "ingress": {"class": "nginx", "host_suffix": "-w.example.com"}}],
            "deployment_strategy": {"readiness_probe": {"type": "tcp", "port": 80}}}}}},
        "migrate": {"run": {"image": {"from_service": "web"}, "commands": ["a"]}},
    },
    "pipelines": [{"name": "P", "tasks": ["images", "deployment", {"imports": "migrate", "run": {"commands": ["b"]}}]}],
}


def _paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, prefix + (index,))


BASE_PATHS = [path for path in _paths(BASE) if path]


def _replace(data, path, value):
    if len(path) == 1:
        data[path[0]] = value
    else:
        _replace(data[path[0]], path[1:], value)


@FUZZ
@given(path=st.sampled_from(BASE_PATHS), junk=documents(KNOWN))
def test_one_broken_key_in_a_valid_project(path, junk):
    configuration = yaml.safe_load(yaml.safe_dump(BASE))
    _replace(configuration, path, junk)
    directory = tempfile.mkdtemp()
    try:
        _load(directory, LoadOptions(flow_configuration=configuration))
    finally:
        shutil.rmtree(directory)


def test_the_valid_base_project_loads(tmp_path):
    project = load_project(str(tmp_path), model.Release("f", model.CodeReference("master", "abc")),
                           LoadOptions(flow_configuration=BASE))
    assert [t.identifier for t in project.pipelines[0].tasks] == ["images", "deployment", "migrate"]
    assert project.pipelines[0].tasks[2].commands == ("a", "b") and project.pipelines[0].tasks[2].image == "acme/web:abc"
