# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entry point of the translate stage: one deploy task → the ordered manifests of its environment.

    files ──load──▶ model ──translate (here)──▶ manifests + plans ──apply──▶ cluster

Pure functions: no I/O, no clock, no randomness, no Kubernetes client. Same input ⇒ byte-identical
manifests. The rules live one concern per module:

* ``labels``     — labels, annotations, metadata (docs/behaviour.md §8.2)
* ``variables``  — deploy-time ``${SERVICE_*_PUBLIC_ENDPOINT}`` / ``${__TASK_*}`` in env values (§6.5)
* ``secrets``    — secret env vars, TLS Secrets, the pod checksum (§9.8)
* ``volumes``    — pod volumes, mounts, PersistentVolumeClaims (§9.4)
* ``workloads``  — containers, probes, Deployments / bare Pods, multi-container pods (§9.5, §10.3)
* ``services``   — default Service and endpoints: their Services (§9.6, §9.7)
* ``routes``     — endpoints reached over HTTP, for the platform: Ingress, HTTPRoute or Route; fan-out
* ``plans``      — options, result and plan types (and the ``Platform``)

Objects are sorted by ``kinds.order`` (the registry every stage reads), declaration order within a kind.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import expressions, kinds, model, naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate import (
    labels,
    routes,
    secrets,
    services,
    validation,
    variables,
    volumes,
    workloads,
)
# Re-exported: the entry point's types live in plans.py so that every rule module can use them.
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.plans import (  # noqa: F401
    ComponentPlan,
    Context,
    EndpointPlan,
    OPENSHIFT,
    GatewayRef,
    ObjectRef,
    Platform,
    RenderedEnvironment,
    TranslateOptions,
)

__all__ = [
    "ComponentPlan",
    "EndpointPlan",
    "GatewayRef",
    "ObjectRef",
    "Platform",
    "RenderedEnvironment",
    "TranslateOptions",
    "environment_name",
    "expression_context",
    "project_environment_name",
    "translate_environment",
]


# --------------------------------------------------------------------------------------------------
# Environment name (§8.1)


def expression_context(release: model.Release, tasks_context: Optional[dict] = None) -> dict:
    """Context C3 of §6.6, for ``environment.name``: code_reference, flow, pull_request, tasks.

    ``tasks_context`` maps task identifiers to what they expose (``expressions.deploy_task_context``);
    an unknown identifier raises ``Task "x" does not exist``, as in ContinuousPipe.
    """
    reference = release.code_reference
    pull_request = reference.pull_request
    return expressions.tide_context(
        release.flow_uuid, reference.branch, reference.sha,
        pull_request={"number": pull_request.number, "title": pull_request.title,
                      "labels": list(pull_request.labels)},
        tasks=dict(tasks_context or {}))


def environment_name(task: Union[model.DeployTask, model.RunTask], release: model.Release,
                     tasks_context: Optional[dict] = None, policy_prefix: Optional[str] = None) -> str:
    """The namespace of a deploy or run task (§8.1).

    ``LimitedLength(Slugify(DefaultExpression(ExpressionResolver(environment.name))))``: the
    ``environment.name`` expression is evaluated with context C3 (no functions); when unset the
    default ``'<flow uuid>-' ~ branch`` is used (``'<prefix><md5(flow)[:5]>-' ~ branch`` with an
    ``environment`` cluster policy prefix, ``policy_prefix``, appendix B — the final name must
    then start with it). The result is slugified, shortened to 63 characters with an md5 suffix,
    and must be a DNS-1123 label. ``tasks_context`` is what earlier tasks expose as ``tasks.<id>``.
    """
    path = ("tasks", task.identifier, task.type, "environment", "name")
    evaluated = None
    if task.environment_name is not None:
        try:
            evaluated = expressions.evaluate(task.environment_name, expression_context(release, tasks_context))
        except expressions.ExpressionError as error:
            raise DefinitionError(
                "cannot evaluate the environment name %r: %s" % (task.environment_name, error), path,
                expected="an expression returning a string, e.g. '\"app-\" ~ code_reference.branch'")
        if not isinstance(evaluated, str):
            raise DefinitionError(
                "the environment name expression %r returned %r, not a string" % (task.environment_name, evaluated),
                path, expected="an expression returning a string")
    name = naming.environment_name(release.flow_uuid, release.branch, evaluated, policy_prefix)
    if policy_prefix and not name.startswith(policy_prefix):
        raise DefinitionError("Cluster policy enforces that environment name should be prefixed by %s" % policy_prefix,
                              path, expected="a name starting with %r" % policy_prefix)
    return validation.dns_label(name, path, "environment name")


def project_environment_name(project: model.Project, task: Optional[str] = None) -> str:
    """The environment of a task of the project, named the way deploy names it (§8.1).

    Without ``task``: the environment every deploy task shares (the default ``<flow>-<branch>``
    when there is no deploy task); an error when they deploy to different environments.
    """
    candidates = [t for pipeline in project.pipelines for t in pipeline.tasks
                  if isinstance(t, (model.DeployTask, model.RunTask))]
    if task:
        for candidate in candidates:
            if candidate.identifier == task:
                return environment_name(candidate, project.release)
        raise DefinitionError(
            "no deploy or run task %r in the pipelines for branch %r (they have: %s)" % (
                task, project.release.branch, ", ".join(sorted({t.identifier for t in candidates})) or "none"),
            path=("tasks",))
    names = {}
    for candidate in candidates:
        if isinstance(candidate, model.DeployTask):
            names.setdefault(environment_name(candidate, project.release), []).append(candidate.identifier)
    if not names:
        return naming.environment_name(project.release.flow_uuid, project.release.branch)
    if len(names) > 1:
        raise DefinitionError(
            "the deploy tasks deploy to several environments (%s): name the task" % "; ".join(
                "%s: %s" % (name, ", ".join(tasks)) for name, tasks in sorted(names.items())), path=("tasks",))
    return next(iter(names))


# --------------------------------------------------------------------------------------------------
# Translation


def _namespace(ctx: Context) -> dict:
    """The Namespace, with ContinuousPipe's labels (§9.1) and ours.

    On OpenShift a deployer with a project's admin rights may neither create nor label Namespaces: the
    environment is a Project (requested through project.openshift.io, ``cluster/projects.py``) and the
    labels that say whose environment it is go on a ConfigMap ``continuouspipe-environment`` in it, the
    environment's record (``kinds.ENVIRONMENT_RECORD``), which stands for the Namespace everywhere.
    """
    if ctx.options.platform.name == OPENSHIFT:
        record_labels = labels.namespace_labels(ctx)
        record_labels[labels.COMPONENT] = labels.ROLE_ENVIRONMENT
        return {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": kinds.ENVIRONMENT_RECORD, "namespace": ctx.namespace, "labels": record_labels},
                "data": {"environment": ctx.namespace, "flow": ctx.release.flow_uuid}}
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ctx.namespace, "labels": labels.namespace_labels(ctx)}}


def _check_unique(ctx: Context, objects: List[dict]) -> None:
    """Two objects of one kind with one name would overwrite each other: name both places."""
    seen: Dict[tuple, dict] = {}
    for obj in objects:
        key = (obj["kind"], obj["metadata"]["name"])
        if key in seen:
            first, second = seen[key], obj
            raise DefinitionError(
                "two objects would be named %s %r (for services %r and %r)" % (
                    key[0], key[1], first["metadata"].get("labels", {}).get(labels.SERVICE),
                    second["metadata"].get("labels", {}).get(labels.SERVICE)),
                ("tasks", ctx.task.identifier, "deploy", "services"),
                expected="distinct endpoint, volume and service names within an environment")
        seen[key] = obj


def _ref(obj: dict) -> ObjectRef:
    return ObjectRef(obj["kind"], obj["metadata"]["name"])


@dataclass
class _Pod:
    """Everything rendered for one pod group, before the objects are sorted by kind."""

    env_secrets: List[dict] = field(default_factory=list)
    endpoint_parts: List[services.Rendered] = field(default_factory=list)
    workload: Optional[dict] = None


def _render_pod(ctx: Context, group: workloads.PodGroup) -> _Pod:
    """Containers (with their env Secrets), endpoints and default Service, workload of one pod."""
    out = _Pod()
    checked_ports = workloads.pod_ports(ctx, group)
    pod_ports = [port for _owner, port in checked_ports]
    pod_volumes = volumes.pod_volumes(ctx, list(group.members))
    volume_names = {volume["name"] for volume in pod_volumes}
    containers = []
    for service in group.members:
        env = variables.resolve_environment(service, ctx)
        secret = secrets.env_secret(ctx, service, env)
        if secret is not None:
            out.env_secrets.append(secret)
        containers.append(workloads.container(
            ctx, service, secrets.container_env(service, env), volumes.volume_mounts(ctx, service, volume_names),
            [port for owner, port in checked_ports if owner is service]))
    out.endpoint_parts = [services.render_endpoint(ctx, group, endpoint, index, pod_ports)
                          for index, endpoint in enumerate(group.host.endpoints)]
    out.endpoint_parts.append(services.default_service(ctx, group, pod_ports, bool(group.host.endpoints)))
    spec = workloads.pod_spec(group, containers, pod_volumes, ctx.options.platform.restricted_pods)
    out.workload = workloads.workload(ctx, group, spec,
                                      secrets.pod_checksum(out.env_secrets, ctx.options.checksum_key))
    return out


def _component_plans(group: workloads.PodGroup, pod: _Pod, claims_used: Dict[str, List[str]],
                     routed: routes.RoutedHttp, endpoint_plans: Dict[str, EndpointPlan]) -> List[ComponentPlan]:
    """One plan per service of the pod; services joining another's pod point at its workload."""
    strategy = group.host.strategy
    timeout = workloads.wait_timeout(group)
    plans = []
    for service in group.members:
        is_host = service is group.host
        refs = [_ref(secret) for secret in pod.env_secrets
                if secret["metadata"]["name"] == secrets.env_secret_name(service.identifier)]
        refs += [ObjectRef("PersistentVolumeClaim", name) for name in claims_used.get(service.identifier, [])]
        if is_host:
            refs += [_ref(obj) for part in pod.endpoint_parts for obj in part.secrets + part.services]
            refs += [_ref(obj) for obj in routed.secrets
                     if obj["metadata"]["labels"].get(labels.SERVICE) == service.identifier]
            refs += [_ref(obj) for obj in routed.objects
                     if service.identifier in routed.owners[(obj["kind"], obj["metadata"]["name"])]]
            refs.append(group.ref)
        refs.sort(key=lambda ref: kinds.of(ref.kind).order)
        plans.append(ComponentPlan(
            identifier=service.identifier,
            name=service.name,
            workload=group.ref,
            objects=tuple(refs),
            locked=bool(strategy.locked),
            reset=bool(strategy.reset),
            attached=bool(strategy.attached),
            wait=group.host.scalable,
            wait_timeout=timeout,
            public_endpoints=tuple(_slot(slot, endpoint_plans).name for part in pod.endpoint_parts
                                   for slot in part.slots) if is_host else (),
            pod=None if is_host else group.identifier,
            notes=tuple([note for part in pod.endpoint_parts for note in part.notes]
                        + routed.notes.get(service.identifier, [])) if is_host else (),
        ))
    return plans


def _slot(slot, endpoint_plans: Dict[str, EndpointPlan]) -> EndpointPlan:
    return endpoint_plans[slot] if isinstance(slot, str) else slot


def translate_environment(task: model.DeployTask, release: model.Release,
                          options: Optional[TranslateOptions] = None) -> RenderedEnvironment:
    """Render a deploy task's objects in apply order, with the component and endpoint plans.

    Order (``kinds.order``): Namespace, Secrets (checksum key, env, then TLS), PersistentVolumeClaims,
    Roles, Services, the platform's routing objects (Ingresses; Gateways and HTTPRoutes; Routes),
    Deployments, bare Pods; within a kind, services and endpoints in declaration order.
    """
    options = options or TranslateOptions()
    namespace = options.namespace or environment_name(task, release)
    validation.dns_label(namespace, ("namespace",), "namespace")
    ctx = Context(task=task, release=release, namespace=namespace, options=options)

    groups = workloads.group_pods(ctx)
    claims, claims_used = volumes.claims(ctx, [service for group in groups for service in group.members])
    pods = [_render_pod(ctx, group) for group in groups]
    parts = [part for pod in pods for part in pod.endpoint_parts]
    routed = routes.render(ctx, [entry for part in parts for entry in part.http])
    workload_objects = [pod.workload for pod in pods]

    objects = [_namespace(ctx)]
    if any(pod.env_secrets for pod in pods):
        objects.append(secrets.checksum_key_secret(ctx))
    objects += [secret for pod in pods for secret in pod.env_secrets]
    objects += [secret for part in parts for secret in part.secrets]
    objects += routed.secrets
    objects += claims
    objects += [service for part in parts for service in part.services]
    objects += routed.objects
    objects += workload_objects
    objects.sort(key=kinds.order)  # stable: declaration order within a kind
    _check_unique(ctx, objects)
    # A JSON round trip drops shared references (no YAML anchors) and proves the output is plain data.
    objects = json.loads(json.dumps(objects))

    endpoint_plans = routed.endpoints
    components = {plan.identifier: plan
                  for group, pod in zip(groups, pods)
                  for plan in _component_plans(group, pod, claims_used, routed, endpoint_plans)}
    # Plans in declaration order of the services.
    components = {service.identifier: components[service.identifier] for service in task.services}
    return RenderedEnvironment(namespace=namespace, objects=objects, components=components,
                               public_endpoints=[_slot(slot, endpoint_plans) for part in parts for slot in part.slots],
                               platform=options.platform)
