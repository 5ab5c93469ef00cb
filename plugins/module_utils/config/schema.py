# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The schema of ``continuous-pipe.yml`` (docs/behaviour.md §3, §4, §11), as :mod:`nodes` trees.

Node for node what ContinuousPipe's ``ConfigurationDefinition`` and task factories declared
(``DeployTaskFactory``, ``RunTaskFactory``, ``BuildTaskFactory``, …), including their quirks:

* ``environment_variables`` at the top level is the legacy name of ``variables``;
* ``variables`` / ``environment_variables`` accept a map ``NAME: value`` or ``NAME: {expression}``;
* a service ``locked: true`` moves to ``deployment_strategy.locked``; ``volumes[].mount_path`` is a
  shorthand for ``volume_mounts`` when the same document has no ``volume_mounts``;
* ``ports: [80]`` ⇒ ``{port: 80, identifier: port-80, protocol: TCP}``, a quoted ``"80"`` is an error;
* ``resources: {cpu, memory}`` ⇒ ``requests`` = ``limits``; mixing both forms is an error;
* ``ingress.host: a.example.com`` ⇒ ``{expression: "'a.example.com'"}``;
* build image names and tags are checked with Docker's grammar when the configuration is finalised.

Extensions of this collection (not in ContinuousPipe): a deploy service may name another service of
the same task in ``pod:`` to run as an extra container of that service's pod, an endpoint's ``ingress``
may carry ``path``, ``group`` and ``address`` (several services behind one host or static address,
docs/concepts.md), and a pipeline task entry may carry an ``identifier`` (CP rejected the key although
its validation mentioned it).
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Dict

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.nodes import (
    ArrayNode,
    BooleanNode,
    EnumNode,
    IntegerNode,
    Invalid,
    KeyIndexedNode,
    Node,
    PrototypedNode,
    ScalarNode,
    VariableNode,
    VariablesNode,
    describe_value,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.php import php_string
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.expressions import ExpressionError

__all__ = ["TASK_TYPES", "root_node", "task_node", "pipeline_task_node", "deploy_node", "run_node",
           "build_node", "variables_node"]

#: Task types in the order ContinuousPipe registered their factories.
TASK_TYPES = ("build", "deploy", "run", "wait", "manual_approval", "web_hook", "delete")


# --------------------------------------------------------------------------------------------------
# helpers


def _if_string(convert):
    def closure(value):
        return convert(value) if isinstance(value, str) else value
    return closure


def _text(value: Any) -> str:
    """The string PHP's ``preg_match`` sees (arrays cannot reach these scalar nodes)."""
    try:
        return php_string(value)
    except ExpressionError:
        return ""


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------------------------------
# variables (top level, pipelines, service environment variables)


def _variables_from_map(value: Any) -> Any:
    """``NAME: value`` ⇒ ``{name: NAME, value: value}``; ``NAME: {…}`` ⇒ ``{name: NAME, …}``."""
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if isinstance(key, str):
            if isinstance(item, dict):
                item = dict(item)
                item["name"] = key
            elif not isinstance(item, list):
                item = {"name": key, "value": item}
        out[key] = item
    return out


def _as_environment_variable(value: Any) -> Any:
    """``as_environment_variable: true`` ⇒ ``["*"]`` (any truthy scalar)."""
    if isinstance(value, (str, int, float, bool)) and value not in ("", "0", 0, 0.0, False):
        return ["*"]
    return value


def variables_node(**kwargs) -> VariablesNode:
    return VariablesNode(
        ArrayNode({
            "name": ScalarNode(required=True),
            "value": ScalarNode(),
            "condition": ScalarNode(),
            "expression": ScalarNode(),
            "encrypted_value": ScalarNode(),
            "as_environment_variable": PrototypedNode(ScalarNode(), before=[_as_environment_variable]),
        }),
        before=[_variables_from_map],
        **kwargs
    )


def _name_value_list(**kwargs) -> PrototypedNode:
    """``environment_variables`` of run tasks and ``environment`` of builds: ``{name, value}`` both required."""
    def from_map(value):
        if not isinstance(value, dict):
            return value
        return {key: ({"name": key, "value": item} if isinstance(key, str) and not isinstance(item, (dict, list))
                      else item) for key, item in value.items()}
    return PrototypedNode(
        ArrayNode({"name": ScalarNode(required=True), "value": ScalarNode(required=True)}),
        before=[from_map], **kwargs)


# --------------------------------------------------------------------------------------------------
# shared by deploy and run


def _volumes_shorthand(configuration: Any) -> Any:
    """``volumes[].mount_path`` ⇒ ``volume_mounts`` when the document has no ``volume_mounts``."""
    if not isinstance(configuration, dict) or not isinstance(configuration.get("volumes"), (list, dict)) \
            or configuration.get("volume_mounts") is not None:
        return configuration
    volumes = configuration["volumes"]
    items = list(volumes.items()) if isinstance(volumes, dict) else list(enumerate(volumes))
    mounts, rewritten = [], []
    for key, volume in items:
        if isinstance(volume, dict) and volume.get("mount_path") is not None:
            mounts.append({"name": volume.get("name"), "mount_path": volume["mount_path"]})
            volume = {k: v for k, v in volume.items() if k != "mount_path"}
        rewritten.append((key, volume))
    configuration = dict(configuration)
    configuration["volume_mounts"] = mounts
    configuration["volumes"] = dict(rewritten) if isinstance(volumes, dict) else [volume for _key, volume in rewritten]
    return configuration


def _volumes_node() -> PrototypedNode:
    return PrototypedNode(ArrayNode({
        "type": ScalarNode(default="persistent"),
        "name": ScalarNode(required=True),
        "path": ScalarNode(),
        "capacity": ScalarNode(),
        "storage_class": ScalarNode(default="default"),
    }))


def _volume_mounts_node() -> PrototypedNode:
    return PrototypedNode(ArrayNode({
        "name": ScalarNode(required=True),
        "mount_path": ScalarNode(required=True),
        "read_only": BooleanNode(default=False),
    }))


def _environment_name_node() -> ArrayNode:
    return ArrayNode({"name": ScalarNode(required=True, default=None)}, add_defaults=True)


# --------------------------------------------------------------------------------------------------
# deploy


def _port_short_form(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return {"port": value, "identifier": "port-%d" % value}
    if isinstance(value, str):
        raise Invalid("Invalid type: got %s" % ('a string ("%s")' % value),
                      "an integer port number (unquoted, e.g. 80) or a mapping {identifier, port, protocol}")
    return value


def _ports_node() -> PrototypedNode:
    return PrototypedNode(
        ArrayNode({
            "identifier": ScalarNode(required=True),
            "port": IntegerNode(required=True),
            "protocol": EnumNode(["TCP", "UDP"], default="TCP"),
        }, before=[_port_short_form]),
        deep_merge=False,
    )


def _resources_shorthand(value: Any) -> Any:
    if not isinstance(value, dict) or (value.get("cpu") is None and value.get("memory") is None):
        return value
    if value.get("requests") is not None or value.get("limits") is not None:
        raise Invalid("You cannot combine `cpu` and/or `memory` resource configuration with "
                      "`requests` and/or `limits`")
    unknown = [key for key in value if key not in ("cpu", "memory", "requests", "limits")]
    resources = {"cpu": value.get("cpu"), "memory": value.get("memory")}
    out = {"requests": dict(resources), "limits": dict(resources)}
    for key in unknown:
        out[key] = value[key]
    return out


def _resources_node() -> ArrayNode:
    def quantities():
        return ArrayNode({"cpu": ScalarNode(), "memory": ScalarNode()})
    return ArrayNode({"requests": quantities(), "limits": quantities()}, before=[_resources_shorthand])


def _integer_or_string(value: Any) -> Any:
    """Probe numbers: an integer or a string of digits (``${VAR}`` allowed, checked after substitution)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise Invalid("Invalid type: got %s" % describe_value(value), "an integer")
    if isinstance(value, str):
        text = value.strip()
        if not re.match(r"^[-+]?[0-9]+$", text):
            raise Invalid("Invalid value: got %s" % describe_value(value), "an integer")
        return int(text)
    return value


def _integer_or_named_port(value: Any) -> Any:
    """Probe ``port``: a number, or a port name (CP cast names to 0; this collection keeps them)."""
    if isinstance(value, str) and value.strip() and not re.match(r"^[-+]?[0-9]+$", value.strip()):
        return value
    return _integer_or_string(value)


def _probe_node() -> ArrayNode:
    numbers = {name: VariableNode(validators=[_integer_or_string])
               for name in ("timeout_seconds", "period_seconds", "success_threshold", "failure_threshold")}
    return ArrayNode(dict(numbers, **{
        "type": ScalarNode(default="http"),
        "port": VariableNode(validators=[_integer_or_named_port]),
        # declared twice in CP, the second (plain scalar) declaration won
        "initial_delay_seconds": ScalarNode(),
        "path": ScalarNode(),
        "host": ScalarNode(),
        "scheme": ScalarNode(),
        "command": PrototypedNode(ScalarNode(), deep_merge=False),
    }))


def _host_node() -> ArrayNode:
    return ArrayNode({"expression": ScalarNode(required=True)})


def _endpoint_node() -> ArrayNode:
    ingress_host = ArrayNode({"expression": ScalarNode(required=True)},
                             before=[_if_string(lambda host: {"expression": "'%s'" % host})])
    return ArrayNode({
        "name": ScalarNode(required=True),
        "type": ScalarNode(default=None),
        "annotations": PrototypedNode(ScalarNode(), key_attribute="name", normalize_keys=False, min_elements=1),
        "ssl_certificates": PrototypedNode(ArrayNode({
            "name": ScalarNode(required=True),
            "cert": ScalarNode(required=True),
            "key": ScalarNode(required=True),
        })),
        "cloud_flare_zone": ArrayNode({
            "zone_identifier": ScalarNode(required=True),
            "record_suffix": ScalarNode(),
            "host": _host_node(),
            "backend_address": ScalarNode(),
            "ttl": IntegerNode(),
            "proxied": BooleanNode(),
            "authentication": ArrayNode({
                "email": ScalarNode(required=True),
                "api_key": ScalarNode(required=True),
            }, required=True),
        }),
        "httplabs": ArrayNode({
            "project_identifier": ScalarNode(required=True),
            "api_key": ScalarNode(required=True),
            "record_suffix": ScalarNode(),
            "host": _host_node(),
            "middlewares": PrototypedNode(VariableNode()),
        }),
        "ingress": ArrayNode({
            "class": ScalarNode(),
            "host": ingress_host,
            "host_suffix": ScalarNode(),
            # extensions of this collection: fan-out of several services behind one host or address
            "path": ScalarNode(),
            "group": ScalarNode(),
            "address": ScalarNode(),
        }),
        "condition": ScalarNode(),
    }, add_defaults=True)


def _legacy_locked(service: Any) -> Any:
    """A service's ``locked`` moves to ``deployment_strategy.locked`` unless that one is set."""
    if not isinstance(service, dict) or service.get("locked") is None:
        return service
    service = dict(service)
    strategy = service.get("deployment_strategy")
    strategy = dict(strategy) if isinstance(strategy, dict) else ({} if strategy is None else strategy)
    if isinstance(strategy, dict) and "locked" not in strategy:
        strategy["locked"] = service["locked"]
    service["deployment_strategy"] = strategy
    del service["locked"]
    return service


def _specification_node() -> ArrayNode:
    return ArrayNode({
        "source": ArrayNode({
            "image": ScalarNode(required=True),
            "tag": ScalarNode(default=None),
            "repository": ScalarNode(),
            "from_service": ScalarNode(),
        }, required=True),
        "accessibility": ArrayNode({
            "from_cluster": ScalarNode(default=True),
            "from_external": ScalarNode(default=False),
        }, add_defaults=True),
        "scalability": ArrayNode({
            "enabled": BooleanNode(default=True),
            "number_of_replicas": ScalarNode(default=None),
        }, add_defaults=True),
        "runtime_policy": ArrayNode({"privileged": BooleanNode(default=False)}),
        "volumes": _volumes_node(),
        "volume_mounts": _volume_mounts_node(),
        "command": PrototypedNode(ScalarNode(), deep_merge=False),
        "environment_variables": variables_node(),
        "ports": _ports_node(),
        "resources": _resources_node(),
    }, required=True, add_defaults=True, before=[_volumes_shorthand])


def _deployment_strategy_node() -> ArrayNode:
    return ArrayNode({
        "locked": BooleanNode(default=False),
        "attached": BooleanNode(default=False),
        "reset": BooleanNode(default=False),
        "liveness_probe": _probe_node(),
        "readiness_probe": _probe_node(),
    }, add_defaults=True)


def deploy_service_node() -> ArrayNode:
    return ArrayNode({
        "condition": ScalarNode(),
        "specification": _specification_node(),
        "endpoints": PrototypedNode(_endpoint_node()),
        "extensions": ArrayNode({
            "reverse_proxy": ArrayNode({"domain_names": PrototypedNode(ScalarNode())}),
        }),
        "deployment_strategy": _deployment_strategy_node(),
        "pod": ScalarNode(),
    }, can_be_enabled=True, before=[_legacy_locked])


def deploy_node() -> ArrayNode:
    return ArrayNode({
        "cluster": ScalarNode(default=""),
        "environment": _environment_name_node(),
        "services": PrototypedNode(deploy_service_node(), key_attribute="name", normalize_keys=False,
                                   required=True),
    })


# --------------------------------------------------------------------------------------------------
# run, build and the other tasks


def _run_image(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


def run_node() -> ArrayNode:
    return ArrayNode({
        "cluster": ScalarNode(default=""),
        "image": ArrayNode({"name": ScalarNode(required=True), "from_service": ScalarNode()},
                           required=True, before=[_run_image]),
        "commands": PrototypedNode(ScalarNode()),
        "environment": _environment_name_node(),
        "environment_variables": _name_value_list(),
        "volumes": _volumes_node(),
        "volume_mounts": _volume_mounts_node(),
    }, before=[_volumes_shorthand])


_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = _DOMAIN_COMPONENT + r"(\." + _DOMAIN_COMPONENT + r")?(?::[0-9]+)?"
_NAME_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_IMAGE_NAME_RE = re.compile(r"^(?:" + _DOMAIN + r"/)?" + _NAME_COMPONENT + r"(?:/" + _NAME_COMPONENT + r")*$")
_IMAGE_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)


def _valid_image_name(value: Any) -> Any:
    if value is not None and not _IMAGE_NAME_RE.match(_text(value)):
        raise Invalid("The name %s of the Docker image is invalid." % _json(value),
                      "[registry[:port]/]name[/name…] in lower case (the tag goes in `tag`)")
    return value


def _valid_image_tag(value: Any) -> Any:
    if not _IMAGE_TAG_RE.match(_text(value)):
        raise Invalid("The tag %s of the Docker image is invalid." % _json(value),
                      "letters, digits, '_', '.' and '-', starting with a letter, digit or '_'")
    return value


def _cache_path(value: Any) -> Any:
    if isinstance(value, str):
        return {"identifier": hashlib.md5(value.encode("utf-8")).hexdigest(), "path": value}  # nosec
    return value


def _artifacts_node() -> PrototypedNode:
    return PrototypedNode(ArrayNode({"name": ScalarNode(required=True), "path": ScalarNode(required=True)}),
                          min_elements=1)


def _build_image_children() -> Dict[str, Node]:
    return {
        "image": ScalarNode(validators=[_valid_image_name]),
        "tag": ScalarNode(validators=[_valid_image_tag]),
        "reuse": BooleanNode(default=None),
        "build_directory": ScalarNode(default=None),
        "docker_file_path": ScalarNode(default=None),
        "naming_strategy": EnumNode(["branch", "sha1"], default="branch"),
        "environment": _name_value_list(),
        "read_artifacts": _artifacts_node(),
        "write_artifacts": _artifacts_node(),
        "cache": PrototypedNode(ArrayNode({"identifier": ScalarNode(required=True),
                                           "path": ScalarNode(required=True)}, before=[_cache_path])),
    }


def _string_step_keys(service: Any) -> Any:
    """List-form build steps get string keys ``"00"``, ``"01"``… so that configurations merge step by step."""
    if not isinstance(service, dict) or not isinstance(service.get("steps"), (list, dict)):
        return service
    steps = service["steps"]
    items = enumerate(steps) if isinstance(steps, list) else steps.items()
    service = dict(service)
    service["steps"] = {("0%d" % key if isinstance(key, int) else key): step for key, step in items}
    return service


def _build_environment_to_services(configuration: Any) -> Any:
    """A build-level ``environment`` is copied to every service that has none."""
    if not isinstance(configuration, dict) or "environment" not in configuration \
            or "services" not in configuration or not isinstance(configuration["services"], dict):
        return configuration
    configuration = dict(configuration)
    services = {}
    for name, service in configuration["services"].items():
        if service is None:
            service = {}
        if isinstance(service, dict) and "environment" not in service:
            service = dict(service, environment=configuration["environment"])
        services[name] = service
    configuration["services"] = services
    del configuration["environment"]
    return configuration


def build_node() -> ArrayNode:
    step = ArrayNode(_build_image_children())
    service = ArrayNode(dict(_build_image_children(), steps=PrototypedNode(
        step, key_attribute="index", normalize_keys=False)), before=[_string_step_keys])
    return ArrayNode({
        "services": PrototypedNode(service, key_attribute="name", normalize_keys=False, required=True),
    }, before=[_build_environment_to_services])


def delete_node() -> ArrayNode:
    return ArrayNode({"cluster": ScalarNode(required=True), "environment": _environment_name_node()})


def wait_node() -> ArrayNode:
    return ArrayNode({"status": ArrayNode({"context": ScalarNode(required=True),
                                           "state": ScalarNode(required=True)}, required=True)})


def web_hook_node() -> ArrayNode:
    return ArrayNode({"url": ScalarNode(required=True)})


def manual_approval_node() -> ArrayNode:
    return ArrayNode({})


_TASK_FACTORIES = {
    "build": build_node,
    "deploy": deploy_node,
    "run": run_node,
    "wait": wait_node,
    "manual_approval": manual_approval_node,
    "web_hook": web_hook_node,
    "delete": delete_node,
}


def _task_children() -> Dict[str, Node]:
    children = {name: factory() for name, factory in _TASK_FACTORIES.items()}
    children["filter"] = ArrayNode({"expression": ScalarNode(required=True)})
    return children


def _exactly_one_task(value: Any) -> Any:
    keys = [key for key in value if key != "filter"]
    if not keys:
        raise Invalid("You have to configure a task here, found nothing",
                      "one of " + ", ".join(TASK_TYPES))
    if len(keys) > 1:
        raise Invalid('Only one task should be configured here but found "%s"' % '" & "'.join(keys))
    return value


def _at_most_one_task(value: Any) -> Any:
    keys = [key for key in value if key not in ("filter", "imports", "identifier")]
    if len(keys) > 1:
        raise Invalid('Only one task type should be configured here but found "%s"' % '" & "'.join(keys))
    return value


def task_node() -> ArrayNode:
    """An entry of the top-level ``tasks`` map."""
    return ArrayNode(_task_children(), validators=[_exactly_one_task])


def pipeline_task_node() -> ArrayNode:
    """An entry of ``pipelines[].tasks``: a task name (``imports``), an override, or an inline task."""
    children = _task_children()
    children["imports"] = ScalarNode()
    children["identifier"] = ScalarNode()
    return ArrayNode(children, before=[_if_string(lambda name: {"imports": name})],
                     validators=[_at_most_one_task])


# --------------------------------------------------------------------------------------------------
# root


def _legacy_environment_variables(configuration: Any) -> Any:
    if isinstance(configuration, dict) and configuration.get("environment_variables") is not None:
        configuration = dict(configuration)
        configuration["variables"] = configuration.pop("environment_variables")
    return configuration


def _notification_legacy_keys(configuration: Any) -> Any:
    if not isinstance(configuration, dict):
        return configuration
    configuration = dict(configuration)
    for legacy, key in (("github_commit_status", "commit"), ("github_pull_request", "pull_request")):
        if configuration.get(legacy) is not None and configuration.get(key) is None:
            configuration[key] = configuration.pop(legacy)
    return configuration


def _notification_node() -> ArrayNode:
    return ArrayNode({
        "slack": ArrayNode({"webhook_url": ScalarNode(required=True)}),
        "commit": BooleanNode(),
        "pull_request": BooleanNode(),
        "when": PrototypedNode(ScalarNode(), default=["success", "failure", "running", "pending"]),
    }, before=[_notification_legacy_keys])


def _pipeline_node() -> ArrayNode:
    return ArrayNode({
        "name": ScalarNode(required=True),
        "condition": ScalarNode(),
        "variables": variables_node(),
        "tasks": KeyIndexedNode(pipeline_task_node(), required=True),
    })


def root_node() -> ArrayNode:
    """The whole configuration (CP's root node ``flow``)."""
    return ArrayNode({
        "variables": variables_node(),
        "defaults": ArrayNode({
            "cluster": ScalarNode(),
            "environment": ArrayNode({"name": ScalarNode()}),
        }),
        "tasks": PrototypedNode(task_node(), key_attribute="name"),
        "filter": ScalarNode(),
        "silent": BooleanNode(default=False),
        "notifications": PrototypedNode(_notification_node(), key_attribute="name"),
        "pipelines": KeyIndexedNode(_pipeline_node()),
    }, before=[_legacy_environment_variables])


_ROOT = None


def root() -> ArrayNode:
    """The (shared, immutable) root node."""
    global _ROOT
    if _ROOT is None:
        _ROOT = root_node()
    return _ROOT
