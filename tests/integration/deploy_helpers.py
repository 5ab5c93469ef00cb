"""Building deploy tasks for the engine tests (the real translator; no loader needed) and inspecting results."""
from __future__ import annotations

import json
import time

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import checksum_key, engine
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.environment import (
    TranslateOptions,
    translate_environment,
)

RELEASE = model.Release("6f1c1d2e-0000-4000-8000-00000000beef", model.CodeReference("main", "abc123"))


def service(name, image="registry.example/app:1", ports=(80,), env=(), secret_env=(), **kwargs):
    """A model.Service with sensible defaults (ports as ints, env as (name, value) pairs)."""
    ports = tuple(model.Port("%s%d" % (name[:5], port), port) for port in ports)
    environment = tuple(model.EnvVar(k, v) for k, v in env) + tuple(model.EnvVar(k, v, True) for k, v in secret_env)
    return model.Service(name=name, identifier=name, image=image, ports=ports, environment=environment, **kwargs)


def task(*services, identifier="app"):
    return model.DeployTask(identifier=identifier, cluster="local", services=tuple(services))


def translator(deploy_task, namespace, key):
    def translate(addresses=None):
        return translate_environment(deploy_task, RELEASE, TranslateOptions(
            namespace=namespace, public_endpoints=dict(addresses or {}), checksum_key=key))
    return translate


def pod_label(workload: str, key: str, value: str):
    """An object_hook putting a label on the pod template of one workload (kwok behaviours)."""
    def hook(obj):
        if obj.get("metadata", {}).get("name") != workload:
            return obj
        if obj["kind"] == "Deployment":
            obj["spec"]["template"]["metadata"].setdefault("labels", {})[key] = value
        elif obj["kind"] == "Pod":
            obj["metadata"].setdefault("labels", {})[key] = value
        return obj
    return hook


def chain(*hooks):
    def hook(obj):
        for one in hooks:
            obj = one(obj)
        return obj
    return hook


def deploy(kube, namespace, deploy_task, **options):
    """Deploy through the engine exactly as the module does (translate again with the addresses)."""
    options.setdefault("poll_interval", 0.25)
    # the checksum key kept in the environment, as the module reads it
    translate = translator(deploy_task, namespace, checksum_key.load(kube, namespace, deploy_task.identifier))
    options.setdefault("project", RELEASE.flow_uuid)
    opts = engine.DeployOptions(task=deploy_task.identifier, namespace=namespace,
                                release_meta={"code_reference": {"branch": "main", "sha": "abc123"},
                                              "flow_uuid": RELEASE.flow_uuid}, **options)
    return engine.Engine(kube, opts).deploy(translate(), translate)


def timed(fn, *args, **kwargs):
    start = time.monotonic()
    try:
        return fn(*args, **kwargs), time.monotonic() - start
    except Exception as error:  # noqa: BLE001 - returned to the test
        return error, time.monotonic() - start


def actions(result) -> dict:
    return {"%s/%s" % (o["kind"], o["name"]): o["action"] for o in result.objects}


def live(kube, kind, name, namespace, api_version=None):
    versions = {"Deployment": "apps/v1", "Ingress": "networking.k8s.io/v1", "ReplicaSet": "apps/v1"}
    return kube.get(kube.resource(api_version or versions.get(kind, "v1"), kind), name, namespace)


def listed(kube, kind, namespace, api_version=None, selector=None):
    versions = {"Deployment": "apps/v1", "Ingress": "networking.k8s.io/v1", "ReplicaSet": "apps/v1"}
    return kube.list(kube.resource(api_version or versions.get(kind, "v1"), kind), namespace, label_selector=selector)


def settle(kube, timeout=120):
    """Wait until no namespace is terminating (their deletion writes would blur write counts)."""
    deadline = time.monotonic() + timeout
    while True:
        terminating = [ns["metadata"]["name"] for ns in kube.list(kube.resource("v1", "Namespace"))
                       if (ns.get("status") or {}).get("phase") == "Terminating"]
        if not terminating:
            time.sleep(1.0)  # let the controllers finish what they were doing
            return
        if time.monotonic() > deadline:
            raise AssertionError("namespaces still terminating: %s" % terminating)
        time.sleep(0.5)


def wait_for(predicate, timeout: float = 60, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s; last value %r" % (timeout, what, value))
        time.sleep(interval)


def dump(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=str)
