# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One-off commands in a pod of an environment: ContinuousPipe's ``run`` task (behaviour note §11.1).

The pod is what ContinuousPipe ran: a bare Pod ``run-<task>`` (slugified), one container of the same
name running ``sh -cex "<cmd1>; <cmd2>"``, ``restartPolicy: Never``, no ports, no Service. It is not a
Job: no retries. Its phase decides: ``Succeeded`` is success, anything else fails the task, with the
container's exit code.

* Environment: the run task's variables, then the pipeline variables marked
  ``as_environment_variable`` (``*``, the task or the pod name) that the task does not define (§6.3),
  then ``SERVICE_<E>_PUBLIC_ENDPOINT`` of earlier deploy tasks (``deploy_variables``) and of the
  environment's live public endpoints (§6.5; these and ``__TASK_<ID>_TARGET_ENVIRONMENT_NAME`` are
  also substituted inside the values), then the module's ``environment`` and ``secret_environment``
  (which win). Secret values go into a Secret ``run-<task>-env`` referenced with ``secretKeyRef``,
  never inline.
* Before: a missing environment is created (ContinuousPipe prepared the namespace for a run as for a
  deploy). A pod of that name that is running and ready is another run in progress: the run fails at
  once. Any other leftover (finished, failed, pending) is deleted and replaced.
* After: the output is read from the API (``pods/log``) when the cluster serves logs; the pod and its
  Secret are always deleted — on success, failure, timeout, Ctrl-C (SIGINT) and SIGTERM. The Secret
  is also owned by the pod, so the garbage collector removes it with the pod if this process dies.
* Check mode: server-side dry run of the Secret, the claims and the pod; nothing runs.
"""
from __future__ import annotations

import re
import signal
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model, naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import endpoints as endpoint_rules
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import environment
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import ownership, plan, watch
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import (
    ClusterError,
    ContinuousPipeError,
    DefinitionError,
)

MANAGER = plan.MANAGED_BY
ENVIRONMENT_LABEL = "continuouspipe.io/environment"
SECRET_SUFFIX = "-env"
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
# names


def pod_name(task: str) -> str:
    """``run-<task>`` slugified, as ContinuousPipe named it; at most 63 characters (a label value)."""
    name = naming.run_pod_name(task)
    if not name or name == "run":
        raise DefinitionError("task identifier %r gives no pod name" % task, path=("task",),
                              expected="letters or digits")
    if len(name) > 63:
        name = "%s-%s" % (name[:52].rstrip("-"), naming.md5_10(name))
    return name


def secret_name(pod: str) -> str:
    return pod + SECRET_SUFFIX


# --------------------------------------------------------------------------------------------------
# the specification


@dataclass
class EnvEntry:
    name: str
    value: str = field(repr=False)
    secret: bool = False
    source: str = "task"  # task, variable, endpoint, option


@dataclass
class RunSpec:
    task: str
    namespace: str
    image: str
    commands: List[str]
    env: List[EnvEntry] = field(default_factory=list)
    volumes: List[dict] = field(default_factory=list)
    volume_mounts: List[dict] = field(default_factory=list)
    claims: List[dict] = field(default_factory=list)
    labels: Dict[str, str] = field(default_factory=dict)
    annotations: Dict[str, str] = field(default_factory=dict)
    service_account: Optional[str] = None
    flow_uuid: Optional[str] = None

    @property
    def pod(self) -> str:
        return pod_name(self.task)

    @property
    def command(self) -> List[str]:
        return ["sh", "-cex", "; ".join(self.commands)]

    def secret_values(self) -> List[str]:
        return [entry.value for entry in self.env if entry.secret and entry.value]


def _set(env: List[EnvEntry], entry: EnvEntry, override: bool) -> None:
    for index, existing in enumerate(env):
        if existing.name == entry.name:
            if override:
                env[index] = entry
            return
    env.append(entry)


def find_run_task(project: model.Project, task: str) -> Tuple[Optional[model.RunTask], Optional[model.Pipeline]]:
    for pipeline in project.pipelines:
        for candidate in pipeline.tasks:
            if isinstance(candidate, model.RunTask) and candidate.identifier == task:
                return candidate, pipeline
    return None, None


def find_service(project: model.Project, service: str) -> Tuple[model.Service, model.Pipeline]:
    """The service of a deploy task named ``service`` (key or identifier); one image only."""
    found = []
    for pipeline in project.pipelines:
        for candidate in pipeline.tasks:
            if isinstance(candidate, model.DeployTask):
                for item in candidate.services:
                    if service in (item.name, item.identifier):
                        found.append((item, pipeline, candidate.identifier))
    if not found:
        known = sorted({item.name for pipeline in project.pipelines for t in pipeline.tasks
                        if isinstance(t, model.DeployTask) for item in t.services})
        raise DefinitionError("no deploy task has a service %r (services: %s)" % (service, ", ".join(known) or "none"),
                              path=("service",))
    images = {entry[0].image for entry in found}
    if len(images) > 1:
        raise DefinitionError("service %r has different images in deploy tasks %s; give the image" % (
            service, ", ".join(entry[2] for entry in found)), path=("service",))
    return found[0][0], found[0][1]


def _component_names(task: str) -> set:
    return {"*", task, pod_name(task)}


def variables_for(pipeline: Optional[model.Pipeline], task: str) -> List[EnvEntry]:
    """Pipeline variables marked ``as_environment_variable`` for this run (§6.3)."""
    out = []
    if pipeline is None:
        return out
    names = _component_names(task)
    for variable in pipeline.variables:
        if names.intersection(variable.as_environment_variable or ()):
            out.append(EnvEntry(variable.name, str(variable.value), bool(variable.secret), "variable"))
    return out


def environment_of(project: model.Project, task: str, service: Optional[str] = None,
                   tasks_context: Optional[dict] = None) -> str:
    """The namespace of the run: its run task's environment, else that of the deploy task with
    ``service``, else the one the deploy tasks share (§8.1, §11.1)."""
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.environment import (
        project_environment_name,
    )
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.environment import (
        environment_name,
    )

    run_task = find_run_task(project, task)[0]
    if run_task is not None:
        return environment_name(run_task, project.release, tasks_context)
    if service:
        for pipeline in project.pipelines:
            for candidate in pipeline.tasks:
                if isinstance(candidate, model.DeployTask) and any(
                        service in (item.name, item.identifier) for item in candidate.services):
                    return environment_name(candidate, project.release, tasks_context)
    return project_environment_name(project)


def _volume(volume: model.Volume, path) -> Tuple[dict, Optional[dict]]:
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate import volumes

    pod_volume = volumes.pod_volume(volume, path)
    claim = None
    if volume.type == volumes.PERSISTENT:
        if volume.capacity in (None, ""):
            raise DefinitionError("a persistent volume needs a capacity", path + ("capacity",),
                                  expected="a storage size such as 5Gi")
        spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": str(volume.capacity)}}}
        if volume.storage_class not in (None, "", volumes.DEFAULT_STORAGE_CLASS):
            spec["storageClassName"] = volume.storage_class
        claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": volume.name}, "spec": spec}
    return pod_volume, claim


def build_spec(task: str, namespace: str, project: Optional[model.Project] = None, service: Optional[str] = None,
               image: Optional[str] = None, commands=None, environment: Optional[dict] = None,
               secret_environment: Optional[dict] = None, volumes=None, volume_mounts=None, labels=None,
               annotations=None, service_account: Optional[str] = None, live_image=None,
               endpoint_variables: Optional[Dict[str, str]] = None, flow_uuid: Optional[str] = None,
               deploy_variables: Optional[Dict[str, str]] = None) -> RunSpec:
    """Put the pod together from the project's run task (if any) and the module options.

    ``live_image(service)`` returns the image a service runs in the namespace (used when there is no
    project); ``endpoint_variables`` maps ``SERVICE_<E>_PUBLIC_ENDPOINT`` names to the addresses of the
    environment's live endpoints; ``deploy_variables`` are those earlier deploy tasks returned
    (``SERVICE_<E>_PUBLIC_ENDPOINT``, ``__TASK_<ID>_TARGET_ENVIRONMENT_NAME``), which win (§6.5).
    """
    run_task, pipeline = (find_run_task(project, task) if project is not None else (None, None))
    chosen_image = image
    if not chosen_image and service:
        if project is not None:
            found, service_pipeline = find_service(project, service)
            pipeline = pipeline or service_pipeline
            chosen_image = found.image
            if not chosen_image:
                raise DefinitionError("service %r has no image (is it built by a build task? give it in images)"
                                      % service, path=("service",))
        elif live_image is not None:
            chosen_image = live_image(service)
    if not chosen_image and run_task is not None:
        chosen_image = run_task.image
    if not chosen_image:
        raise DefinitionError("no image for the run of %r: give image or service%s" % (
            task, "" if project is None else ", or define a run task %r with an image" % task), path=("image",))
    if project is not None and pipeline is None and project.pipelines:
        pipeline = project.pipelines[0]

    chosen_commands = [str(command) for command in (commands or (run_task.commands if run_task else ()))]
    if not chosen_commands:
        raise DefinitionError("no commands to run for %r" % task, path=("commands",),
                              expected="a list of shell commands")

    env: List[EnvEntry] = []
    if run_task is not None:
        for entry in run_task.environment:
            _set(env, EnvEntry(entry.name, str(entry.value), bool(entry.secret), "task"), True)
    for entry in variables_for(pipeline, task):
        _set(env, entry, False)
    runtime = dict(endpoint_variables or {})
    runtime.update({str(name): str(value) for name, value in (deploy_variables or {}).items()})
    for name, address in sorted(runtime.items()):
        if naming.is_public_endpoint_variable(name) and name.startswith("SERVICE_"):
            source = "deploy" if name in (deploy_variables or {}) else "endpoint"
            _set(env, EnvEntry(name, address, False, source), False)
    if runtime:
        env = [_substitute(entry, runtime) for entry in env]
    for name, value in (environment or {}).items():
        _set(env, EnvEntry(str(name), "" if value is None else str(value), False, "option"), True)
    for name, value in (secret_environment or {}).items():
        _set(env, EnvEntry(str(name), "" if value is None else str(value), True, "option"), True)
    for entry in env:
        if entry.secret:
            _check_secret_key(entry.name)

    pod_volumes: List[dict] = []
    mounts: List[dict] = []
    claims: List[dict] = []
    if run_task is not None:
        for index, volume in enumerate(run_task.volumes):
            pod_volume, claim = _volume(volume, ("tasks", task, "run", "volumes", index))
            pod_volumes.append(pod_volume)
            if claim is not None:
                claims.append(claim)
        for mount in run_task.volume_mounts:
            mounts.append({"name": mount.name, "mountPath": mount.mount_path, "readOnly": bool(mount.read_only)})
    pod_volumes += [dict(volume) for volume in volumes or ()]
    mounts += [dict(mount) for mount in volume_mounts or ()]
    names = {volume.get("name") for volume in pod_volumes}
    for mount in mounts:
        if mount.get("name") not in names:
            raise DefinitionError("volume mount %r names no volume (volumes: %s)" % (
                mount.get("name"), ", ".join(sorted(n for n in names if n)) or "none"), path=("volume_mounts",))

    return RunSpec(task=task, namespace=namespace, image=chosen_image, commands=chosen_commands, env=env,
                   volumes=pod_volumes, volume_mounts=mounts, claims=claims,
                   labels={str(k): str(v) for k, v in (labels or {}).items()},
                   annotations={str(k): str(v) for k, v in (annotations or {}).items()},
                   service_account=service_account,
                   flow_uuid=flow_uuid or (project.release.flow_uuid if project is not None else None))


def _substitute(entry: EnvEntry, mapping: Dict[str, str]) -> EnvEntry:
    value = entry.value
    for name, address in mapping.items():
        value = value.replace("${%s}" % name, str(address))
    if value == entry.value:
        return entry
    return EnvEntry(entry.name, value, entry.secret, entry.source)


def _check_secret_key(name: str) -> None:
    if not re.match(r"^[-._a-zA-Z0-9]+$", name) or len(name) > 253:
        raise DefinitionError("secret environment variable name %r cannot be a Secret key" % name,
                              path=("secret_environment",), expected="letters, digits, '-', '_' or '.'")


# --------------------------------------------------------------------------------------------------
# manifests


def _labels(spec: RunSpec) -> Dict[str, str]:
    pod = spec.pod
    labels = dict(spec.labels)
    labels.update({
        naming.COMPONENT_LABEL: pod,
        plan.MANAGED_BY_LABEL: MANAGER,
        ENVIRONMENT_LABEL: spec.namespace,
        plan.TASK_LABEL: plan.task_label_value(spec.task),
        plan.SERVICE_LABEL: pod,
    })
    return labels


def manifests(spec: RunSpec) -> Tuple[dict, Optional[dict], List[dict]]:
    """(Pod, its env Secret or None, PersistentVolumeClaims) of the run."""
    pod = spec.pod
    labels = _labels(spec)
    env = []
    secret_data = {}
    for entry in spec.env:
        if entry.secret:
            secret_data[entry.name] = entry.value
            env.append({"name": entry.name,
                        "valueFrom": {"secretKeyRef": {"name": secret_name(pod), "key": entry.name}}})
        else:
            env.append({"name": entry.name, "value": entry.value})
    container = {"name": pod, "image": spec.image, "command": spec.command}
    if env:
        container["env"] = env
    if spec.volume_mounts:
        container["volumeMounts"] = spec.volume_mounts
    pod_spec = {"restartPolicy": "Never", "containers": [container]}
    if spec.volumes:
        pod_spec["volumes"] = spec.volumes
    if spec.service_account:
        pod_spec["serviceAccountName"] = spec.service_account
    metadata = {"name": pod, "namespace": spec.namespace, "labels": labels}
    if spec.annotations:
        metadata["annotations"] = dict(spec.annotations)
    pod_manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}
    secret = None
    if secret_data:
        secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                  "metadata": {"name": secret_name(pod), "namespace": spec.namespace, "labels": dict(labels)},
                  "stringData": secret_data}
    claims = []
    for claim in spec.claims:
        claim = dict(claim, metadata=dict(claim["metadata"], namespace=spec.namespace, labels=dict(labels)))
        claims.append(claim)
    return pod_manifest, secret, claims


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
    """``SERVICE_<E>_PUBLIC_ENDPOINT`` → address for the public endpoints live in the namespace (§6.5).

    Load balancers: their address; Ingresses: their first rule host (else their address); internal
    endpoints: their cluster DNS name. Endpoints without an address yet, and node ports, are left out.
    """
    out = {}
    items = cluster.list(cluster.resource("v1", "Service"), namespace)
    items += cluster.list(cluster.resource("networking.k8s.io/v1", "Ingress"), namespace)
    for obj in items:
        if not endpoint_rules.is_public_endpoint_object(obj):
            continue
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        address = None
        lb = [entry.get("hostname") or entry.get("ip")
              for entry in ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []]
        lb = [value for value in lb if value]
        if obj.get("kind") == "Ingress":
            hosts = [rule.get("host") for rule in (obj.get("spec") or {}).get("rules") or [] if rule.get("host")]
            address = hosts[0] if hosts else (lb[0] if lb else None)
        elif labels.get("internal-endpoint") == "true":
            address = "%s.%s.svc.cluster.local" % (meta.get("name"), namespace)
        elif ((obj.get("spec") or {}).get("type")) == "LoadBalancer":
            address = lb[0] if lb else None
        elif "source-of-ingress" in labels:
            continue  # the Ingress gives the address
        if address:
            out[naming.service_public_endpoint_variable(meta.get("name"))] = address
    return out


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
            ownership.check_namespace(live, spec.flow_uuid, action="run a task in")
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
