# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The typed model shared by the three stages of the pipeline.

    files on disk ──load──▶ Project (this module) ──translate──▶ manifests ──apply──▶ cluster

``config.loader`` builds a ``Project`` for one code reference (branch, sha, pull request): every
variable substituted, every condition that can be decided at load time decided (service and endpoint
conditions, ingress hosts), pipelines whose condition is false dropped. What can only be decided
while the pipeline runs stays as an expression string: task filters and environment-name
expressions (they may read ``tasks.<id>.services.<svc>.created``).

All classes are frozen dataclasses holding plain values (str, int, bool, tuples, dicts of str), so a
model can be compared, hashed into a checksum and rendered as JSON (``to_dict``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

# --------------------------------------------------------------------------------------------------
# Where a release comes from


@dataclass(frozen=True)
class PullRequest:
    number: int = 0
    title: str = ""
    labels: Tuple[str, ...] = ()


@dataclass(frozen=True)
class CodeReference:
    """The commit being deployed (``code_reference`` in expressions)."""

    branch: str
    sha: str = ""
    pull_request: PullRequest = PullRequest()


@dataclass(frozen=True)
class Release:
    """Identity of one run: which flow (project), which commit."""

    flow_uuid: str
    code_reference: CodeReference

    @property
    def branch(self) -> str:
        return self.code_reference.branch


# --------------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class EnvVar:
    """One container environment variable.

    ``secret`` is true when the value came (wholly or in part) from a secret variable; the
    translator then stores it in a Secret and references it with ``secretKeyRef``.
    """

    name: str
    value: str
    secret: bool = False


@dataclass(frozen=True)
class Port:
    identifier: str
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True)
class Volume:
    """A pod volume. ``type`` is one of persistent, hostPath, emptyDirectory, nfs."""

    name: str
    type: str = "persistent"
    path: Optional[str] = None
    capacity: Optional[str] = None
    storage_class: Optional[str] = None
    server: Optional[str] = None


@dataclass(frozen=True)
class VolumeMount:
    name: str
    mount_path: str
    read_only: bool = False


@dataclass(frozen=True)
class Probe:
    """Readiness or liveness probe. ``type`` is http, tcp or exec."""

    type: str = "http"
    port: Optional[Any] = None
    path: Optional[str] = None
    host: Optional[str] = None
    scheme: Optional[str] = None
    command: Tuple[str, ...] = ()
    initial_delay_seconds: Optional[int] = None
    timeout_seconds: Optional[int] = None
    period_seconds: Optional[int] = None
    success_threshold: Optional[int] = None
    failure_threshold: Optional[int] = None


@dataclass(frozen=True)
class Resources:
    """Kubernetes-style quantities, e.g. ``requests={"cpu": "100m"}``."""

    requests: Dict[str, str] = field(default_factory=dict)
    limits: Dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TlsCertificate:
    """A TLS certificate for an endpoint. ``cert`` and ``key`` are base64 PEM, always secret.

    ``automatic`` certificates (``cert: automatic, key: automatic``) are generated at apply time.
    """

    name: str
    cert: str
    key: str

    @property
    def automatic(self) -> bool:
        return self.cert == "automatic" and self.key == "automatic"


@dataclass(frozen=True)
class Ingress:
    """An endpoint's HTTP route from outside: class, hosts, and the fan-out extension of this collection.

    ``path``: the path prefix under which the endpoint is served (default ``/``); ``group``: endpoints of a
    deploy task with the same group share one host or static address (one Ingress, HTTPRoutes on one
    Gateway, or Routes on one host); ``address``: the static address of that group, reserved through
    the platform's own field.
    """

    class_name: Optional[str] = None
    hosts: Tuple[str, ...] = ()
    path: Optional[str] = None
    group: Optional[str] = None
    address: Optional[str] = None


@dataclass(frozen=True)
class Endpoint:
    """A way into a service: a Service of its own, optionally behind an Ingress.

    ``type`` is None, ``ingress``, ``NodePort``, ``internal`` or anything else (LoadBalancer), as in
    ContinuousPipe (docs/behaviour.md §9.7). ``cloud_flare_zone`` and ``httplabs`` are kept as
    data to report (values that came from secret variables masked); the collection does not call
    those vendors.
    """

    name: str
    type: Optional[str] = None
    annotations: Dict[str, str] = field(default_factory=dict)
    ingress: Optional[Ingress] = None
    ssl_certificates: Tuple[TlsCertificate, ...] = ()
    cloud_flare_zone: Optional[Dict[str, Any]] = None
    httplabs: Optional[Dict[str, Any]] = None


@dataclass(frozen=True)
class Strategy:
    """How a service's objects are rolled out (``deployment_strategy``)."""

    locked: bool = False
    attached: bool = False
    reset: bool = False
    readiness_probe: Optional[Probe] = None
    liveness_probe: Optional[Probe] = None


@dataclass(frozen=True)
class Service:
    """A ContinuousPipe service of a deploy task: one container, usually one Deployment.

    ``name`` is the key in ``services``; ``identifier`` its slug (the Kubernetes name and the
    ``component-identifier`` label). ``pod`` names another service of the same task whose pod this
    container joins (multi-container pods, an extension of this collection).
    """

    name: str
    identifier: str
    image: Optional[str] = None
    command: Optional[Tuple[str, ...]] = None
    environment: Tuple[EnvVar, ...] = ()
    ports: Tuple[Port, ...] = ()
    volumes: Tuple[Volume, ...] = ()
    volume_mounts: Tuple[VolumeMount, ...] = ()
    resources: Optional[Resources] = None
    privileged: Optional[bool] = None
    from_cluster: bool = True
    from_external: bool = False
    scalable: bool = True
    replicas: Optional[int] = None
    endpoints: Tuple[Endpoint, ...] = ()
    strategy: Strategy = Strategy()
    reverse_proxy_domains: Tuple[str, ...] = ()
    pod: Optional[str] = None


# --------------------------------------------------------------------------------------------------
# Tasks and pipelines


@dataclass(frozen=True)
class Task:
    """Common part of every task. ``filter`` is an expression evaluated when the task is reached."""

    identifier: str
    filter: Optional[str] = None

    @property
    def type(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class DeployTask(Task):
    """Deploy services into one environment (namespace) of one cluster.

    ``environment_name`` is the ``environment.name`` expression (None: ContinuousPipe's default,
    ``<flow uuid>-<branch>``), evaluated by ``translate.environment_name``.
    """

    cluster: str = ""
    environment_name: Optional[str] = None
    services: Tuple[Service, ...] = ()

    @property
    def type(self) -> str:
        return "deploy"

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name or service.identifier == name:
                return service
        raise KeyError(name)


@dataclass(frozen=True)
class RunTask(Task):
    """Run commands once in a pod of the environment (``sh -cex "cmd1; cmd2"``)."""

    cluster: str = ""
    environment_name: Optional[str] = None
    image: str = ""
    commands: Tuple[str, ...] = ()
    environment: Tuple[EnvVar, ...] = ()
    volumes: Tuple[Volume, ...] = ()
    volume_mounts: Tuple[VolumeMount, ...] = ()

    @property
    def type(self) -> str:
        return "run"


@dataclass(frozen=True)
class OtherTask(Task):
    """A task this collection does not execute itself (build, wait, manual_approval, web_hook, delete).

    The configuration is kept so that roles can act on it (e.g. ``delete``) or report it as skipped.
    """

    kind: str = ""
    configuration: Dict[str, Any] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return self.kind


@dataclass(frozen=True)
class Variable:
    """A resolved top-level or pipeline variable (its condition held)."""

    name: str
    value: str
    secret: bool = False
    as_environment_variable: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Pipeline:
    name: str
    tasks: Tuple[Task, ...] = ()
    variables: Tuple[Variable, ...] = ()

    def task(self, identifier: str) -> Task:
        for task in self.tasks:
            if task.identifier == identifier:
                return task
        raise KeyError(identifier)


@dataclass(frozen=True)
class Project:
    """Everything loaded for one release: the pipelines whose condition holds, in order."""

    release: Release
    pipelines: Tuple[Pipeline, ...] = ()
    files: Tuple[str, ...] = ()
    warnings: Tuple[str, ...] = ()
    #: secret values written in clear outside Secrets (allowed by ``secrets_in_plain_fields: warn``),
    #: longest first: rendered files mask them
    exposed_secrets: Tuple[str, ...] = field(default=(), repr=False, metadata={"secret": True})

    @property
    def deploy_tasks(self) -> Tuple[DeployTask, ...]:
        seen = []
        for pipeline in self.pipelines:
            for task in pipeline.tasks:
                if isinstance(task, DeployTask):
                    seen.append(task)
        return tuple(seen)


def to_dict(obj) -> Any:
    """A JSON-friendly rendering of any model object (secret env values masked)."""
    if isinstance(obj, (EnvVar, Variable)) and obj.secret:
        masked = dataclasses.asdict(obj)
        masked["value"] = "********"
        return masked
    if isinstance(obj, TlsCertificate):
        return {"name": obj.name, "cert": "********", "key": "********", "automatic": obj.automatic}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {"type": obj.type} if isinstance(obj, Task) else {}
        for f in dataclasses.fields(obj):
            if not f.metadata.get("secret"):
                out[f.name] = to_dict(getattr(obj, f.name))
        return out
    if isinstance(obj, (list, tuple)):
        return [to_dict(item) for item in obj]
    if isinstance(obj, dict):
        return {key: to_dict(value) for key, value in obj.items()}
    return obj
