"""Labels, order, determinism and purity of the rendered environment."""
from __future__ import annotations

import ast
import json
import os
import sys

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.manifests import dump_all

from translate_fixtures import GOLDEN_ROOT, case, find, golden_cases, kinds, read_yaml, render, web

TRANSLATE_DIR = os.path.join(os.path.dirname(GOLDEN_ROOT), os.pardir, "plugins", "module_utils", "translate")
NAMESPACE = "00000000-0000-0000-0000-000000000000-master"


def _everything():
    return render(
        web(environment=[{"name": "S", "value": "x", "secret": True}],
            volumes=[{"name": "data", "type": "persistent", "capacity": "1Gi"}],
            endpoints=[{"name": "web-public", "ingress": {"class_name": "nginx", "hosts": ["a.example.com"]},
                        "ssl_certificates": [{"name": "c", "cert": "Q0VSVA==", "key": "S0VZ"}]}]),
        {"name": "job", "image": "acme/job", "scalable": False},
        web(name="api"),
    )


def test_apply_order():
    assert kinds(_everything()) == [
        ("Namespace", NAMESPACE),
        ("Secret", "cp-checksum-key.deployment"),
        ("Secret", "web-secrets"),
        ("Secret", "web-public-c"),
        ("PersistentVolumeClaim", "data"),
        ("Service", "web-public"),
        ("Service", "api"),
        ("Ingress", "web-public"),
        ("Deployment", "web"),
        ("Deployment", "api"),
        ("Pod", "job"),
    ]


def test_namespace_labels():
    namespace = _everything().objects[0]
    assert namespace["metadata"]["labels"] == {
        "continuous-pipe-environment": NAMESPACE,
        "created-by": "continuous-pipe",
        "flow": "00000000-0000-0000-0000-000000000000",
        "app.kubernetes.io/managed-by": "continuouspipe.kubernetes",
        "continuouspipe.io/environment": NAMESPACE,
    }
    assert "namespace" not in namespace["metadata"]


def test_our_labels_on_every_object():
    rendered = _everything()
    for obj in rendered.objects[1:]:
        labels = obj["metadata"]["labels"]
        assert obj["metadata"]["namespace"] == NAMESPACE
        assert labels["app.kubernetes.io/managed-by"] == "continuouspipe.kubernetes"
        assert labels["continuouspipe.io/environment"] == NAMESPACE
        if obj["metadata"]["name"].startswith("cp-checksum-key."):
            # the task's checksum key belongs to no service
            assert labels["app.kubernetes.io/component"] == "checksum-key"
            assert "continuouspipe.io/service" not in labels
            continue
        service = labels["continuouspipe.io/service"]
        assert labels["app.kubernetes.io/name"] == service
        assert labels["app.kubernetes.io/instance"] == NAMESPACE
        assert labels["app.kubernetes.io/component"] in ("workload", "service", "endpoint", "secrets", "tls", "storage")
        if obj["kind"] in ("Deployment", "Pod", "Service", "Ingress"):
            assert labels["component-identifier"] == service


def test_pod_template_labels_keep_the_selector():
    deployment = find(_everything(), "Deployment", "web")
    template_labels = deployment["spec"]["template"]["metadata"]["labels"]
    for key, value in deployment["spec"]["selector"]["matchLabels"].items():
        assert template_labels[key] == value
    assert deployment["spec"]["selector"]["matchLabels"] == {"component-identifier": "web"}


def test_managed_by_option():
    rendered = render(web(), options_data={"managed_by": "acme-ci"})
    assert {obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] for obj in rendered.objects} == {"acme-ci"}


def test_deterministic_output():
    first, second = dump_all(_everything().objects), dump_all(_everything().objects)
    assert first == second
    assert "&id" not in first and "*id" not in first  # no YAML anchors from shared references


def test_annotation_order_does_not_matter():
    a = render(web(endpoints=[{"name": "ep", "annotations": {"a": "1", "b": "2"}}]))
    b = render(web(endpoints=[{"name": "ep", "annotations": {"b": "2", "a": "1"}}]))
    assert dump_all(a.objects) == dump_all(b.objects)


@pytest.mark.parametrize("name", golden_cases())
def test_golden_inputs_render_identically_twice(name):
    task, release, options = case(read_yaml(os.path.join(GOLDEN_ROOT, name, "input.yml")))
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.environment import (
        translate_environment,
    )

    assert dump_all(translate_environment(task, release, options).objects) == \
        dump_all(translate_environment(task, release, options).objects)


def test_manifests_is_a_copy_and_plans_are_plain_data():
    rendered = _everything()
    copy = rendered.manifests()
    copy[0]["metadata"]["name"] = "changed"
    assert rendered.objects[0]["metadata"]["name"] == NAMESPACE
    json.dumps(rendered.plan())


def _imports(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            yield node.module or ""


@pytest.mark.parametrize("filename", sorted(f for f in os.listdir(TRANSLATE_DIR) if f.endswith(".py")))
def test_translate_is_pure_stdlib(filename):
    """No Kubernetes client, no YAML, no I/O modules: stdlib and this collection's module_utils only."""
    allowed_stdlib = {"__future__", "base64", "binascii", "collections", "copy", "dataclasses", "hashlib", "hmac",
                      "ipaddress", "json", "re", "typing"}
    for module in _imports(os.path.join(TRANSLATE_DIR, filename)):
        if module.startswith("ansible_collections.continuouspipe.kubernetes.plugins.module_utils"):
            assert ".cluster" not in module and "manifests" not in module, module
            continue
        assert module.split(".")[0] in allowed_stdlib, "%s imports %s" % (filename, module)
        assert module.split(".")[0] in sys.stdlib_module_names
