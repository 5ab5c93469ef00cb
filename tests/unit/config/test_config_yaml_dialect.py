# -*- coding: utf-8 -*-
"""Symfony Yaml 3.4 quirks (docs/behaviour.md §2.2)."""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.yaml_dialect import load_yaml, yaml_policy
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

LARAVEL = """
tasks:
  initialization:
    run:
      environment_variables: &WEB_ENV_VARS
        - name: APP_ENV
          value: ${APP_ENV}
        - name: APP_USER_LOCAL
          value: false
  application:
    deploy:
      services:
        web:
          specification:
            environment_variables:
              <<: *WEB_ENV_VARS
"""


def test_merge_key_of_an_aliased_sequence_is_the_sequence():
    data = load_yaml(LARAVEL, "continuous-pipe.yml")
    spec = data["tasks"]["application"]["deploy"]["services"]["web"]["specification"]
    assert spec["environment_variables"] == [{"name": "APP_ENV", "value": "${APP_ENV}"},
                                             {"name": "APP_USER_LOCAL", "value": False}]


def test_merge_key_of_mappings_keeps_yaml_semantics():
    data = load_yaml("base: &b {a: 1, b: 2}\nother: &o {c: 3}\nx:\n  <<: [*b, *o]\n  b: 20\ny: {<<: *b}\n", "f")
    assert data["x"] == {"a": 1, "b": 20, "c": 3}
    assert data["y"] == {"a": 1, "b": 2}


def test_sequence_merge_with_other_keys_is_an_error():
    with pytest.raises(DefinitionError) as raised:
        load_yaml("a: &a [1, 2]\nb:\n  <<: *a\n  c: 3\n", "continuous-pipe.yml")
    assert raised.value.file == "continuous-pipe.yml"
    assert "cannot be combined with other keys" in str(raised.value) and "line 3" in str(raised.value)


@pytest.mark.parametrize("text, expected", [
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("Yes", "Yes"), ("y", "y"),
    ("true", True), ("TRUE", True), ("False", False), ("~", None), ("null", None), ("", None),
    ("80", 80), ("-3", -3), ("0755", 493), ("0x1F", 31), ("1.5", 1.5),
    ("80:80", "80:80"), ("1_000", "1_000"), ("2017-01-01", "2017-01-01"), ('"80"', "80"), ("'true'", "true"),
])
def test_scalars_as_symfony_reads_them(text, expected):
    assert load_yaml("value: %s\n" % text, "f")["value"] == expected


def test_key_order_is_kept():
    assert list(load_yaml("b: 1\na: 2\nc: 3\n", "f")) == ["b", "a", "c"]


def test_integral_keys_are_integers_like_php_arrays():
    assert load_yaml("'7': a\n8: b\nx: c\n", "f") == {7: "a", 8: "b", "x": "c"}


def test_duplicate_keys_keep_the_first_with_a_warning_like_symfony():
    with yaml_policy() as warnings:
        data = load_yaml("tasks: {a: 1}\nvariables: []\ntasks: {b: 2}\n", "continuous-pipe.yml")
    assert data == {"tasks": {"a": 1}, "variables": []}
    assert warnings == ['continuous-pipe.yml: line 3: duplicate key "tasks" ignored; the first one (line 1) is used, '
                        'as ContinuousPipe did. Remove one of them (or set duplicate_keys: error to refuse such files).']


def test_duplicate_keys_are_an_error_with_both_lines_when_asked():
    with pytest.raises(DefinitionError) as raised, yaml_policy("error"):
        load_yaml("tasks: {}\nvariables: []\ntasks: {}\n", "continuous-pipe.yml")
    assert str(raised.value) == ('continuous-pipe.yml: YAML seems invalid: while constructing a mapping, found '
                                 'duplicate key "tasks" (first defined at line 1) at line 3, column 1')


@pytest.mark.parametrize("text, fragment", [
    ("tasks:\n    foo: 1234\n        bar: baz\n", "line 3"),
    ("a: [1\n", "line 2"),
    ("a: 1\n---\nb: 2\n", "expected a single document"),
    ("a: !php/object x\n", "could not determine a constructor"),
    ("a: *nowhere\n", "found undefined alias"),
    ("? [a]\n: b\n", "unhashable"),
    ("\tkey: value\n", "line 1"),
])
def test_invalid_yaml_is_a_definition_error_with_the_file_and_line(text, fragment):
    with pytest.raises(DefinitionError) as raised:
        load_yaml(text, "continuous-pipe.yml")
    assert raised.value.file == "continuous-pipe.yml" and raised.value.path == ()
    assert str(raised.value).startswith("continuous-pipe.yml: YAML seems invalid: ")
    assert fragment in str(raised.value)


def test_pure_python_loader_gives_the_same_result(monkeypatch):
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config import yaml_dialect
    fast = load_yaml(LARAVEL, "f")
    monkeypatch.setattr(yaml_dialect, "_FastLoader", None)
    assert load_yaml(LARAVEL, "f") == fast
    with yaml_policy() as warnings:
        assert load_yaml("a: 1\na: 2\n", "f") == {"a": 1}
    assert len(warnings) == 1
    with pytest.raises(DefinitionError), yaml_policy("error"):
        load_yaml("a: 1\na: 2\n", "f")
