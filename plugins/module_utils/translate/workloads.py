# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pods, containers and workloads (docs/behaviour.md §9.5, §10.3).

* A scalable service becomes an ``apps/v1`` Deployment named after its identifier, selector
  exactly ``{component-identifier: <id>}`` (so Deployments created by ContinuousPipe can be taken
  over: selectors are immutable), ``replicas`` omitted when unset (live scaling survives
  server-side apply, like ContinuousPipe's merge-patch), strategy RollingUpdate ``maxSurge: 1``,
  ``maxUnavailable: 0`` — or 1 when the pod has any volume (``DeploymentFactory::getDeploymentStrategy``).
* ``scalable: false`` ⇒ a bare Pod with ``restartPolicy: Never`` (``PodTransformer``).
* Container fields as in ``PodTransformer::createContainer``: image, ``imagePullPolicy: Always``,
  command, env, ports, volumeMounts, resources (unset values omitted), probes, and
  ``securityContext.privileged`` only when set.
* On OpenShift (``Platform.restricted_pods``) pods run under the restricted-v2 security context
  constraints: the pod ``runAsNonRoot`` with the ``RuntimeDefault`` seccomp profile, each container
  without privilege escalation and with every capability dropped, no user id (the namespace's range
  assigns an arbitrary one); ``privileged: true`` is an error naming its key.

Multi-container pods (an extension of this collection): a service whose ``pod`` names another
service is an extra container of that service's pod (container name = its identifier). It has no
workload of its own; its volumes join the pod's and its ports are exposed by the pod's Services.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError, format_path
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate import labels, validation
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.plans import Context, ObjectRef

DEFAULT_WAIT_TIMEOUT = 1800  # pipe.wait_component_timeout
WAIT_MARGIN = 60


@dataclass(frozen=True)
class PodGroup:
    """One pod: the service owning it (``host``) and its containers' services, host first."""

    host: model.Service
    members: Tuple[model.Service, ...]

    @property
    def identifier(self) -> str:
        return self.host.identifier

    @property
    def kind(self) -> str:
        return "Deployment" if self.host.scalable else "Pod"

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.kind, self.host.identifier)


# --------------------------------------------------------------------------------------------------
# Grouping services into pods


def group_pods(ctx: Context) -> List[PodGroup]:
    """Group the task's services into pods, in declaration order of the pods' owners.

    Checks: identifiers are valid and distinct (they name containers, workloads and Services);
    ``pod`` names another service of the task that is not itself in another's pod; a service in
    another's pod declares no endpoint, reverse proxy or replica count of its own.
    """
    by_key: Dict[str, model.Service] = {}
    owners: Dict[str, model.Service] = {}
    for service in ctx.task.services:
        path = ctx.service_path(service)
        validation.dns_label(service.identifier, path, "service identifier")
        if service.identifier in owners:
            raise DefinitionError(
                "service %r has the identifier %r, like service %r" % (
                    service.name, service.identifier, owners[service.identifier].name), path,
                expected="service names that stay distinct once slugified (they name containers and objects)")
        owners[service.identifier] = service
        by_key.setdefault(service.name, service)
        by_key.setdefault(service.identifier, service)

    hosts: List[model.Service] = []
    extras: Dict[str, List[model.Service]] = {}
    for service in ctx.task.services:
        if not service.pod:
            hosts.append(service)
            extras.setdefault(service.identifier, [])
            continue
        path = ctx.service_path(service) + ("pod",)
        host = by_key.get(service.pod)
        if host is None:
            raise DefinitionError("pod %r is not a service of this deploy task" % (service.pod,), path,
                                  expected="the name of another service of the task")
        if host is service:
            raise DefinitionError("a service cannot join its own pod", path, expected="the name of another service")
        if host.pod:
            raise DefinitionError(
                "pod %r is itself a container of %r's pod" % (service.pod, host.pod), path,
                expected="the name of a service that owns its pod")
        _check_extra_container(ctx, service)
        extras.setdefault(host.identifier, []).append(service)

    return [PodGroup(host, (host,) + tuple(extras.get(host.identifier, ()))) for host in hosts]


def _check_extra_container(ctx: Context, service: model.Service) -> None:
    path = ctx.service_path(service)
    if service.endpoints:
        raise DefinitionError(
            "service %r runs in the pod of %r: declare its endpoints on %r" % (service.name, service.pod, service.pod),
            path + ("endpoints",), expected="no endpoints on a service that joins another's pod")
    if service.reverse_proxy_domains:
        raise DefinitionError(
            "service %r runs in the pod of %r: declare reverse_proxy on %r" % (service.name, service.pod, service.pod),
            path + ("extensions", "reverse_proxy"), expected="no reverse_proxy on a service that joins another's pod")
    if service.replicas is not None:
        raise DefinitionError(
            "service %r runs in the pod of %r, which sets the number of replicas" % (service.name, service.pod),
            path + ("specification", "scalability", "number_of_replicas"),
            expected="no number_of_replicas on a service that joins another's pod")


def pod_ports(ctx: Context, group: PodGroup) -> List[Tuple[model.Service, model.Port]]:
    """All ports of a pod's containers, checked: names and (port, protocol) unique in the pod."""
    names: Dict[str, tuple] = {}
    numbers: Dict[Tuple[int, str], tuple] = {}
    out = []
    for service in group.members:
        for index, port in enumerate(service.ports):
            path = ctx.service_path(service) + ("specification", "ports", index)
            validation.port_name(port.identifier, path + ("identifier",))
            number = validation.port_number(port.port, path + ("port",))
            protocol = validation.protocol(port.protocol, path + ("protocol",))
            if port.identifier in names:
                raise DefinitionError(
                    "port identifier %r is already used at %s" % (port.identifier, format_path(names[port.identifier])),
                    path + ("identifier",), expected="port identifiers unique within a pod")
            if (number, protocol) in numbers:
                first = format_path(numbers[(number, protocol)])
                raise DefinitionError("port %d/%s is already exposed at %s" % (number, protocol, first),
                                      path + ("port",), expected="each port number exposed by one container of a pod")
            names[port.identifier] = path
            numbers[(number, protocol)] = path
            out.append((service, model.Port(port.identifier, number, protocol)))
    return out


# --------------------------------------------------------------------------------------------------
# Containers


def probe(ctx: Context, service: model.Service, value: model.Probe, key: str) -> dict:
    """A readiness/liveness probe (``PodTransformer::createProbe``); unset fields omitted."""
    path = ctx.service_path(service) + ("deployment_strategy", key)
    out: dict = {}
    if value.type == "http":
        action = {}
        if value.path is not None:
            action["path"] = value.path
        action["port"] = validation.int_or_string_port(value.port, path + ("port",))
        if value.host is not None:
            action["host"] = value.host
        if value.scheme is not None:
            scheme = str(value.scheme).upper()
            if scheme not in ("HTTP", "HTTPS"):
                raise DefinitionError("unknown probe scheme %r" % (value.scheme,), path + ("scheme",),
                                      expected="HTTP or HTTPS")
            action["scheme"] = scheme
        out["httpGet"] = action
    elif value.type == "tcp":
        out["tcpSocket"] = {"port": validation.int_or_string_port(value.port, path + ("port",))}
    elif value.type == "exec":
        if not value.command:
            raise DefinitionError("an exec probe needs a command", path + ("command",), expected="a list of strings")
        out["exec"] = {"command": [str(part) for part in value.command]}
    else:
        raise DefinitionError("unknown probe type %r" % (value.type,), path + ("type",), expected="http, tcp or exec")
    for attribute, field in (("initial_delay_seconds", "initialDelaySeconds"), ("timeout_seconds", "timeoutSeconds"),
                             ("period_seconds", "periodSeconds"), ("success_threshold", "successThreshold"),
                             ("failure_threshold", "failureThreshold")):
        number = getattr(value, attribute)
        if number is not None:
            out[field] = validation.integer(number, path + (attribute,), attribute)
    return out


def resources(ctx: Context, service: model.Service) -> Optional[dict]:
    """``resources.requests/limits`` with unset values omitted; None when nothing is set."""
    if service.resources is None:
        return None
    path = ctx.service_path(service) + ("specification", "resources")
    out = {}
    for key in ("requests", "limits"):
        values = getattr(service.resources, key) or {}
        checked = {name: validation.quantity(values[name], path + (key, name), "%s.%s" % (key, name))
                   for name in sorted(values) if values[name] not in (None, "")}
        if checked:
            out[key] = checked
    return out or None


def image(ctx: Context, service: model.Service) -> str:
    if not service.image:
        raise DefinitionError("service %r has no image" % service.name,
                              ctx.service_path(service) + ("specification", "source", "image"),
                              expected="an image name, e.g. quay.io/acme/web:v1")
    return service.image


def container(ctx: Context, service: model.Service, env: List[dict], mounts: List[dict],
              ports: List[model.Port]) -> dict:
    """One container (§9.5 table); name = the service identifier; ``ports`` checked by ``pod_ports``."""
    out = {
        "name": service.identifier,
        "image": image(ctx, service),
        "imagePullPolicy": "Always",
    }
    if service.command:
        out["command"] = [str(part) for part in service.command]
    if env:
        out["env"] = env
    if ports:
        out["ports"] = [{"name": port.identifier, "containerPort": port.port, "protocol": port.protocol}
                        for port in ports]
    if mounts:
        out["volumeMounts"] = mounts
    limits = resources(ctx, service)
    if limits:
        out["resources"] = limits
    if service.strategy.readiness_probe is not None:
        out["readinessProbe"] = probe(ctx, service, service.strategy.readiness_probe, "readiness_probe")
    if service.strategy.liveness_probe is not None:
        out["livenessProbe"] = probe(ctx, service, service.strategy.liveness_probe, "liveness_probe")
    if ctx.options.platform.restricted_pods:
        if service.privileged:
            raise DefinitionError(
                "service %r asks for a privileged container, which pods under OpenShift's restricted-v2 security "
                "context constraints cannot run" % service.name,
                ctx.service_path(service) + ("specification", "runtime_policy", "privileged"),
                expected="privileged: false (or a cluster whose administrators grant a privileged SCC)")
        out["securityContext"] = restricted_container_security()
    elif service.privileged is not None:
        out["securityContext"] = {"privileged": bool(service.privileged)}
    return out


def restricted_container_security() -> dict:
    """A container securityContext that OpenShift's restricted-v2 SCC admits (arbitrary UID)."""
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def restricted_pod_security() -> dict:
    """A pod securityContext that OpenShift's restricted-v2 SCC admits: no user id of its own."""
    return {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


# --------------------------------------------------------------------------------------------------
# Workloads


def rolling_update(has_volumes: bool) -> dict:
    """``maxSurge: 1``; ``maxUnavailable`` 1 when the pod has any volume, else 0 (§9.5)."""
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1 if has_volumes else 0}}


def pod_spec(group: PodGroup, containers: List[dict], volumes: List[dict], restricted: bool = False) -> dict:
    spec = {
        "restartPolicy": "Always" if group.host.scalable else "Never",
        "dnsPolicy": "ClusterFirst",
    }
    if restricted:
        spec["securityContext"] = restricted_pod_security()
    spec["containers"] = containers
    if volumes:
        spec["volumes"] = volumes
    return spec


def workload(ctx: Context, group: PodGroup, spec: dict, checksum: Optional[str]) -> dict:
    """The Deployment (scalable) or bare Pod of a pod group."""
    identifier = group.identifier
    pod_labels = labels.of_service(ctx, identifier, labels.ROLE_WORKLOAD, labels.selector(identifier))
    annotations = {labels.CHECKSUM: checksum} if checksum else None
    if not group.host.scalable:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": labels.metadata(ctx, identifier, pod_labels, annotations),
            "spec": spec,
        }
    template_meta = {"labels": dict(pod_labels)}
    if annotations:
        template_meta["annotations"] = annotations
    deployment_spec = {}
    if group.host.replicas is not None:
        deployment_spec["replicas"] = validation.integer(
            group.host.replicas, ctx.service_path(group.host) + ("specification", "scalability", "number_of_replicas"),
            "number_of_replicas")
    deployment_spec["selector"] = {"matchLabels": labels.selector(identifier)}
    deployment_spec["strategy"] = rolling_update(bool(spec.get("volumes")))
    deployment_spec["template"] = {"metadata": template_meta, "spec": spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": labels.metadata(ctx, identifier, pod_labels),
        "spec": deployment_spec,
    }


def container_wait_timeout(service: model.Service) -> int:
    """§10.3: ``60 + initial_delay + period × failure_threshold`` if the readiness probe sets all three."""
    readiness = service.strategy.readiness_probe
    if readiness is None:
        return DEFAULT_WAIT_TIMEOUT
    values = (readiness.initial_delay_seconds, readiness.period_seconds, readiness.failure_threshold)
    if any(value is None for value in values):
        return DEFAULT_WAIT_TIMEOUT
    initial, period, failures = (validation.integer(value, (), "probe field") for value in values)
    return WAIT_MARGIN + initial + period * failures


def wait_timeout(group: PodGroup) -> int:
    """The rollout timeout of a pod: the max over its containers (§10.3)."""
    return max(container_wait_timeout(service) for service in group.members)
