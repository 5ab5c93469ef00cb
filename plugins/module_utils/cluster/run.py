# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One-off commands in a pod of an environment: ContinuousPipe's ``run`` task (docs/behaviour.md §11.1).

The pod is what ContinuousPipe ran: a bare Pod ``run-<task>`` (slugified), one container of the same
name running ``sh -cex "<cmd1>; <cmd2>"``, ``restartPolicy: Never``, no ports, no Service. It is not a
Job: no retries. Its phase decides: ``Succeeded`` is success, anything else fails the task, with the
container's exit code.

* The specification and the pod are translated by ``translate/run.py`` (environment, volumes, the
  Secret ``run-<task>-env`` of secret values); this module stamps them with the collection's labels,
  reads what the environment provides (``live_image``; the endpoints' addresses from ``endpoints.py``)
  and runs the pod.
* Before: a missing environment is created (ContinuousPipe prepared the namespace for a run as for a
  deploy). A pod of that name that is running and ready is another run in progress: the run fails at
  once. Any other leftover (finished, failed, pending) is deleted and replaced.
* After: the output is read from the API (``pods/log``) when the cluster serves logs; the pod and its
  Secret are always deleted — on success, failure, timeout, Ctrl-C (SIGINT) and SIGTERM. The Secret
  is also owned by the pod, so the garbage collector removes it with the pod if this process dies.
* Check mode: server-side dry run of the Secret, the claims and the pod; nothing runs.
"""
from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model, naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import endpoints as endpoint_rules
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import environment
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import plan
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import projects
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import watch
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError, ContinuousPipeError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate import run as run_rules
# The run's specification and pod are translated in translate/run.py; re-exported for the module.
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.run import (  # noqa: F401 pylint: disable=unused-import
    EnvEntry,
    RunSpec,
    build_spec,
    environment_of,
    find_run_task,
    find_service,
    pod_name,
    secret_name,
    variables_for,
)

MANAGER = plan.MANAGED_BY
MAX_OUTPUT_BYTES = 1024 * 1024
# Container states after which the pod will not start by itself (fail at once instead of timing out).
FATAL_WAITING_REASONS = frozenset((
    "InvalidImageName", "ErrImageNeverPull", "ImagePullBackOff", "CreateContainerConfigError",
    "CreateContainerError", "RunContainerError",
))


class RunError(ContinuousPipeError):
    """The run failed (non-zero exit, timeout, pod that cannot start); ``result`` is what is known."""

    def __init__(self, message: str, result: Optional[dict] = None):
        super().__init__(message)
        self.result = result or {}


class Interrupted(BaseException):
    """SIGTERM or SIGHUP while the pod runs (SIGINT raises KeyboardInterrupt)."""


# --------------------------------------------------------------------------------------------------
# the pod (translated by translate/run.py), stamped like every object this collection writes


def manifests(spec: RunSpec) -> Tuple[dict, Optional[dict], List[dict]]:
    """(Pod, its env Secret or None, PersistentVolumeClaims) of the run, with the labels of the collection
    (``app.kubernetes.io/managed-by``, ``continuouspipe.io/task``)."""
    pod, secret, claims = run_rules.manifests(spec)
    stamp = {plan.MANAGED_BY_LABEL: MANAGER, plan.TASK_LABEL: plan.task_label_value(spec.task)}
    for obj in [pod, secret] + claims:
        if obj is not None:
            obj["metadata"]["labels"].update(stamp)
    return pod, secret, claims


# --------------------------------------------------------------------------------------------------
# reading the environment


def live_image(cluster, namespace: str, service: str) -> str:
    """The image a service runs in the namespace (its Deployment, StatefulSet or bare Pod)."""
    for api_version, kind in (("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("v1", "Pod")):
        resource = cluster.resource(api_version, kind)
        for selector in ("%s=%s" % (plan.SERVICE_LABEL, service), "%s=%s" % (naming.COMPONENT_LABEL, service)):
            items = cluster.list(resource, namespace, label_selector=selector)
            items = [item for item in items if kind != "Pod" or not (item.get("metadata") or {}).get("ownerReferences")]
            if not items:
                continue
            spec = items[0].get("spec") or {}
            pod_spec = (spec.get("template") or {}).get("spec") if kind != "Pod" else spec
            containers = (pod_spec or {}).get("containers") or []
            for container in containers:
                if container.get("name") in (service, naming.slugify(service)):
                    return container.get("image")
            if containers:
                return containers[0].get("image")
    raise ClusterError("no Deployment, StatefulSet or Pod of service %r in namespace %s to take the image from; "
                       "give image, or the project (source_dir, branch)" % (service, namespace), status=404)


def endpoint_addresses(cluster, namespace: str) -> Dict[str, str]:
    """``SERVICE_<E>_PUBLIC_ENDPOINT`` → address of the environment's live public endpoints (§6.5)."""
    return endpoint_rules.live_variables(cluster, namespace)


# --------------------------------------------------------------------------------------------------
# running


def _meta(obj: Optional[dict]) -> dict:
    return (obj or {}).get("metadata") or {}


def _ready(pod: dict) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def _container_status(pod: dict, name: str) -> dict:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for status in statuses:
        if status.get("name") == name:
            return status
    return statuses[0] if statuses else {}


def _exit_code(pod: dict, name: str) -> Optional[int]:
    terminated = ((_container_status(pod, name).get("state") or {}).get("terminated")) or {}
    code = terminated.get("exitCode")
    return int(code) if code is not None else None


def _describe(pod: Optional[dict], name: str) -> str:
    if pod is None:
        return "pod is gone"
    status = pod.get("status") or {}
    parts = ["phase %s" % (status.get("phase") or "Pending")]
    if status.get("reason"):
        parts.append("reason %s" % status["reason"])
    state = _container_status(pod, name).get("state") or {}
    for key in ("waiting", "terminated"):
        if state.get(key):
            detail = state[key]
            text = "container %s: %s" % (key, detail.get("reason") or "")
            if key == "terminated" and detail.get("exitCode") is not None:
                text += " (exit code %s)" % detail["exitCode"]
            if detail.get("message"):
                text += " (%s)" % detail["message"]
            parts.append(text)
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            parts.append("not scheduled: %s" % (condition.get("message") or condition.get("reason")))
    if status.get("message"):
        parts.append(status["message"])
    return ", ".join(parts)


@dataclass
class RunResult:
    pod: str
    namespace: str
    image: str
    command: List[str]
    environment: List[dict]
    phase: Optional[str] = None
    rc: Optional[int] = None
    output: Optional[str] = None
    output_available: bool = False
    output_truncated: bool = False
    replaced: bool = False
    namespace_created: bool = False
    cleaned_up: bool = False
    started: Optional[str] = None
    finished: Optional[str] = None
    duration: float = 0.0
    message: str = ""
    timings: Dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = dict(self.__dict__)
        out["output_lines"] = self.output.splitlines() if self.output is not None else []
        return out


def _ensure_namespace(cluster, spec: RunSpec, check_mode: bool) -> bool:
    """Create the environment when it does not exist, as ContinuousPipe prepared it for a run (§11.1).

    An existing namespace is used as it is (its labels are the business of deploy and environment),
    provided that, when the project is known, it is that project's (``ownership.check_namespace``).
    """
    live = cluster.get(cluster.resource("v1", "Namespace"), spec.namespace)
    if live is not None and not environment.is_terminating(live):
        if spec.flow_uuid:
            projects.check_environment(cluster, live, spec.flow_uuid, action="run a task in")
        return False
    environment.ensure_present(cluster, spec.namespace, environment.namespace_labels(spec.namespace, spec.flow_uuid),
                               check_mode=check_mode, wait=True, wait_timeout=120, project=spec.flow_uuid)
    return True


def _clear_leftover(cluster, spec: RunSpec, check_mode: bool, timeout: float) -> bool:
    """Fail when a run with this name is in progress; delete a finished one. True if one was replaced."""
    resource = cluster.resource("v1", "Pod")
    existing = cluster.get(resource, spec.pod, spec.namespace)
    if existing is None:
        _clear_leftover_secret(cluster, spec, check_mode)
        return False
    phase = (existing.get("status") or {}).get("phase")
    if not _meta(existing).get("deletionTimestamp") and phase == "Running" and _ready(existing):
        started = (existing.get("status") or {}).get("startTime") or "?"
        raise RunError(
            "pod %s is already running in namespace %s (started %s): another run of task %s is in progress. "
            "Wait for it, or delete the pod" % (spec.pod, spec.namespace, started, spec.task),
            {"pod": spec.pod, "namespace": spec.namespace, "phase": phase})
    _clear_leftover_secret(cluster, spec, check_mode)
    if check_mode:
        if not _meta(existing).get("deletionTimestamp"):
            cluster.delete(resource, spec.pod, spec.namespace, dry_run=True)
        return True
    if not _meta(existing).get("deletionTimestamp"):
        cluster.delete(resource, spec.pod, spec.namespace)
    deadline = time.monotonic() + timeout
    while cluster.get(resource, spec.pod, spec.namespace) is not None:
        if time.monotonic() > deadline:
            raise RunError("the previous pod %s in namespace %s is still being deleted after %ds" % (
                spec.pod, spec.namespace, int(timeout)), {"pod": spec.pod, "namespace": spec.namespace})
        time.sleep(0.25)
    return True


def _clear_leftover_secret(cluster, spec: RunSpec, check_mode: bool) -> None:
    """A Secret of an earlier run (its pod already gone) is deleted; someone else's is not touched."""
    resource = cluster.resource("v1", "Secret")
    name = secret_name(spec.pod)
    existing = cluster.get(resource, name, spec.namespace)
    if existing is None:
        return
    labels = _meta(existing).get("labels") or {}
    if labels.get(plan.MANAGED_BY_LABEL) != MANAGER or labels.get(naming.COMPONENT_LABEL) != spec.pod:
        raise RunError("namespace %s already has a Secret %s that this collection did not create for a run; "
                       "rename it or delete it" % (spec.namespace, name), {"pod": spec.pod, "namespace": spec.namespace})
    cluster.delete(resource, name, spec.namespace, dry_run=check_mode)


def _ensure_claims(cluster, claims: List[dict], check_mode: bool) -> None:
    """Create the persistent volume claims that do not exist yet (never modified, never deleted)."""
    resource = cluster.resource("v1", "PersistentVolumeClaim")
    for claim in claims:
        meta = claim["metadata"]
        if cluster.get(resource, meta["name"], meta["namespace"]) is None:
            cluster.request("POST", resource.collection_path(meta["namespace"]), body=claim,
                            query={"fieldManager": plan.FIELD_MANAGER, "dryRun": "All" if check_mode else None})


def _create(cluster, obj: dict, dry_run: bool) -> dict:
    resource = cluster.resource_for(obj)
    return cluster.request("POST", resource.collection_path(_meta(obj).get("namespace")), body=obj,
                           query={"fieldManager": plan.FIELD_MANAGER, "dryRun": "All" if dry_run else None})


def read_output(cluster, pod: str, namespace: str, container: str) -> Tuple[Optional[str], bool, Optional[str]]:
    """(output, truncated, why not): the container's log, when the cluster serves logs."""
    path = cluster.resource("v1", "Pod").path(pod, namespace, "log")
    try:
        # best effort, once: a 5xx here is the API server failing to reach the kubelet (or the node
        # is gone); retrying it would hold the end of every run for seconds (429/503 are still retried)
        data = cluster.request("GET", path, query={"container": container}, raw=True, timeout=120,
                               idempotent=False)
    except ClusterError as error:
        return None, False, str(error)
    truncated = len(data) > MAX_OUTPUT_BYTES
    if truncated:
        data = data[-MAX_OUTPUT_BYTES:]
    return data.decode("utf-8", "replace"), truncated, None


class _Signals:
    """SIGTERM / SIGHUP raise ``Interrupted`` while the pod runs, so the cleanup always happens."""

    def __init__(self):
        self.saved = {}

    def __enter__(self):
        def handler(signum, frame):
            raise Interrupted("interrupted by signal %d" % signum)

        for signum in (signal.SIGTERM, signal.SIGHUP):
            try:
                self.saved[signum] = signal.signal(signum, handler)
            except (ValueError, OSError):  # not the main thread
                pass
        return self

    def __exit__(self, *exc):
        for signum, previous in self.saved.items():
            signal.signal(signum, previous)
        return False


def run(cluster, spec: RunSpec, timeout: float = 3600, check_mode: bool = False, warn=None) -> RunResult:
    """Run the pod to completion and delete it; raise RunError unless it Succeeded."""
    warn = warn or (lambda message: None)
    pod_manifest, secret, claims = manifests(spec)
    container = spec.pod
    result = RunResult(pod=spec.pod, namespace=spec.namespace, image=spec.image, command=spec.command,
                       environment=[{"name": entry.name, "secret": entry.secret, "source": entry.source}
                                    for entry in spec.env])
    result.namespace_created = _ensure_namespace(cluster, spec, check_mode)
    if check_mode and result.namespace_created:
        result.message = ("check mode: the environment %s does not exist yet and would be created; the pod cannot "
                          "be validated before" % spec.namespace)
        return result
    result.replaced = _clear_leftover(cluster, spec, check_mode, timeout=120)
    if check_mode:
        _ensure_claims(cluster, claims, True)
        if secret is not None:
            _create(cluster, secret, True)
        probe = pod_manifest
        if result.replaced:
            # the leftover still exists (its deletion was a dry run): validate under another name
            probe = dict(pod_manifest, metadata=dict(pod_manifest["metadata"], generateName=spec.pod + "-"))
            del probe["metadata"]["name"]
        _create(cluster, probe, True)
        result.message = "check mode: the pod was validated by a server-side dry run, nothing ran"
        return result

    pods = cluster.resource("v1", "Pod")
    secrets = cluster.resource("v1", "Secret")
    started = time.monotonic()
    created_pod = created_secret = False
    live = None
    failure = None
    with _Signals():
        try:
            _ensure_claims(cluster, claims, False)
            if secret is not None:
                _create(cluster, secret, False)
                created_secret = True
            live = _create(cluster, pod_manifest, False)
            created_pod = True
            created = time.monotonic()
            result.timings["create"] = round(created - started, 3)
            if secret is not None:
                _own(cluster, secrets, secret, live)
            try:
                live = _wait(cluster, pods, spec, container, started, timeout, result)
            except RunError as error:
                failure = error
            else:
                result.phase = (live.get("status") or {}).get("phase")
                result.rc = _exit_code(live, container)
                terminated = (_container_status(live, container).get("state") or {}).get("terminated") or {}
                result.started = terminated.get("startedAt") or (live.get("status") or {}).get("startTime")
                result.finished = terminated.get("finishedAt")
            seen = time.monotonic()
            result.timings["wait"] = round(seen - created, 3)
            result.output, result.output_truncated, why = read_output(cluster, spec.pod, spec.namespace, container)
            result.output_available = result.output is not None
            result.timings["output"] = round(time.monotonic() - seen, 3)
            if why:
                warn("the output of pod %s is not available (the cluster serves no logs for it): %s" % (spec.pod, why))
        finally:
            result.duration = round(time.monotonic() - started, 3)
            cleanup = time.monotonic()
            result.cleaned_up = _cleanup(cluster, pods, secrets, spec, created_pod, created_secret, warn)
            result.timings["cleanup"] = round(time.monotonic() - cleanup, 3)
    if failure is not None:
        result.message = str(failure)
        raise RunError(result.message, result.to_dict())
    if result.phase != "Succeeded":
        result.message = "pod %s did not end successfully: %s" % (spec.pod, _describe(live, container))
        raise RunError(result.message, result.to_dict())
    result.message = "pod %s succeeded" % spec.pod
    return result


def run_task(cluster, params: dict, project: Optional[model.Project] = None, check_mode: bool = False, warn=None,
             secrets=None) -> RunResult:
    """What the ``run`` module does with its options (``params``), on a connected cluster.

    ``secrets(values)`` is told the secret values of the pod's environment before the pod exists
    (the module adds them to its no_log values); raises RunError, ContinuousPipeError.
    """
    task = params["task"]
    namespace = params.get("namespace") or environment_of(project, task, params.get("service"),
                                                          params.get("tasks_context"))
    spec = build_spec(
        task, namespace, project=project, service=params.get("service"), image=params.get("image"),
        commands=params.get("commands"), environment=params.get("environment"),
        secret_environment=params.get("secret_environment"), volumes=params.get("volumes"),
        volume_mounts=params.get("volume_mounts"), labels=params.get("labels"), annotations=params.get("annotations"),
        service_account=params.get("service_account"),
        live_image=lambda service: live_image(cluster, namespace, service),
        endpoint_variables=endpoint_addresses(cluster, namespace) if params.get("endpoint_variables", True) else None,
        flow_uuid=params.get("flow_uuid"), deploy_variables=params.get("deploy_variables"))
    if secrets is not None:
        secrets(spec.secret_values())
    return run(cluster, spec, timeout=params.get("timeout") or 3600, check_mode=check_mode, warn=warn)


def _own(cluster, secrets, secret: dict, pod: dict) -> None:
    """Make the pod the Secret's owner, so deleting the pod (by anyone) deletes the Secret."""
    meta = _meta(pod)
    body = {"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": meta.get("name"),
                                              "uid": meta.get("uid")}]}}
    cluster.request("PATCH", secrets.path(_meta(secret)["name"], _meta(secret)["namespace"]), body=body,
                    content_type="application/merge-patch+json")


def _wait(cluster, pods, spec: RunSpec, container: str, started: float, timeout: float, result: RunResult) -> dict:
    """The pod once it ended; its changes are watched (seen within milliseconds), not polled.

    A watch that ends (the server's timeout, a dropped connection, a version too old) is followed by
    a GET and a new watch from there; if watches fail, it falls back to polling every second.
    """
    live = cluster.get(pods, spec.pod, spec.namespace)
    last = live
    failures = 0
    while True:
        if live is None:
            raise RunError("pod %s was deleted by someone else while it ran (%s)" % (spec.pod, _describe(last, container)),
                           result.to_dict())
        last = live
        if _ended(live, spec, container, started, timeout, result):
            return live
        remaining = timeout - (time.monotonic() - started)
        version = _meta(live).get("resourceVersion")
        watched = False
        try:
            for kind, obj in watch.watch_object(cluster, pods, spec.namespace, spec.pod, version,
                                                min(max(remaining, 1), 300)):
                watched = True
                if kind == "DELETED":
                    live = None
                    break
                if kind in ("ADDED", "MODIFIED"):
                    live = obj
                    last = live
                    if _ended(live, spec, container, started, timeout, result):
                        return live
                elif kind == "ERROR":
                    break  # e.g. 410 Gone: read the pod again and watch from there
                if time.monotonic() - started >= timeout:
                    break
        except ClusterError:
            failures += 1
            if failures > 3:
                time.sleep(1.0)  # the API server refuses watches: fall back to polling
        if watched:
            failures = 0
        if live is not None:
            live = cluster.get(pods, spec.pod, spec.namespace)


def _ended(live: dict, spec: RunSpec, container: str, started: float, timeout: float, result: RunResult) -> bool:
    """True when the pod ended (Succeeded or Failed); raises RunError when it cannot start or took too long."""
    phase = (live.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        return True
    waiting = (_container_status(live, container).get("state") or {}).get("waiting") or {}
    if waiting.get("reason") in FATAL_WAITING_REASONS:
        result.phase = phase
        raise RunError("pod %s cannot start: %s" % (spec.pod, _describe(live, container)), result.to_dict())
    if time.monotonic() - started >= timeout:
        result.phase = phase
        raise RunError("pod %s did not finish within %ds: %s" % (spec.pod, int(timeout), _describe(live, container)),
                       result.to_dict())
    return False


def _cleanup(cluster, pods, secrets, spec: RunSpec, created_pod: bool, created_secret: bool, warn) -> bool:
    """Delete the pod and its Secret; never raises (the run's own outcome matters more)."""
    done = True
    for created, resource, name in ((created_pod, pods, spec.pod), (created_secret, secrets, secret_name(spec.pod))):
        if not created:
            continue
        for attempt in range(3):
            try:
                cluster.delete(resource, name, spec.namespace)
                break
            except (ClusterError, KeyboardInterrupt, Interrupted) as error:
                if attempt == 2:
                    done = False
                    warn("could not delete %s %s/%s: %s" % (resource.kind, spec.namespace, name, error))
    return done
