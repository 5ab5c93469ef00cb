"""Build model objects from plain data (a YAML mirror of the dataclasses), for translator tests.

This is NOT the configuration loader: the input is the model itself written as YAML — field names
are the dataclass fields (``identifier``, ``scalable``, ``strategy.readiness_probe``…), not the
``continuous-pipe.yml`` keys. Unknown keys are errors, so a typo in a fixture cannot go unnoticed.

    release: {flow_uuid: 0000…, code_reference: {branch: feature/Login, sha: abc}}
    options: {public_endpoints: {web-public: feature-login-web.example.com}}
    task:
      identifier: deployment
      services:
        - name: web                 # identifier defaults to slugify(name)
          image: quay.io/acme/web:v1
          ports: [{identifier: port-80, port: 80}]
"""
from __future__ import annotations

import dataclasses
import os
import typing

import yaml

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model, naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.environment import (
    GatewayRef,
    Platform,
    TranslateOptions,
)

GOLDEN_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "golden"))
FLOW = "00000000-0000-0000-0000-000000000000"


def _convert(hint, value):
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union:
        candidates = [arg for arg in args if arg is not type(None)]
        return _convert(candidates[0], value)
    if dataclasses.is_dataclass(hint):
        return build(hint, value)
    if origin in (tuple, typing.Tuple):
        return tuple(_convert(args[0], item) for item in value)
    if origin in (dict, typing.Dict):
        return dict(value)
    return value


def build(cls, data):
    """An instance of the dataclass ``cls`` from a mapping of its fields (recursively)."""
    if isinstance(data, cls):
        return data
    data = dict(data or {})
    if cls is model.Service and "identifier" not in data:
        data["identifier"] = naming.slugify(data["name"])
    hints = typing.get_type_hints(cls, vars(model))
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise KeyError("unknown %s field(s): %s" % (cls.__name__, ", ".join(sorted(unknown))))
    return cls(**{name: _convert(hints[name], value) for name, value in data.items()})


def release(data=None) -> model.Release:
    data = dict(data or {})
    data.setdefault("flow_uuid", FLOW)
    data.setdefault("code_reference", {"branch": "master"})
    return build(model.Release, data)


def task(data) -> model.DeployTask:
    data = dict(data)
    data.setdefault("identifier", "deployment")
    return build(model.DeployTask, data)


CHECKSUM_KEY = b"unit-tests-pod-checksum-key-0032"


def platform(data=None) -> Platform:
    """A Platform from plain data: ``{name: gateway, gateway: {name, namespace, section_name, class_name}}``."""
    data = dict(data or {})
    if data.get("gateway") is not None:
        data["gateway"] = GatewayRef(**data["gateway"])
    return Platform(**data)


def options(data=None) -> TranslateOptions:
    """TranslateOptions of a test; the pod checksums use a fixed test key unless one is given."""
    data = dict(data or {})
    data.setdefault("checksum_key", CHECKSUM_KEY)
    if isinstance(data.get("platform"), dict):
        data["platform"] = platform(data["platform"])
    return TranslateOptions(**data)


def service(**fields) -> model.Service:
    """A model.Service from keyword fields, nested values as plain data."""
    return build(model.Service, fields)


def case(data):
    """(task, release, options) of a golden input document."""
    return task(data["task"]), release(data.get("release")), options(data.get("options"))


def golden_cases():
    return sorted(name for name in os.listdir(GOLDEN_ROOT)
                  if os.path.isfile(os.path.join(GOLDEN_ROOT, name, "input.yml")))


def read_yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def render(*services, options_data=None, branch="master", **task_fields):
    """Translate a deploy task made of ``services`` (model.Service or dicts of fields)."""
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.environment import (
        translate_environment,
    )

    built = tuple(s if isinstance(s, model.Service) else build(model.Service, s) for s in services)
    deploy = model.DeployTask(identifier=task_fields.pop("identifier", "deployment"), services=built, **task_fields)
    return translate_environment(deploy, release({"code_reference": {"branch": branch}}), options(options_data))


def find(rendered, kind, name):
    """The rendered object of that kind and name (AssertionError when missing)."""
    for obj in rendered.objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError("no %s %r in %s" % (kind, name, [(o["kind"], o["metadata"]["name"]) for o in rendered.objects]))


def kinds(rendered):
    return [(obj["kind"], obj["metadata"]["name"]) for obj in rendered.objects]


def container(rendered, name, container_name=None):
    """A container of the Deployment or Pod ``name``."""
    for obj in rendered.objects:
        if obj["kind"] in ("Deployment", "Pod") and obj["metadata"]["name"] == name:
            spec = obj["spec"]["template"]["spec"] if obj["kind"] == "Deployment" else obj["spec"]
            for item in spec["containers"]:
                if item["name"] == (container_name or name):
                    return item
    raise AssertionError("no container %r in workload %r" % (container_name or name, name))


WEB = {"name": "web", "image": "acme/web", "ports": [{"identifier": "http", "port": 80}]}


def web(**overrides):
    data = dict(WEB)
    data.update(overrides)
    return data
