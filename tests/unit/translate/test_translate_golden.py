"""Golden-file tests (kompose style): tests/golden/<case>/input.yml → expected.yml + plan.yml.

* ``input.yml``: the model as YAML (see translate_fixtures.py), with ``release`` and ``options``.
* ``expected.yml``: the manifests in apply order, as one ``v1/List`` document (ansible-test's
  yamllint accepts a single document per file; ``kubectl apply -f`` accepts a List).
* ``plan.yml``: the component and public-endpoint plans.

Comparison is structural (parsed YAML equality, order of objects included). Regenerate after an
intended change with ``CP_UPDATE_GOLDEN=1 python -m pytest tests/unit/translate -k golden`` and
review the diff. Every expected object of a built-in kind is also validated against the Kubernetes 1.36
OpenAPI schema (strict: unknown fields are errors). Objects of the platform APIs (Gateway API, OpenShift
Route) have no schema in kubernetes-validate: tests/integration/test_platforms.py sends every golden
object to a local API server serving the upstream CRDs as a server-side dry run instead.
"""
from __future__ import annotations

import difflib
import os

import kubernetes_validate
import pytest
import yaml

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.manifests import dump_all
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.environment import (
    translate_environment,
)

from translate_fixtures import GOLDEN_ROOT, case, golden_cases, read_yaml

KUBERNETES_VERSION = "1.36"
CRD_GROUPS = ("gateway.networking.k8s.io", "route.openshift.io")
UPDATE = os.environ.get("CP_UPDATE_GOLDEN") == "1"
CASES = golden_cases()


def render(name):
    task, release, options = case(read_yaml(os.path.join(GOLDEN_ROOT, name, "input.yml")))
    return translate_environment(task, release, options)


def _dump(data):
    return "---\n" + yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)


def _expected_objects(name):
    document = read_yaml(os.path.join(GOLDEN_ROOT, name, "expected.yml"))
    assert document["kind"] == "List", "expected.yml holds a v1 List"
    return document["items"]


def _write(path, text):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def test_there_are_golden_cases():
    assert len(CASES) >= 14, CASES
    platforms = {read_yaml(os.path.join(GOLDEN_ROOT, name, "plan.yml"))["platform"]["name"] for name in CASES}
    assert platforms == {"kubernetes", "gateway", "openshift"}


@pytest.mark.parametrize("name", CASES)
def test_golden(name):
    rendered = render(name)
    directory = os.path.join(GOLDEN_ROOT, name)
    expected_path = os.path.join(directory, "expected.yml")
    plan_path = os.path.join(directory, "plan.yml")
    if UPDATE:
        _write(expected_path, _dump({"apiVersion": "v1", "kind": "List", "items": rendered.objects}))
        _write(plan_path, _dump(rendered.plan()))
    expected = _expected_objects(name)
    assert rendered.objects == expected, _diff(expected, rendered.objects, name)
    assert rendered.plan() == read_yaml(plan_path), _diff([read_yaml(plan_path)], [rendered.plan()], name)


def _diff(expected, actual, name):
    """A readable unified diff of the YAML forms (shown when the structures differ)."""
    lines = difflib.unified_diff(dump_all(expected).splitlines(), dump_all(actual).splitlines(),
                                 "%s (expected)" % name, "%s (rendered)" % name, lineterm="")
    return "rendered output differs from the golden file (CP_UPDATE_GOLDEN=1 regenerates):\n" + "\n".join(lines)


def _golden_objects():
    for name in CASES:
        try:
            objects = _expected_objects(name)
        except (OSError, yaml.YAMLError, AssertionError, KeyError, TypeError):
            continue  # missing or stale golden file: test_golden reports it
        for index, obj in enumerate(objects):
            if obj["apiVersion"].split("/")[0] in CRD_GROUPS:
                continue  # validated by the API server (tests/integration/test_platforms.py)
            yield pytest.param(obj, id="%s-%d-%s-%s" % (name, index, obj["kind"], obj["metadata"]["name"]))


@pytest.mark.parametrize("obj", list(_golden_objects()))
def test_golden_objects_match_the_kubernetes_schema(obj):
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
