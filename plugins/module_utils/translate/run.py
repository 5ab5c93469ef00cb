# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run tasks, translated: the specification and the pod of ContinuousPipe's ``run`` task
(docs/behaviour.md §11.1). Pure: the apply stage (``cluster/run.py``) stamps, creates, waits and cleans up.

The pod is what ContinuousPipe ran: a bare Pod ``run-<task>`` (slugified), one container of the same
name running ``sh -cex "<cmd1>; <cmd2>"``, ``restartPolicy: Never``, no ports, no Service.

* Environment: the run task's variables, then the pipeline variables marked
  ``as_environment_variable`` (``*``, the task or the pod name) that the task does not define (§6.3),
  then ``SERVICE_<E>_PUBLIC_ENDPOINT`` of earlier deploy tasks (``deploy_variables``) and of the
  environment's live public endpoints (§6.5; these and ``__TASK_<ID>_TARGET_ENVIRONMENT_NAME`` are
  also substituted inside the values), then the module's ``environment`` and ``secret_environment``
  (which win). Secret values go into a Secret ``run-<task>-env`` referenced with ``secretKeyRef``,
  never inline.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model, naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate import labels as label_names
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate import volumes

SECRET_SUFFIX = "-env"


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
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.environment import (
        environment_name,
        project_environment_name,
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
    """The pod's labels (the apply stage adds the collection's: managed-by, task)."""
    pod = spec.pod
    out = dict(spec.labels)
    out.update({
        naming.COMPONENT_LABEL: pod,
        label_names.ENVIRONMENT: spec.namespace,
        label_names.SERVICE: pod,
    })
    return out


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
