# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Environments: the namespaces deploy tasks deploy into (docs/behaviour.md §9.1, §10.7).

* :func:`ensure_present` creates a namespace with ContinuousPipe's labels
  (``continuous-pipe-environment``, ``created-by: continuous-pipe``, ``flow``) and ours
  (``app.kubernetes.io/managed-by``, ``continuouspipe.io/environment``). An existing namespace is
  reused; labels it lacks are added with a merge patch (never removed, ContinuousPipe's own labels
  never changed), so a second run sends no request but the GET.
* :func:`delete` deletes a namespace this collection or ContinuousPipe manages and waits until it
  is gone. Already terminating (HTTP 409, or ``deletionTimestamp`` set) and already gone (HTTP 404)
  are not errors. A namespace without those labels is refused unless forced; the system
  namespaces always are.
* :func:`describe` is what ``environment_info`` returns for one namespace: its services
  (workloads and their readiness), endpoints (addresses, hosts, internal DNS names), release
  history, and the drift between live objects and each task's current release.

Secret values never leave this module: Secrets are compared, not returned.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import kinds, naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import endpoints as endpoint_rules
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import lock as lock_mod
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import (
    ownership,
    plan,
    projects,
    release,
    rollout,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError, ContinuousPipeError
# the environment a project's tasks share is named by the translate stage; re-exported for the modules
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.environment import (  # noqa: F401 pylint: disable=unused-import
    project_environment_name,
)

MANAGER = plan.MANAGED_BY
MANAGED_BY_LABEL = plan.MANAGED_BY_LABEL
ENVIRONMENT_LABEL = "continuouspipe.io/environment"
TASK_LABEL = plan.TASK_LABEL
SERVICE_LABEL = plan.SERVICE_LABEL
COMPONENT_LABEL = naming.COMPONENT_LABEL
# ContinuousPipe's namespace labels (§8.2): set when it created the namespace, never changed.
CP_ENVIRONMENT_LABEL = naming.ENVIRONMENT_LABEL
CP_CREATED_BY_LABEL = naming.CREATED_BY_LABEL
CP_CREATED_BY = naming.CREATED_BY_VALUE
CP_FLOW_LABEL = naming.FLOW_LABEL
CP_LABELS = (CP_ENVIRONMENT_LABEL, CP_CREATED_BY_LABEL, CP_FLOW_LABEL)
MANAGED_BY_CONTINUOUSPIPE = "continuouspipe"
FORCE_HINT = "set force: true to make it this project's deliberately"
# The API server refuses to delete some of these; none of them is ever an environment.
PROTECTED_NAMESPACES = frozenset(("default", "kube-system", "kube-public", "kube-node-lease"))


def _meta(obj: Optional[dict]) -> dict:
    return (obj or {}).get("metadata") or {}


def _labels(obj: Optional[dict]) -> Dict[str, str]:
    return dict(_meta(obj).get("labels") or {})


def _namespace_resource(cluster):
    return cluster.resource("v1", "Namespace")


# --------------------------------------------------------------------------------------------------
# labels and ownership


def namespace_labels(name: str, flow_uuid: Optional[str] = None) -> Dict[str, str]:
    """The labels of an environment: ContinuousPipe's (``flow`` only when the flow is known) + ours."""
    if flow_uuid:
        labels = naming.environment_labels(name, flow_uuid)
    else:
        labels = {CP_ENVIRONMENT_LABEL: naming.check_label_value(name, "label %s" % CP_ENVIRONMENT_LABEL),
                  CP_CREATED_BY_LABEL: CP_CREATED_BY}
    labels[MANAGED_BY_LABEL] = MANAGER
    labels[ENVIRONMENT_LABEL] = name
    return labels


def manager_of(namespace: Optional[dict]) -> Optional[str]:
    """``continuouspipe.kubernetes`` (written by this collection, per managedFields), ``continuouspipe``
    (labelled as created by ContinuousPipe) or None."""
    labels = _labels(namespace)
    if ownership.owner_of(namespace).managed:
        return MANAGER
    if labels.get(CP_CREATED_BY_LABEL) == CP_CREATED_BY or CP_ENVIRONMENT_LABEL in labels:
        return MANAGED_BY_CONTINUOUSPIPE
    return None


def is_terminating(namespace: Optional[dict]) -> bool:
    return bool(_meta(namespace).get("deletionTimestamp")) or (
        ((namespace or {}).get("status") or {}).get("phase") == "Terminating")


def namespace_summary(namespace: Optional[dict]) -> dict:
    """What a module returns about a namespace (no secrets in there)."""
    if not namespace:
        return {}
    meta = _meta(namespace)
    return {
        "name": meta.get("name"),
        "labels": dict(meta.get("labels") or {}),
        "phase": ((namespace.get("status") or {}).get("phase")) or "Active",
        "created": meta.get("creationTimestamp"),
        "managed_by": manager_of(namespace),
        "project": ownership.owner_of(namespace).project,
        "uid": meta.get("uid"),
    }


def _diff_view(namespace: Optional[dict]) -> dict:
    if not namespace:
        return {}
    meta = _meta(namespace)
    return {"name": meta.get("name"), "labels": dict(sorted((meta.get("labels") or {}).items()))}


@dataclass
class Outcome:
    """What happened to a namespace: ``action`` is created, updated, unchanged, deleted,
    terminating (someone else's deletion was in progress) or absent."""

    name: str
    action: str
    changed: bool
    before: Optional[dict] = None
    after: Optional[dict] = None
    waited: float = 0.0
    warnings: List[str] = field(default_factory=list)

    def diff(self) -> dict:
        return {"before": _diff_view(self.before), "after": _diff_view(self.after),
                "before_header": "namespace %s" % self.name, "after_header": "namespace %s" % self.name}


# --------------------------------------------------------------------------------------------------
# state: present


def ensure_present(cluster, name: str, labels: Dict[str, str], check_mode: bool = False, force: bool = False,
                   wait: bool = True, wait_timeout: float = 300, project: Optional[str] = None) -> Outcome:
    """Create the namespace as ``project``'s, or add the labels it lacks.

    A namespace being deleted is waited for (with ``wait``) and created again. An existing namespace
    must be the project's (``ownership.check_namespace``), or at least written by this collection when
    no project is given; ``force`` takes it over (recorded as adopted: a teardown then deletes only
    what the collection wrote in it).
    """
    resource = _namespace_resource(cluster)
    labels = dict(labels)
    if project:
        labels[ownership.PROJECT_LABEL] = project
    live = cluster.get(resource, name)
    waited = 0.0
    if live is not None and is_terminating(live):
        if not wait:
            raise ClusterError("namespace %s is being deleted; it cannot be used until the deletion is over "
                               "(set wait: true to wait for it and create it again)" % name, status=409)
        if check_mode:
            # a dry-run create would only meet the namespace still there
            return Outcome(name, "created", True, None, {"metadata": {"name": name, "labels": dict(labels)}})
        waited = wait_until_gone(cluster, name, wait_timeout)
        live = None
    dry_run = "All" if check_mode else None
    if live is None:
        body = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": dict(labels),
                             "annotations": {ownership.ORIGIN_ANNOTATION: ownership.CREATED}}}
        try:
            created = cluster.request("POST", resource.collection_path(),
                                      query={"fieldManager": plan.FIELD_MANAGER, "dryRun": dry_run}, body=body)
        except ClusterError as error:
            if error.status != 409 or check_mode:
                raise
            # created by someone else between our GET and POST: fall through to the ownership check
            live = cluster.get(resource, name)
            if live is None:
                raise
        else:
            return Outcome(name, "created", True, None, created, waited)

    warnings = []
    annotations = {}
    if project:
        verdict = ownership.check_namespace(live, project, take_over=force, action="manage", hint=FORCE_HINT)
        if verdict.warning:
            warnings.append(verdict.warning)
        if verdict.state == "taken-over" and not ownership.namespace_origin(live):
            annotations[ownership.ORIGIN_ANNOTATION] = ownership.ADOPTED
    else:
        owner = ownership.owner_of(live)
        if not owner.managed and not force:
            raise ownership.OwnershipError("refusing to manage namespace %s: it is owned by %s; %s" % (
                name, ownership.namespace_owner_text(live, owner), FORCE_HINT))
        if not owner.managed:
            annotations[ownership.ORIGIN_ANNOTATION] = ownership.ADOPTED
    current = _labels(live)
    patch = {}
    for key, value in labels.items():
        have = current.get(key)
        if have == value and (key != ownership.PROJECT_LABEL or ownership.owns(live, ("metadata", "labels", key))):
            continue
        if key in CP_LABELS and have is not None:
            if have != value:
                warnings.append("namespace %s keeps its label %s=%s (this task would set %s): ContinuousPipe's "
                                "labels are never changed" % (name, key, have, value))
            continue
        patch[key] = value
    if not patch and not annotations:
        return Outcome(name, "unchanged", False, live, live, waited, warnings)
    body = {"metadata": {"labels": patch}}
    if annotations:
        body["metadata"]["annotations"] = annotations
    updated = cluster.request("PATCH", resource.path(name), query={"fieldManager": plan.FIELD_MANAGER, "dryRun": dry_run},
                              body=body, content_type="application/merge-patch+json")
    return Outcome(name, "updated", True, live, updated, waited, warnings)


# --------------------------------------------------------------------------------------------------
# state: absent


def check_deletable(namespace: dict, force: bool, project: Optional[str] = None, name: Optional[str] = None) -> str:
    """How a teardown may delete this namespace: ``namespace`` (all of it) or ``objects`` (only what
    ``project`` wrote in a namespace it adopted). Raises OwnershipError; system namespaces never.

    ``namespace`` may be the environment's record (an OpenShift project), ``name`` the namespace's."""
    name = name or _meta(namespace).get("name")
    if name in PROTECTED_NAMESPACES:
        raise ContinuousPipeError("namespace %s is a system namespace; it is never deleted" % name)
    if force:
        return "namespace"
    owner = ownership.owner_of(namespace)
    if owner.project and project and owner.project != project:
        raise ownership.OwnershipError(
            "refusing to delete namespace %s: it belongs to project %s, not to project %s. Set force: true to "
            "delete it anyway" % (name, owner.project, project))
    if owner.project and not project:
        raise ownership.OwnershipError(
            "refusing to delete namespace %s: it belongs to project %s; say which project this teardown is for "
            "(flow_uuid, or source_dir and branch), or set force: true" % (name, owner.project))
    if not owner.managed:
        labels = _labels(namespace)
        shown = ", ".join("%s=%s" % item for item in sorted(labels.items())) or "none"
        raise ownership.OwnershipError(
            "refusing to delete namespace %s: it is owned by %s (labels: %s). Set force: true to delete it anyway"
            % (name, ownership.namespace_owner_text(namespace, owner), shown))
    return "objects" if ownership.namespace_origin(namespace) == ownership.ADOPTED else "namespace"


def delete(cluster, name: str, force: bool = False, check_mode: bool = False, wait: bool = True,
           wait_timeout: float = 300, project: Optional[str] = None,
           lock_timeout: float = lock_mod.DEFAULT_TIMEOUT) -> Outcome:
    """Delete the environment, then wait until it is gone.

    A namespace this collection created is deleted with everything in it; in a namespace it adopted
    (``take_over``/``force`` on an existing one) only the objects the project wrote are. Either way
    the environment's lock is taken first: a teardown never runs in the middle of a deploy.
    """
    if name in PROTECTED_NAMESPACES:
        raise ContinuousPipeError("namespace %s is a system namespace; it is never deleted" % name)
    resource = _namespace_resource(cluster)
    live = cluster.get(resource, name)
    if live is None:
        return Outcome(name, "absent", False)
    project_record = False
    try:
        scope = check_deletable(live, force, project)
    except ownership.OwnershipError:
        # an OpenShift project: its record says whose environment it is, and how it came to be
        record = projects.live_record(cluster, name)
        if record is None or not ownership.owner_of(record).managed:
            raise
        scope = check_deletable(record, force, project, name=name)
        project_record = True
    if is_terminating(live):
        waited = wait_until_gone(cluster, name, wait_timeout) if wait and not check_mode else 0.0
        return Outcome(name, "terminating", False, live, None, waited)
    warnings = []
    held = lock_mod.NoLock()
    if not check_mode:
        held = lock_mod.EnvironmentLock(cluster, name, "teardown", project=project or "", timeout=lock_timeout,
                                        on_wait=warnings.append).acquire()
    try:
        if scope == "objects":
            deleted = delete_owned_objects(cluster, name, project, check_mode)
            warnings.append("namespace %s was adopted, not created, by this collection: only the objects project %s "
                            "wrote in it were deleted (%d); the namespace stays" % (name, project, len(deleted)))
            return Outcome(name, "deleted" if deleted else "unchanged", bool(deleted), live, live, 0.0, warnings)
        if project_record:
            action, changed = ("deleted", True) if projects.delete_project(cluster, name, check_mode) else ("absent", False)
        else:
            action, changed = _delete_namespace(cluster, live, check_mode)
    finally:
        if scope == "objects" or check_mode:
            held.release()
        else:
            held.abandon()  # deleted with the namespace
    waited = 0.0
    if wait and not check_mode and action != "absent":
        waited = wait_until_gone(cluster, name, wait_timeout, invisible_is_gone=project_record)
    return Outcome(name, action, changed, live, None, waited, warnings)


def _delete_namespace(cluster, live: dict, check_mode: bool):
    resource = _namespace_resource(cluster)
    name = _meta(live).get("name")
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
    uid = _meta(live).get("uid")
    if uid:
        # never delete a namespace of the same name created after our GET
        body["preconditions"] = {"uid": uid}
    if check_mode:
        # in the body: with a DeleteOptions body the API server ignores ?dryRun=All
        body["dryRun"] = ["All"]
    try:
        cluster.request("DELETE", resource.path(name), body=body)
    except ClusterError as error:
        if error.status == 404:
            return "absent", False
        if error.status != 409:
            raise
        current = cluster.get(resource, name)
        if current is None:
            return "absent", False
        if not is_terminating(current):
            raise
        return "terminating", False
    return "deleted", True


# Kinds a deploy writes on any platform, looked for when only a project's objects are deleted.
OWNED_KINDS = kinds.listed_kinds(None)


def delete_owned_objects(cluster, namespace: str, project: Optional[str], check_mode: bool = False) -> List[str]:
    """Delete what ``project`` wrote in the namespace (proven by managedFields); returns their refs.

    Kinds of other platforms are skipped when the cluster does not serve them."""
    deleted = []
    selector = "%s=%s" % (MANAGED_BY_LABEL, MANAGER)
    for api_version, kind in OWNED_KINDS:
        try:
            resource = cluster.resource(api_version, kind)
        except ClusterError as error:
            if error.status == 404 and (api_version, kind) not in plan.BASE_KINDS:
                continue
            raise
        for item in cluster.list(resource, namespace, label_selector=selector):
            owner = ownership.owner_of(item)
            if not (owner.project == project or (owner.legacy and project is None)) or _owned_by_controller(item):
                continue
            if cluster.delete(resource, _meta(item).get("name"), namespace, dry_run=check_mode,
                              uid=_meta(item).get("uid")):
                deleted.append("%s/%s" % (kind, _meta(item).get("name")))
    return deleted


def wait_until_gone(cluster, name: str, timeout: float, invisible_is_gone: bool = False) -> float:
    """Poll until the namespace no longer exists; returns the seconds waited.

    On timeout the error names what keeps it (the namespace controller's conditions: remaining
    content, finalizers, discovery failures). ``invisible_is_gone``: a namespace this identity may no
    longer see (an OpenShift project whose admin RoleBinding went with it) counts as gone.
    """
    resource = _namespace_resource(cluster)
    start = time.monotonic()
    delay = 0.2
    while True:
        try:
            live = cluster.get(resource, name)
        except ClusterError as error:
            if not (invisible_is_gone and error.status == 403):
                raise
            live = None
        if live is None:
            return round(time.monotonic() - start, 3)
        elapsed = time.monotonic() - start
        if elapsed >= timeout:
            raise ClusterError("namespace %s was still being deleted after %ds: %s"
                               % (name, int(timeout), _deletion_blockers(live)), status=0)
        time.sleep(min(delay, max(0.05, timeout - elapsed)))
        delay = min(delay * 1.5, 2.0)


def _deletion_blockers(namespace: dict) -> str:
    reasons = []
    for condition in (namespace.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("message"):
            reasons.append("%s: %s" % (condition.get("type"), condition["message"]))
    finalizers = (namespace.get("spec") or {}).get("finalizers") or []
    if finalizers and not reasons:
        reasons.append("finalizers %s" % ", ".join(finalizers))
    return "; ".join(reasons) or "no reason reported by the namespace controller"


# --------------------------------------------------------------------------------------------------
# listing


def list_environments(cluster, label_selectors=(), flow_uuid: Optional[str] = None) -> List[dict]:
    """Namespaces managed by this collection or created by ContinuousPipe, sorted by name.

    ``label_selectors`` (``key=value``, ``key!=value``, ``key``, ``!key``…) narrow the list, as
    ``flow_uuid`` does (label ``flow``).
    """
    extra = [selector.strip() for selector in label_selectors or () if selector and selector.strip()]
    if flow_uuid:
        extra.append("%s=%s" % (CP_FLOW_LABEL, flow_uuid))
    resource = _namespace_resource(cluster)
    found: Dict[str, dict] = {}
    for base in ("%s=%s" % (MANAGED_BY_LABEL, MANAGER), "%s=%s" % (CP_CREATED_BY_LABEL, CP_CREATED_BY)):
        for item in cluster.list(resource, label_selector=",".join([base] + extra)):
            found[_meta(item).get("name")] = item
    return [found[name] for name in sorted(found)]


# --------------------------------------------------------------------------------------------------
# describe: services


def _owned_by_controller(obj: dict) -> bool:
    return any(ref.get("controller") for ref in _meta(obj).get("ownerReferences") or [])


def _component(obj: dict) -> Optional[str]:
    labels = _labels(obj)
    return labels.get(SERVICE_LABEL) or labels.get(COMPONENT_LABEL)


def _condition(obj: dict, kind: str) -> Optional[dict]:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def _pod_problems(pods: List[dict]) -> List[str]:
    """Why containers are not running: CrashLoopBackOff, ImagePullBackOff, OOMKilled… (unique, sorted)."""
    found = set()
    for pod in pods:
        status = pod.get("status") or {}
        for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
            state = container.get("state") or {}
            waiting = state.get("waiting") or {}
            if waiting.get("reason") and waiting["reason"] not in ("ContainerCreating", "PodInitializing"):
                found.add(waiting["reason"])
            terminated = state.get("terminated") or {}
            if terminated.get("reason") and terminated.get("exitCode", 0) != 0:
                found.add(terminated["reason"])
        scheduled = _condition(pod, "PodScheduled")
        if scheduled and scheduled.get("status") == "False" and scheduled.get("reason"):
            found.add(scheduled["reason"])
    return sorted(found)


def _images(pod_spec: dict) -> List[str]:
    return [container.get("image") for container in (pod_spec or {}).get("containers") or []]


def _workload_service(obj: dict, kind: str, pod_spec: Optional[dict], *, desired: int, ready: int, available: int,
                      updated: int, state: str, pods: List[dict], phase: Optional[str] = None) -> dict:
    """The entry of one workload; ``pods`` are its own, for its problems."""
    meta = _meta(obj)
    entry = {
        "name": _component(obj) or meta.get("name"),
        "kind": kind,
        "object": meta.get("name"),
        "task": _labels(obj).get(TASK_LABEL),
        "images": _images(pod_spec),
        "desired": desired,
        "ready": ready,
        "available": available,
        "updated": updated,
        "state": state,
        "is_ready": state in ("ready", "scaled-down"),
    }
    if phase is not None:
        entry["phase"] = phase
    entry["problems"] = _pod_problems(pods)
    return entry


def _deployment_service(deployment: dict, pods: List[dict]) -> dict:
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    meta = _meta(deployment)
    desired = spec.get("replicas", 1)
    ready = status.get("readyReplicas", 0) or 0
    available = status.get("availableReplicas", 0) or 0
    updated = status.get("updatedReplicas", 0) or 0
    current = (status.get("observedGeneration") or 0) >= (meta.get("generation") or 0)
    progressing = _condition(deployment, "Progressing") or {}
    own_pods = [pod for pod in pods
                if rollout.selector_matches(spec.get("selector"), _labels(pod)) and not _meta(pod).get("deletionTimestamp")]
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        state = "failed"
    elif desired == 0:
        state = "scaled-down"
    elif current and updated >= desired and available >= desired and (status.get("replicas") or 0) <= desired:
        state = "ready"
    elif available > 0:
        state = "progressing"
    else:
        state = "unavailable"
    return _workload_service(deployment, "Deployment", (spec.get("template") or {}).get("spec"), desired=desired,
                             ready=ready, available=available, updated=updated, state=state, pods=own_pods)


def _statefulset_service(statefulset: dict, pods: List[dict]) -> dict:
    spec = statefulset.get("spec") or {}
    status = statefulset.get("status") or {}
    desired = spec.get("replicas", 1)
    ready = status.get("readyReplicas", 0) or 0
    available = status.get("availableReplicas", ready) or 0
    own_pods = [pod for pod in pods if rollout.selector_matches(spec.get("selector"), _labels(pod))]
    state = "scaled-down" if desired == 0 else ("ready" if ready >= desired and available >= desired else
                                                ("progressing" if ready else "unavailable"))
    return _workload_service(statefulset, "StatefulSet", (spec.get("template") or {}).get("spec"), desired=desired,
                             ready=ready, available=available, updated=status.get("updatedReplicas", 0) or 0,
                             state=state, pods=own_pods)


def _pod_service(pod: dict) -> dict:
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    ready = 1 if (_condition(pod, "Ready") or {}).get("status") == "True" else 0
    return _workload_service(pod, "Pod", pod.get("spec"), desired=1, ready=ready, available=ready, updated=1,
                             state=phase.lower() if not ready else "ready", pods=[pod], phase=phase)


def services(cluster, namespace: str) -> List[dict]:
    """One entry per workload of the environment: Deployments, StatefulSets and bare Pods."""
    pods = cluster.list(cluster.resource("v1", "Pod"), namespace)
    out = [_deployment_service(item, pods)
           for item in cluster.list(cluster.resource("apps/v1", "Deployment"), namespace)]
    out += [_statefulset_service(item, pods)
            for item in cluster.list(cluster.resource("apps/v1", "StatefulSet"), namespace)]
    out += [_pod_service(pod) for pod in pods if not _owned_by_controller(pod)]
    return sorted(out, key=lambda entry: (entry["name"] or "", entry["kind"], entry["object"] or ""))


# --------------------------------------------------------------------------------------------------
# describe: endpoints


def endpoints(cluster, namespace: str) -> List[dict]:
    """Every Service and routing object of the environment (``cluster/endpoints.py`` reads them)."""
    return endpoint_rules.describe(cluster, namespace)


# --------------------------------------------------------------------------------------------------
# describe: releases


def _field(record, key, default=None):
    if isinstance(record, dict):
        return record.get(key, default)
    return getattr(record, key, default)


def release_summary(record) -> dict:
    """A release without its objects (they hold Secret data)."""
    if hasattr(record, "to_dict"):
        return record.to_dict()
    return {key: value for key, value in dict(record).items() if key not in ("objects", "summary")}


def releases(cluster, namespace: str) -> list:
    """Every release recorded in the namespace (all tasks), newest first, with their objects.

    One LIST of the release Secrets, decoded by ``release.releases_in``.
    """
    selector = "%s=%s,%s" % (MANAGED_BY_LABEL, MANAGER, release.RELEASE_OF_LABEL)
    secrets = cluster.list(cluster.resource("v1", "Secret"), namespace, label_selector=selector)
    records = release.releases_in(secrets, None, with_objects=True)
    return sorted(records, key=lambda r: (str(_field(r, "time") or ""), _field(r, "number") or 0), reverse=True)


def current_releases(records: List[dict]) -> Dict[str, dict]:
    """The release each task currently runs: its newest ``deployed`` release."""
    out: Dict[str, dict] = {}
    for record in records:  # newest first
        task = _field(record, "task")
        if task not in out and _field(record, "status") == release.DEPLOYED:
            out[task] = record
    return out


# --------------------------------------------------------------------------------------------------
# describe: drift


IGNORED_METADATA = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink",
                    "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers")


def compare(recorded: dict, live: dict) -> List[dict]:
    """Where ``live`` no longer holds what the release recorded: ``{path, expected, actual}`` each,
    with whole values (plan's comparison: what plan would apply again).

    For a Secret only the key names are given (``data.PASSWORD``), never a value. A Deployment's pod
    template fields set by other field managers (``kubectl set env``) are drift too: ``expected``
    is null and ``manager`` names who set them.
    """
    recorded = dict(recorded)
    recorded.pop("status", None)
    meta = dict(recorded.get("metadata") or {})
    for key in IGNORED_METADATA:
        meta.pop(key, None)
    recorded["metadata"] = meta
    secret = recorded.get("kind") == "Secret"
    out = []
    if secret:
        recorded = plan.normalise_secret(recorded)
        want, have = recorded.pop("data", None) or {}, live.get("data") or {}
        for key in sorted(set(want) | set(have)):
            if want.get(key) != have.get(key):
                out.append({"path": "data.%s" % key})
    view = plan.without_injected_pod_fields(live) if live.get("kind") == "Pod" else live
    for path, expected, actual in plan.differences(recorded, view):
        entry = {"path": ownership.path_text(path)}
        if not secret:
            entry["expected"] = expected
            entry["actual"] = actual
        out.append(entry)
    if live.get("kind") == "Deployment":
        # fields the release sets are differences above (kubectl set image); the others are extra
        out.extend(found.to_dict() for found in ownership.foreign_fields(live) if not _holds(recorded, found.path))
    return out


def _holds(obj, path) -> bool:
    for part in path:
        if isinstance(part, int):
            if not isinstance(obj, list) or part >= len(obj):
                return False
        elif not isinstance(obj, dict) or part not in obj:
            return False
        obj = obj[part]
    return True


def _key(obj: dict):
    return obj.get("kind"), _meta(obj).get("name")


def drift(cluster, namespace: str, current: Dict[str, dict], namespace_object: Optional[dict] = None) -> List[dict]:
    """Objects changed by hand, missing, or extra, against each task's current release.

    ``current`` maps task → release record (with its ``objects``). Live objects are read with one
    LIST per kind. *Extra* objects carry the task's label but are not in its release.
    """
    wanted = list(plan.BASE_KINDS)
    for record in current.values():
        for obj in _field(record, "objects") or []:
            pair = (obj.get("apiVersion"), obj.get("kind"))
            if pair[1] != "Namespace" and pair not in wanted:
                wanted.append(pair)
    live: Dict[tuple, dict] = {}
    listed = set()
    for api_version, kind in wanted:
        try:
            resource = cluster.resource(api_version, kind)
        except ClusterError as error:
            if error.status == 404:
                continue
            raise
        for item in cluster.list(resource, namespace):
            item.setdefault("kind", kind)
            live[_key(item)] = item
        listed.add(kind)
    if namespace_object is not None:
        live[("Namespace", namespace)] = namespace_object

    out = []
    for task in sorted(current):
        record = current[task]
        number = _field(record, "number")
        recorded_keys = set()
        for obj in _field(record, "objects") or []:
            key = _key(obj)
            recorded_keys.add(key)
            have = live.get(key)
            entry = {"task": task, "release": number, "kind": key[0], "name": key[1]}
            if have is None:
                entry.update(state="missing", differences=[])
                out.append(entry)
                continue
            differences = compare(obj, have)
            if differences:
                entry.update(state="changed", differences=differences)
                out.append(entry)
        label = plan.task_label_value(task)
        for key in sorted(live, key=lambda k: (k[0] or "", k[1] or "")):
            obj = live[key]
            labels = _labels(obj)
            if key in recorded_keys or key[0] not in listed or labels.get(TASK_LABEL) != label \
                    or labels.get(MANAGED_BY_LABEL) != MANAGER or _owned_by_controller(obj):
                continue
            if obj.get("kind") == "Secret" and obj.get("type") == plan.RELEASE_SECRET_TYPE:
                continue
            out.append({"task": task, "release": number, "kind": key[0], "name": key[1], "state": "extra",
                        "differences": []})
    return out


# --------------------------------------------------------------------------------------------------
# describe


def describe(cluster, namespace_object: dict, include_drift: bool = True, include_history: bool = True,
             history_limit: int = 0) -> dict:
    """Everything ``environment_info`` says about one environment."""
    summary = namespace_summary(namespace_object)
    name = summary["name"]
    summary["flow_uuid"] = summary["labels"].get(CP_FLOW_LABEL)
    summary["services"] = services(cluster, name)
    summary["endpoints"] = endpoints(cluster, name)
    records = releases(cluster, name)
    current = current_releases(records)
    newest = None
    for record in records:
        if _field(record, "task") in current and current[_field(record, "task")] is record:
            newest = record
            break
    summary["release"] = release_summary(newest) if newest is not None else None
    summary["current_releases"] = [release_summary(current[task]) for task in sorted(current)]
    if include_history:
        history = [release_summary(record) for record in records]
        summary["history"] = history[:history_limit] if history_limit else history
    if include_drift:
        summary["drift"] = drift(cluster, name, current, namespace_object)
        summary["drifted"] = bool(summary["drift"])
    return summary
