# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploying one environment (all services of one deploy task) to one cluster, and rolling back.

    plan ─▶ Namespace ─▶ Secrets, PVCs ─▶ public endpoints ─▶ wait for addresses ─▶ translate again
         ─▶ other Services ─▶ workloads ─▶ wait for rollouts ─▶ prune ─▶ record the release

* **plan** (``plan.py``): one GET of the Namespace and one LIST per kind; each desired object is
  created, updated, unchanged, or locked. An unchanged environment gets no write request at all.
* **apply** (``apply.py``): server-side apply, phase by phase, concurrently within a phase.
* **endpoints** (``endpoints.py``): public endpoint objects first, then their addresses are waited for
  and the environment is translated again with them (``SERVICE_<X>_PUBLIC_ENDPOINT`` env vars).
* **wait** (``rollout.py``): rollout status of every created or updated workload, failing fast.
* **prune** (``prune.py``): objects of the task that are no longer rendered are deleted.
* **history** (``release.py``): release N+1 recorded when anything changed.

When anything fails after the first write, the environment is rolled back (option ``rollback``):

* ``release`` (default): the objects this run wrote are returned to the last recorded release (its
  manifests re-applied; objects this run created deleted, PersistentVolumeClaims and the Namespace
  never); Deployments that no release holds are undone one revision; then the rolled-back workloads
  are waited for.
* ``revision`` (ContinuousPipe, docs/behaviour.md §10.5): every updated Deployment goes back one revision
  as ``kubectl rollout undo`` does; the Service named after a created component is deleted.
* ``none``: nothing is undone; the error says the environment is half-deployed and lists the objects
  in their new state.

Strategies (§10.1, §10.2): ``locked`` components' objects are created once and never touched again
(endpoint objects excepted); ``reset`` deletes the component's pods before its workload is updated;
``attached`` bare Pods are waited for until they end, and fail the deploy unless they succeed. A bare
Pod that must change while a pod of that name is running and ready fails the deploy, as in
ContinuousPipe; otherwise it is deleted and created again.
"""
from __future__ import annotations

import contextlib
import copy
import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import kinds
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import endpoints as endpoints_mod
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import ownership
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import plan as planning
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import prune as pruning
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import release as releases_mod
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import rollout, tls
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.apply import (
    ApplyError,
    Applier,
    first_write_happened,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.manifests import MASK, masked

ROLLBACK_MODES = ("release", "revision", "none")
FOREIGN_FIELDS_MODES = ("remove", "fail", "keep")
PHASE_NAMES = ("namespace", "secrets, volumes and internal services", "public endpoints", "other objects",
               "workloads")
TIMING_KEYS = ("load", "translate", "plan", "apply", "endpoints", "wait", "prune", "history")
SERVER_FIELDS = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")


@dataclass
class DeployOptions:
    """How to deploy. ``task`` scopes labels, pruning and the release history."""

    task: str
    namespace: Optional[str] = None
    wait: bool = True
    wait_timeout: Optional[float] = None
    endpoint_timeout: float = 900
    rollback: str = "release"
    prune: bool = True
    prune_volumes: bool = False
    history_limit: int = 10
    concurrency: int = 8
    check_mode: bool = False
    diff: bool = False
    poll_interval: float = 0.5
    unschedulable_grace: float = 10.0
    node_port_address: Optional[str] = None
    release_meta: dict = field(default_factory=dict)  # code_reference, flow_uuid
    # The project the environment belongs to (its flow UUID; default: release_meta's flow_uuid).
    project: Optional[str] = None
    # Write into a namespace, or over objects, that the project does not own (they become its own).
    take_over: bool = False
    # Fields of a pod template set by other field managers (kubectl set env…): remove, fail or keep.
    foreign_fields: str = "remove"
    # The environment's lock (lock.EnvironmentLock) held by the caller; checked before each write phase.
    lock: Optional[object] = None
    # The caller created the namespace (lock.claim_namespace) before taking the lock: reported as created.
    namespace_created: bool = False
    # Plan without the lock: stop with NeedsLock before the first write (or at an interrupted release).
    # A rerun that changes nothing ends without a write request, not even for the lock.
    probe: bool = False
    # Called with every desired manifest (a copy) before it is stamped and applied; returns the
    # manifest to use. For tests (e.g. a kwok behaviour label on a pod template) and advanced callers.
    object_hook: Optional[Callable[[dict], dict]] = None
    # progress(line) while rollouts are waited for: at most one line per progress_interval seconds
    # (rollout.Waiter); None prints nothing.
    progress: Optional[Callable[[str], None]] = None
    progress_interval: float = 10.0


@dataclass
class Component:
    identifier: str
    name: str
    workload: Optional[Tuple[str, str]] = None
    keys: set = field(default_factory=set)
    locked: bool = False
    reset: bool = False
    attached: bool = False
    wait: bool = True
    timeout: float = 1800


@dataclass
class DeployResult:
    changed: bool = False
    task: str = ""
    namespace: str = ""
    release: Optional[int] = None
    services: Dict[str, dict] = field(default_factory=dict)
    objects: List[dict] = field(default_factory=list)
    endpoints: List[dict] = field(default_factory=list)
    variables: Dict[str, str] = field(default_factory=dict)
    rolled_back: bool = False
    rolled_back_to: Optional[int] = None
    timings: Dict[str, float] = field(default_factory=dict)
    workloads: List[dict] = field(default_factory=list)
    diff: List[dict] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    platform: Optional[dict] = None

    def to_dict(self, diff: bool = False) -> dict:
        out = {
            "changed": self.changed, "task": self.task, "namespace": self.namespace, "release": self.release,
            "platform": self.platform,
            "services": self.services, "objects": self.objects, "endpoints": self.endpoints,
            "variables": self.variables, "rolled_back": self.rolled_back, "timings": self.timings,
            "workloads": self.workloads, "warnings": list(self.warnings),
        }
        if self.rolled_back_to is not None:
            out["rolled_back_to"] = self.rolled_back_to
        if diff:
            out["diff"] = self.diff
        return out


class NeedsLock(Exception):
    """Raised by a probing engine (DeployOptions.probe) where it would write: take the lock and deploy."""


class RecordError(ClusterError):
    """The environment was deployed but its release could not be recorded (no rollback for that)."""


class DeployError(ClusterError):
    """A deploy that failed; ``result`` is what happened (objects written, rollback, timings)."""

    def __init__(self, message: str, result: DeployResult, status=None, reason=None):
        self.result = result
        super().__init__(message, status=status, reason=reason)


# --------------------------------------------------------------------------------------------------
# helpers


def _meta(obj) -> dict:
    return (obj or {}).get("metadata") or {}


def _labels(obj) -> dict:
    return _meta(obj).get("labels") or {}


def components_from_plans(environment) -> Dict[str, Component]:
    """Components from a RenderedEnvironment's ComponentPlans (or derived from labels without them)."""
    out: Dict[str, Component] = OrderedDict()
    plans = getattr(environment, "components", None) or {}
    for identifier, comp in plans.items():
        workload = (comp.workload.kind, comp.workload.name) if getattr(comp, "workload", None) else None
        keys = {(ref.kind, ref.name) for ref in comp.objects}
        if workload:
            keys.add(workload)
        out[identifier] = Component(identifier, comp.name or identifier, workload, keys, bool(comp.locked),
                                    bool(comp.reset), bool(comp.attached), bool(comp.wait),
                                    float(comp.wait_timeout or 1800))
    if not plans:
        out.update(components_from_objects(getattr(environment, "objects", None) or []))
    return out


def components_from_objects(objects) -> Dict[str, Component]:
    """One component per ``continuouspipe.io/service`` (or ``component-identifier``) label value."""
    out: Dict[str, Component] = OrderedDict()
    for obj in objects:
        labels = _labels(obj)
        identifier = labels.get(planning.SERVICE_LABEL) or labels.get(planning.COMPONENT_LABEL)
        if not identifier and obj.get("kind") in planning.WORKLOAD_KINDS:
            identifier = _meta(obj).get("name")
        if not identifier:
            continue
        comp = out.setdefault(identifier, Component(identifier, identifier))
        comp.keys.add(planning.key_of(obj))
        if obj.get("kind") in planning.WORKLOAD_KINDS and comp.workload is None:
            comp.workload = planning.key_of(obj)
            comp.wait = True
    return out


def clean(obj: Optional[dict]) -> Optional[dict]:
    """An object as shown in a diff: server bookkeeping and status dropped, Secret data masked."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    meta = out.get("metadata") or {}
    for key in SERVER_FIELDS:
        meta.pop(key, None)
    out.pop("status", None)
    return masked(out)


def _mask_changes(before: Optional[dict], after: Optional[dict]) -> Optional[dict]:
    """Masked Secret ``after``, marking which keys changed (values never shown)."""
    if not after or after.get("kind") != "Secret":
        return clean(after)
    shown = clean(after)
    old = (before or {}).get("data") or {}
    for key, value in ((after or {}).get("data") or {}).items():
        if before is not None and old.get(key) != value:
            shown["data"][key] = MASK + " (changed)"
    return shown


def diff_entry(change: planning.Change) -> dict:
    after = change.result if change.result is not None else change.after
    if change.action == planning.DELETE:
        after = None
    before = clean(change.before) if change.action != planning.CREATE else None
    header = "%s %s" % (change.summary()["action"], change.ref)
    return {
        "before_header": change.ref, "after_header": header,
        "before": _yaml(before), "after": _yaml(_mask_changes(change.before, after)),
    }


def _yaml(obj) -> str:
    if obj is None:
        return ""
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
        return json.dumps(obj, indent=2, sort_keys=True)
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False)


def phase_of(obj: dict, endpoint_keys) -> int:
    """The deploy phase of an object (``kinds.phase_of``). Internal Services depend on nothing and must
    exist before the pods (the kubelet injects the <NAME>_SERVICE_HOST variables of the Services that
    exist when a pod starts): they go with the Secrets, one request round earlier than the public
    endpoints' addresses allow for."""
    return kinds.phase_of(obj, endpoint_keys)


# --------------------------------------------------------------------------------------------------
# the engine


class Engine:
    """One deploy (or rollback) of one task's environment; use once."""

    def __init__(self, cluster, options: DeployOptions):
        if options.rollback not in ROLLBACK_MODES:
            raise ValueError("rollback must be one of %s" % ", ".join(ROLLBACK_MODES))
        if options.foreign_fields not in FOREIGN_FIELDS_MODES:
            raise ValueError("foreign_fields must be one of %s" % ", ".join(FOREIGN_FIELDS_MODES))
        self.project = options.project or (options.release_meta or {}).get("flow_uuid") or ""
        if not self.project:
            raise ValueError("a deploy needs the project's identity (DeployOptions.project or release_meta.flow_uuid)")
        self.cluster = cluster
        self.options = options
        self.task = options.task
        self.namespace = options.namespace or ""
        self.applier = Applier(cluster, options.concurrency, dry_run=options.check_mode)
        self.changes: "OrderedDict[Tuple[str, str], planning.Change]" = OrderedDict()
        self.result = DeployResult(task=options.task)
        self.timings: Dict[str, float] = {key: 0.0 for key in TIMING_KEYS}
        self.live: Optional[planning.LiveState] = None
        self.releases: List[releases_mod.ReleaseInfo] = []
        self.components: Dict[str, Component] = OrderedDict()
        self.certificates: Dict[str, dict] = {}
        self.desired: List[dict] = []
        self.locked_keys: set = set()
        self.addresses: Dict[str, endpoints_mod.EndpointAddress] = {}
        self.namespace_missing = False
        self.verdict: Optional[ownership.NamespaceVerdict] = None
        self.pending: Optional[int] = None  # the number of the release this run recorded as pending
        self.interrupted: List[releases_mod.ReleaseInfo] = []  # pending releases of runs that died
        self.history_changed = False  # a release was recorded (an interrupted one completed, a failure)
        self.desired_objects: List[dict] = []  # as rendered (before stamping): which anchor the environment has

    @contextlib.contextmanager
    def timed(self, name: str):
        start = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + time.monotonic() - start, 3)

    # -- desired state -----------------------------------------------------------------------------

    def _stamp_all(self, objects) -> List[dict]:
        out = []
        origin = self.verdict.origin if self.verdict is not None else None
        for obj in objects:
            if self.options.object_hook is not None:
                obj = self.options.object_hook(copy.deepcopy(obj))
            out.append(planning.stamp(obj, self.task, self.namespace, self.project, origin))
        return out

    def _certificate_objects(self, endpoint_plans) -> List[dict]:
        out = []
        for plan in endpoint_plans or []:
            for certificate in getattr(plan, "certificates", ()) or ():
                name = certificate.secret_name
                if name not in self.certificates:
                    labels = {planning.SERVICE_LABEL: plan.component, "app.kubernetes.io/name": plan.component,
                              "app.kubernetes.io/component": "tls"}
                    live = self.live.get("Secret", name) if self.live else None
                    self.certificates[name] = tls.certificate_secret(name, certificate.host, self.namespace, labels,
                                                                     live)
                out.append(self.certificates[name])
        return out

    def _component_of(self, key) -> Optional[Component]:
        for comp in self.components.values():
            if key in comp.keys:
                return comp
        return None

    def _classify(self, obj: dict, endpoint_keys) -> planning.Change:
        key = planning.key_of(obj)
        comp = self._component_of(key)
        locked = bool(comp and comp.locked and phase_of(obj, endpoint_keys) != 2)
        change = planning.classify(obj, self.live.get(*key), locked=locked, component=comp.name if comp else None)
        if change.action == planning.LOCKED:
            self.locked_keys.add(key)
        self._foreign_template_fields(change)
        return change

    def _foreign_template_fields(self, change: planning.Change) -> None:
        """A Deployment whose pod template holds fields set by other managers is restored exactly."""
        mode = self.options.foreign_fields
        if mode == "keep" or change.kind != "Deployment" or change.before is None \
                or change.action not in (planning.UPDATE, planning.UNCHANGED):
            return
        found = ownership.foreign_fields(change.before)
        if not found:
            return
        text = "; ".join("%s = %s (set by %s)" % (ownership.path_text(f.path), json.dumps(f.value, sort_keys=True),
                                                  f.manager) for f in found)
        if mode == "fail":
            raise ClusterError("%s: its pod template holds fields this deploy does not set: %s. Remove them, or "
                               "set foreign_fields: remove (default) to have the deploy remove them, or keep to "
                               "leave them" % (change.ref, text), status=409, reason="Conflict")
        change.foreign = found
        if change.action == planning.UNCHANGED:
            change.action = planning.UPDATE
            change.reason = "fields of the pod template set by other managers: %s" % text

    def _check_bare_pod(self, change: planning.Change) -> None:
        """ContinuousPipe: a running and ready pod of that name is a clash, not something to replace."""
        if change.kind != "Pod" or change.action != planning.UPDATE or change.before is None:
            return
        status = change.before.get("status") or {}
        statuses = status.get("containerStatuses") or []
        if status.get("phase") == "Running" and statuses and all(s.get("ready") for s in statuses):
            raise ClusterError('A running pod named "%s" was found in namespace %s; it must end before the pod '
                               'can be deployed again' % (change.name, self.namespace))

    def _record_change(self, change: planning.Change) -> None:
        key = (change.kind, change.name)
        previous = self.changes.get(key)
        if previous is not None and previous.action == planning.CREATE and previous.result is not None \
                and change.action == planning.UNCHANGED:
            return  # created earlier in this run (the claimed namespace), and as it should be
        if previous is not None and previous.action == planning.CREATE and previous.result is not None \
                and change.action == planning.UPDATE:
            change.action = planning.CREATE  # created in this run, then changed again: still "created"
            change.before = None
        self.changes[key] = change

    # -- phases ------------------------------------------------------------------------------------

    def _apply_phase(self, index: int, changes: List[planning.Change]) -> None:
        if not changes:
            return
        for change in changes:
            self._record_change(change)
        if self.namespace_missing and self.options.check_mode and (index > 0 or self._record_anchored()):
            # A dry run inside a namespace that does not exist yet cannot be validated.
            for change in changes:
                if change.writes:
                    change.reason = "not validated: the namespace does not exist yet"
            return
        if self.options.probe and any(change.writes for change in changes) and not self.options.check_mode:
            raise NeedsLock()
        if any(change.writes for change in changes) and not (index == 0 and self.namespace_missing):
            # (the record lives in the namespace: a namespace created by this run comes first)
            self._begin_release()
        self.applier.run(PHASE_NAMES[index], changes)

    def _reset_pods(self, workload_changes: List[planning.Change]) -> None:
        for change in workload_changes:
            comp = self._component_of((change.kind, change.name))
            if not comp or not comp.reset or change.action != planning.UPDATE or change.kind != "Deployment":
                continue
            selector = ((change.after.get("spec") or {}).get("selector") or {}).get("matchLabels") or {
                planning.COMPONENT_LABEL: comp.identifier}
            query = {"labelSelector": ",".join("%s=%s" % item for item in sorted(selector.items())),
                     "dryRun": "All" if self.options.check_mode else None}
            path = self.cluster.resource("v1", "Pod").collection_path(self.namespace)
            self._begin_release()
            self.cluster.request("DELETE", path, query=query)

    def _wait_targets(self) -> List[rollout.WaitTarget]:
        targets = []
        for change in self.changes.values():
            if change.kind not in ("Deployment", "Pod") or change.action not in (planning.CREATE, planning.UPDATE):
                continue
            comp = self._component_of((change.kind, change.name))
            attached = bool(comp and comp.attached and change.kind == "Pod")
            if not self.options.wait and not attached:
                continue
            timeout = self.options.wait_timeout or (comp.timeout if comp else 1800)
            targets.append(rollout.WaitTarget(change.kind, change.name, float(timeout), attached,
                                              comp.name if comp else None))
        if self.interrupted and self.options.wait:
            # the run that was interrupted may have updated any workload: all of them must be ready
            # before its release is recorded as deployed
            waited = {(target.kind, target.name) for target in targets}
            for obj in self.desired:
                key = planning.key_of(obj)
                if key[0] == "Deployment" and key not in waited and key not in self.locked_keys:
                    comp = self._component_of(key)
                    timeout = self.options.wait_timeout or (comp.timeout if comp else 1800)
                    targets.append(rollout.WaitTarget(key[0], key[1], float(timeout), False,
                                                      comp.name if comp else None))
        return targets

    def _waiter(self) -> rollout.Waiter:
        return rollout.Waiter(self.cluster, self.namespace, poll=self.options.poll_interval,
                              unschedulable_grace=self.options.unschedulable_grace,
                              progress=self.options.progress, progress_interval=self.options.progress_interval)

    # -- deploy ------------------------------------------------------------------------------------

    def deploy(self, environment, retranslate: Optional[Callable[[Dict[str, str]], object]] = None) -> DeployResult:
        """Deploy a RenderedEnvironment (``.namespace``, ``.objects``, ``.components``, ``.public_endpoints``).

        ``retranslate(addresses)`` renders the environment again once the public endpoints' addresses
        (endpoint name → address) are known; without it the objects are deployed as they are.
        """
        options = self.options
        self.namespace = options.namespace or environment.namespace
        self.result.namespace = self.namespace
        self.components = components_from_plans(environment)
        self.desired_objects = list(environment.objects)
        endpoint_plans = list(getattr(environment, "public_endpoints", None) or [])
        endpoint_keys = endpoints_mod.endpoint_object_keys(endpoint_plans)
        try:
            with self.timed("plan"):
                desired_kinds = [(obj.get("apiVersion"), obj.get("kind")) for obj in environment.objects]
                platform = getattr(getattr(environment, "platform", None), "name", None) or "kubernetes"
                listed = kinds.listed_kinds(platform)
                all_pods = any(obj.get("kind") == "Pod" for obj in environment.objects)
                try:
                    self.live = planning.read_live(self.cluster, self.namespace, self.task,
                                                   desired_kinds + list(listed), all_pods=all_pods, optional=listed)
                except ClusterError as error:
                    # OpenShift answers 403 for a project this identity cannot see (or that does not exist):
                    # in check mode, a project the deploy would request
                    if not (error.status == 403 and options.check_mode and self._record_anchored()):
                        raise
                    self.live = planning.LiveState(self.namespace)
                self.namespace_missing = self.live.namespace_object is None
                self._check_namespace()
                self.desired = self._stamp_all(environment.objects)
                self.releases = releases_mod.releases_in(
                    [obj for (kind, _name), obj in self.live.objects.items() if kind == "Secret"], self.task,
                    project=self.project)
                self._list_recorded_kinds()
                self.desired += self._stamp_all(self._certificate_objects(endpoint_plans))
                planned = [self._classify(obj, endpoint_keys) for obj in self.desired]
                for change in planned:
                    self._check_bare_pod(change)
                self.result.warnings.extend(ownership.check_objects(
                    planned, self.project, self.verdict.state == "legacy", options.take_over))
                self._find_interrupted()
                planned = [self._created_by_claim(change) for change in planned]
        except ClusterError as error:
            raise self._failure(error, "planning")

        try:
            with self.timed("apply"):
                for index in (0, 1, 2):
                    self._apply_phase(index, [c for c, obj in zip(planned, self.desired)
                                              if phase_of(obj, endpoint_keys) == index])
            with self.timed("endpoints"):
                self._endpoint_addresses(endpoint_plans, endpoint_keys)
            if retranslate is not None and endpoint_plans:
                with self.timed("translate"):
                    # in the endpoints' order of definition, whatever order their addresses came in:
                    # the variables of every pod template stay in the same order from run to run
                    environment = retranslate({plan.name: self.addresses[plan.name].address
                                               for plan in endpoint_plans if plan.name in self.addresses})
                    self.components = components_from_plans(environment)
                with self.timed("plan"):
                    planned = self._replan(environment, endpoint_keys)
            with self.timed("apply"):
                later = [(c, obj) for c, obj in zip(planned, self.desired) if phase_of(obj, endpoint_keys) >= 3]
                redo = [c for c, obj in zip(planned, self.desired) if phase_of(obj, endpoint_keys) < 3
                        and c.writes and self.changes.get((c.kind, c.name)) is not c]
                self._apply_phase(3, redo + [c for c, obj in later if phase_of(obj, endpoint_keys) == 3])
                workloads = [c for c, obj in later if phase_of(obj, endpoint_keys) == 4]
                if workloads and not options.check_mode:
                    self._reset_pods(workloads)
                self._apply_phase(4, workloads)
            if not options.check_mode:
                with self.timed("wait"):
                    targets = self._wait_targets()
                    if targets:
                        outcomes = self._waiter().wait(targets)
                        self.result.workloads = [outcome.to_dict() for outcome in outcomes]
            with self.timed("prune"):
                self._prune({planning.key_of(obj) for obj in self.desired})
            with self.timed("history"):
                self._record(releases_mod.DEPLOYED)
        except ClusterError as error:
            raise self._failure(error, "deploying")
        return self._finish()

    def _list_recorded_kinds(self) -> None:
        """Kinds of the task's current release that were not listed yet (e.g. the Ingresses of a deploy
        to another platform): listed too, so that what is no longer rendered is pruned."""
        current = releases_mod.current_release(None, self.namespace, self.task, self.releases)
        secret = self.live.get("Secret", current.name) if current is not None else None
        if secret is None:
            return
        listed = set(self.live.listed_kinds)
        recorded = []
        for obj in releases_mod.from_secret(secret, with_objects=True).objects:
            pair = (obj.get("apiVersion"), obj.get("kind"))
            if pair[1] != "Namespace" and pair not in listed and pair not in recorded:
                recorded.append(pair)
        if recorded:
            more = planning.read_live(self.cluster, self.namespace, self.task, recorded, optional=recorded)
            self.live.objects.update(more.objects)
            self.live.listed_kinds.extend(more.listed_kinds)

    # -- ownership, lock and the write-ahead record ------------------------------------------------

    def _record_anchored(self) -> bool:
        """The environment is anchored by its record (an OpenShift project), not by its Namespace."""
        return any(kinds.is_anchor(obj) and obj.get("kind") != "Namespace" for obj in self.desired_objects)

    def _live_record(self) -> Optional[dict]:
        """The environment record of the namespace (one GET), None when there is none or it may not be read."""
        try:
            record = self.cluster.get(self.cluster.resource("v1", "ConfigMap"), kinds.ENVIRONMENT_RECORD,
                                      self.namespace)
        except ClusterError as error:
            if error.status in (401, 403):
                return None
            raise
        if record is not None:
            self.live.put(record)
        return record

    def _anchor(self) -> Optional[dict]:
        """The live object that records who the environment belongs to: the Namespace, or the environment
        record standing for it (an OpenShift project, whose Namespace the deployer may not label)."""
        record = next((obj for obj in self.desired_objects if kinds.is_anchor(obj) and obj.get("kind") != "Namespace"),
                      None)
        if record is None or self.live.namespace_object is None:
            return self.live.namespace_object
        return self.live.get(record["kind"], record["metadata"]["name"])

    def _check_namespace(self) -> None:
        """The namespace must be this project's (or missing, or taken over deliberately)."""
        anchor = self._anchor()
        try:
            self.verdict = ownership.check_namespace(anchor, self.project, self.options.take_over)
        except ownership.OwnershipError:
            # a namespace the deployer may not label (an OpenShift project) is claimed by its record
            record = None
            if anchor is not None and anchor is self.live.namespace_object:
                record = self._live_record()
            if record is None:
                raise
            self.verdict = ownership.check_namespace(record, self.project, self.options.take_over)
        if self.verdict.warning:
            self.result.warnings.append(self.verdict.warning)

    def _created_by_claim(self, change: planning.Change) -> planning.Change:
        """The Namespace created when the environment was claimed: reported created, not applied again."""
        if not self.options.namespace_created or not kinds.is_anchor_key(change.kind, change.name) \
                or change.action != planning.UNCHANGED:
            return change
        change.action, change.result = planning.CREATE, change.before
        change.before = None
        change.reason = "created when the environment was claimed"
        self._record_change(change)
        self.applier.written.append(change)
        return planning.Change(planning.UNCHANGED, change.kind, change.name, change.result, change.after)

    def _check_lock(self) -> None:
        if self.options.lock is not None and not self.options.check_mode:
            self.options.lock.check()

    def _find_interrupted(self) -> None:
        """Pending releases of this task were left by runs that stopped before they finished."""
        self.interrupted = [release for release in self.releases if release.status == releases_mod.PENDING]
        if self.interrupted and self.options.probe and not self.options.check_mode:
            raise NeedsLock()  # pending: interrupted, or another run's in progress — only the lock tells
        for release in self.interrupted:
            code = release.code_reference or {}
            self.result.warnings.append(
                "release %d of task %s (%s%s, started %s%s) was interrupted before it finished; %s" % (
                    release.number, self.task, code.get("branch") or "?",
                    "@%s" % code["sha"] if code.get("sha") else "", release.time or "at an unknown time",
                    " by %s" % release.holder if release.holder else "",
                    "this check shows what completing it takes" if self.options.check_mode
                    else "this run completes the environment and records the outcome"))

    def _begin_release(self) -> None:
        """Record the release as pending before the first write (once per run)."""
        if self.pending is not None or self.options.check_mode:
            return
        if self.options.probe:
            raise NeedsLock()
        self._check_lock()
        checksum = releases_mod.checksum(self.desired)
        same = [release for release in self.interrupted if release.checksum == checksum]
        number = same[-1].number if same else releases_mod.next_number(self.releases)
        for release in self.interrupted:
            if release.number != number:
                releases_mod.mark(self.cluster, self.namespace, release, releases_mod.FAILED,
                                  "interrupted before it finished; replaced by release %d" % number)
        releases_mod.write(self.cluster, self.namespace, self.task, number, self.desired, releases_mod.PENDING,
                           self._release_meta(), self.releases, locked=sorted(self.locked_keys))
        self.pending = number

    def _release_meta(self) -> dict:
        meta = dict(self.options.release_meta or {})
        meta["summary"] = [change.summary() for change in self.changes.values()]
        meta["project"] = self.project
        lock = self.options.lock
        meta["holder"] = getattr(lock, "identity", "") or ""
        return meta

    def _replan(self, environment, endpoint_keys) -> List[planning.Change]:
        """Stamp and classify the environment translated with the endpoint addresses."""
        self.desired = self._stamp_all(environment.objects)
        self.desired += self._stamp_all(self._certificate_objects(getattr(environment, "public_endpoints", None)))
        planned = []
        for obj in self.desired:
            key = planning.key_of(obj)
            done = self.changes.get(key)
            if done is not None and done.after is not None and planning.canonical(done.after) == planning.canonical(obj):
                planned.append(done)  # applied already, as it is
            else:
                planned.append(self._classify(obj, endpoint_keys))
        for change in planned:
            self._check_bare_pod(change)
        return planned

    def _endpoint_addresses(self, endpoint_plans, endpoint_keys) -> None:
        if not endpoint_plans:
            return
        known = endpoints_mod.known_addresses(endpoint_plans, self.live, self.namespace,
                                              self.options.node_port_address)
        touched = any(change.writes for key, change in self.changes.items() if key in endpoint_keys)
        if self.options.check_mode or (len(known) == len(endpoint_plans) and not touched):
            self.addresses = known
        else:
            self.addresses = endpoints_mod.wait_addresses(
                self.cluster, self.namespace, endpoint_plans, timeout=self.options.endpoint_timeout,
                poll=self.options.poll_interval, node_port_address=self.options.node_port_address,
                progress=self.options.progress, progress_interval=self.options.progress_interval)
        self.result.endpoints = [found.to_dict() for found in self.addresses.values()]
        self.result.variables = endpoints_mod.variables(self.addresses)
        self.result.warnings.extend(endpoints_mod.integration_warnings(self.addresses))

    def _prune(self, desired_keys) -> None:
        if not self.options.prune or self.namespace_missing:
            return
        deletions, kept = pruning.plan_prune(self.live, self.task, set(desired_keys) | self.locked_keys,
                                             self.options.prune_volumes)
        for change in kept:
            self.result.warnings.append("%s is no longer rendered by task %s and was kept (prune_volumes is false)"
                                        % (change.ref, self.task))
        deletions, foreign = pruning.owned(deletions, self.project)
        for change in foreign:
            self.result.warnings.append("%s carries the labels of task %s but %s: it was not pruned" % (
                change.ref, self.task, change.reason))
        if deletions:
            self._begin_release()
        for group in pruning.phases(deletions):
            for change in group:
                self._record_change(change)
            self.applier.run("pruned objects", group)

    def _record(self, status: str, rollback_of: Optional[int] = None, objects: Optional[List[dict]] = None) -> None:
        """The pending release becomes ``status`` (an interrupted release is completed even when this
        run had nothing left to write)."""
        current = releases_mod.current_release(None, self.namespace, self.task, self.releases)
        self.result.release = current.number if current else None
        if self.options.check_mode or (self.pending is None and not self.interrupted):
            return
        self._begin_release()
        self.history_changed = True
        payload = list(objects if objects is not None else self.desired)
        try:
            self._check_lock()
            releases_mod.write(self.cluster, self.namespace, self.task, self.pending, payload, status,
                               self._release_meta(), self.releases, rollback_of=rollback_of,
                               locked=sorted(self.locked_keys))
            if status == releases_mod.DEPLOYED:
                releases_mod.settle(self.cluster, self.namespace, self.releases, self.pending,
                                    self.options.history_limit)
        except ClusterError as error:
            raise RecordError("the environment is deployed but release %d could not be recorded as %s: %s; it "
                              "stays pending, and the next run completes it" % (self.pending, status, error),
                              status=getattr(error, "status", None), reason=getattr(error, "reason", None))
        if status == releases_mod.DEPLOYED:
            self.result.release = self.pending

    # -- results -----------------------------------------------------------------------------------

    def _finish(self) -> DeployResult:
        result = self.result
        result.changed = any(change.writes for change in self.changes.values()) or self.history_changed
        result.namespace = self.namespace
        result.objects = [change.summary() for change in self.changes.values()]
        if self.options.check_mode:
            for entry, change in zip(result.objects, self.changes.values()):
                if change.reason and change.reason.startswith("not validated"):
                    entry["note"] = change.reason
        result.services = self._services()
        result.timings = dict(self.timings)
        if self.options.diff:
            result.diff = [diff_entry(change) for change in self.changes.values() if change.writes]
        return result

    def _services(self) -> Dict[str, dict]:
        out: Dict[str, dict] = OrderedDict()
        for comp in self.components.values():
            out[comp.name] = {"created": False, "updated": False, "deleted": False, "unchanged": True}
        for key, change in self.changes.items():
            if not change.writes:
                continue
            comp = self._component_of(key)
            if comp is None:
                name = change.component
                if change.action == planning.DELETE and name:
                    flags = out.setdefault(name, {"created": False, "updated": False, "deleted": False,
                                                  "unchanged": True})
                    if name not in {c.name for c in self.components.values()} and \
                            name not in {c.identifier for c in self.components.values()}:
                        flags["deleted"] = True
                    else:
                        flags["updated"] = True
                continue
            flags = out[comp.name]
            if change.action == planning.CREATE and key == comp.workload:
                flags["created"] = True
            elif change.action in (planning.CREATE, planning.UPDATE, planning.DELETE):
                flags["updated"] = True
        for flags in out.values():
            if flags["created"]:
                flags["updated"] = False
            flags["unchanged"] = not (flags["created"] or flags["updated"] or flags["deleted"])
        return out

    # -- failure and rollback ----------------------------------------------------------------------

    def _failure(self, error: ClusterError, stage: str) -> DeployError:
        unreachable = getattr(error, "status", None) == 0 or (isinstance(error, ApplyError) and error.unreachable)
        headline = "deploy of task %s to namespace %s failed while %s" % (self.task, self.namespace, stage)
        if unreachable:
            headline = "cannot reach the API server of %s: %s" % (getattr(self.cluster, "name", "the cluster"), headline)
        lines = [headline + ":", str(error)]
        written = self._written_changes()
        if isinstance(error, RecordError):
            # every object is in place and ready: rolling back would undo a good deploy
            lines = ["deploy of task %s to namespace %s: %s" % (self.task, self.namespace, error)]
        elif (not first_write_happened(self.applier) and self.pending is None) or self.options.check_mode:
            lines.append("nothing was changed in the cluster" if not self.options.check_mode
                         else "check mode: nothing was changed in the cluster")
        else:
            lines.append("written before the failure: %s" % ", ".join(
                "%s (%s)" % (change.ref, change.summary()["action"]) for change in written))
            lines.extend(self._roll_back(unreachable))
        result = self._finish()
        return DeployError("\n".join(lines), result, status=getattr(error, "status", None),
                           reason=getattr(error, "reason", None))

    def _written_changes(self) -> List[planning.Change]:
        seen, out = set(), []
        for change in list(self.applier.written) + list(self.applier.uncertain):
            key = (change.kind, change.name)
            if key not in seen:
                seen.add(key)
                out.append(change)
        return out

    def _roll_back(self, unreachable: bool) -> List[str]:
        mode = self.options.rollback
        written = self._written_changes()
        if mode == "none":
            lines = ["rollback is 'none': the environment is half-deployed; objects in their new state: %s"
                     % ", ".join(change.ref for change in written)]
            return lines + self._settle_failed("half-deployed (rollback: none)")
        try:
            if mode == "revision":
                lines = self._roll_back_revisions(written)
            else:
                lines = self._roll_back_release(written)
        except ClusterError as error:
            lines = ["ROLLBACK FAILED: %s" % error,
                     "the state of these objects is unknown: %s" % ", ".join(change.ref for change in written)]
            if self.pending is not None:
                lines.append("release %d stays pending: the next deploy of task %s completes it or rolls it back"
                             % (self.pending, self.task))
            return lines
        self.result.rolled_back = True
        return lines + self._settle_failed("rolled back")

    def _settle_failed(self, reason: str) -> List[str]:
        try:
            self._record_failed(reason)
        except ClusterError as error:
            if self.pending is not None:
                return ["(release %d could not be recorded as failed: %s; it stays pending, and the next run "
                        "completes it or rolls it back)" % (self.pending, error)]
            return ["(the failed release could not be recorded: %s)" % error]
        return []

    def _record_failed(self, reason: str = "") -> None:
        """The pending release (or a new one) is recorded as failed."""
        self.history_changed = True
        releases_mod.record(self.cluster, self.namespace, self.task, self.desired, releases_mod.FAILED,
                            self._release_meta(), self.releases, self.options.history_limit,
                            locked=sorted(self.locked_keys), number=self.pending, reason=reason)

    def _target_release(self) -> Optional[releases_mod.Release]:
        current = releases_mod.current_release(None, self.namespace, self.task, self.releases)
        if current is None:
            return None
        secret = self.live.get("Secret", current.name) if self.live else None
        if secret is None:
            return releases_mod.read_release(self.cluster, self.namespace, self.task, current.number)
        return releases_mod.from_secret(secret, with_objects=True)

    def _roll_back_release(self, written: List[planning.Change]) -> List[str]:
        target = self._target_release()
        by_key = {planning.key_of(obj): obj for obj in (target.objects if target else [])}
        locked = {tuple(key) for key in (target.locked if target else [])}
        restore, delete, undo, unknown, kept = [], [], [], [], []
        for change in written:
            key = (change.kind, change.name)
            if change.kind == "Pod" and change.action != planning.DELETE:
                # A bare pod runs once: the previous release's pod already ran its course and is not
                # started again; the one this deploy started is removed (the next deploy starts it).
                delete.append(planning.Change(planning.DELETE, change.kind, change.name,
                                              before=change.result or change.after))
            elif key in by_key and key not in locked:
                obj = by_key[key]
                action = planning.CREATE if change.action == planning.DELETE else planning.UPDATE
                before = change.result or change.after or change.before
                restore.append(planning.Change(action, change.kind, change.name, before=before, after=obj))
            elif change.action == planning.CREATE:
                if change.kind == "PersistentVolumeClaim" or kinds.is_anchor_key(change.kind, change.name):
                    kept.append(change.ref)
                else:
                    delete.append(planning.Change(planning.DELETE, change.kind, change.name,
                                                  before=change.result or change.after))
            elif change.action == planning.UPDATE and change.kind == "Deployment":
                undo.append(change.name)
            elif key not in locked:
                unknown.append("%s (%s; no release holds its previous state)" % (change.ref, change.summary()["action"]))
        rb = Applier(self.cluster, self.options.concurrency)
        restore.sort(key=lambda change: planning.apply_order(change.after))
        for order in sorted({planning.apply_order(change.after) for change in restore}):
            rb.run("rollback", [change for change in restore if planning.apply_order(change.after) == order])
        for group in pruning.phases(delete):
            rb.run("rollback", group)
        undone = [name for name in undo if undo_deployment(self.cluster, self.namespace, name)]
        waited = [change.name for change in restore if change.kind == "Deployment"] + undone
        if waited:
            timeout = self.options.wait_timeout or 600
            self._waiter().wait([rollout.WaitTarget("Deployment", name, float(timeout)) for name in waited])
        lines = []
        if target:
            lines.append("rolled back to release %d%s" % (target.number, (": re-applied %s" % ", ".join(
                change.ref for change in restore)) if restore else ""))
            self.result.rolled_back_to = target.number
        else:
            lines.append("there was no previous release: objects created by this deploy were removed")
        if delete:
            lines.append("deleted the objects created by this deploy: %s" % ", ".join(c.ref for c in delete))
        if undone:
            lines.append("Deployments no release holds were undone one revision: %s" % ", ".join(undone))
        if kept:
            lines.append("kept (never deleted by a rollback): %s" % ", ".join(kept))
        if unknown:
            lines.append("left in their new state: %s" % ", ".join(unknown))
        if waited:
            lines.append("the rolled-back workloads are ready: %s" % ", ".join("Deployment/%s" % n for n in waited))
        return lines

    def _roll_back_revisions(self, written: List[planning.Change]) -> List[str]:
        """ContinuousPipe's rollback: failed Deployments back one revision, created component Services deleted."""
        undone = [change.name for change in written if change.kind == "Deployment" and change.action == planning.UPDATE
                  and undo_deployment(self.cluster, self.namespace, change.name)]
        created_components = {comp.identifier for comp in self.components.values()
                              if comp.workload and self.changes.get(comp.workload) is not None
                              and self.changes[comp.workload].action == planning.CREATE}
        deleted = []
        for change in written:
            if change.kind == "Service" and change.action == planning.CREATE and change.name in created_components:
                self.cluster.delete(self.cluster.resource("v1", "Service"), change.name, self.namespace)
                deleted.append(change.ref)
            elif change.kind == "Pod" and change.action != planning.DELETE:
                # ContinuousPipe deleted attached pods in all cases once they ended
                self.cluster.delete(self.cluster.resource("v1", "Pod"), change.name, self.namespace)
                deleted.append(change.ref)
        if undone:
            timeout = self.options.wait_timeout or 600
            self._waiter().wait([rollout.WaitTarget("Deployment", name, float(timeout)) for name in undone])
        lines = ["rolled back one revision (rollback: revision): %s" % (", ".join(undone) or "no updated Deployment")]
        if deleted:
            lines.append("deleted the Services of created components and the pods this deploy started: %s"
                         % ", ".join(deleted))
        left = [change.ref for change in written if change.ref not in deleted
                and not (change.kind == "Deployment" and change.name in undone)]
        if left:
            lines.append("left in their new state (as ContinuousPipe did): %s" % ", ".join(left))
        return lines

    # -- rollback to a recorded release (the rollback module) ---------------------------------------

    def restore(self, number: Optional[int] = None) -> DeployResult:
        """Return the environment to release ``number`` (default: the one before the current)."""
        options = self.options
        self.result.namespace = self.namespace
        try:
            with self.timed("plan"):
                self.live = planning.read_live(self.cluster, self.namespace, self.task, planning.BASE_KINDS,
                                               all_pods=True)
                if self.live.namespace_object is None:
                    raise ClusterError("namespace %s does not exist" % self.namespace, status=404)
                self._check_namespace()
                secrets = [obj for (kind, _name), obj in self.live.objects.items() if kind == "Secret"]
                self.releases = releases_mod.releases_in(secrets, self.task, project=self.project)
                if not self.releases:
                    raise ClusterError("no release of task %s is recorded in namespace %s" % (self.task, self.namespace),
                                       status=404)
                if number is None:
                    info = releases_mod.previous_release(self.releases)
                    if info is None:
                        raise ClusterError("task %s has no release before the current one in namespace %s (releases: %s)"
                                           % (self.task, self.namespace, _numbers(self.releases)), status=404)
                else:
                    info = next((r for r in self.releases if r.number == int(number)), None)
                    if info is None:
                        raise ClusterError("release %s of task %s does not exist in namespace %s (releases: %s)"
                                           % (number, self.task, self.namespace, _numbers(self.releases)), status=404)
                target = releases_mod.from_secret(self.live.get("Secret", info.name), with_objects=True)
                extra = [(obj.get("apiVersion"), obj.get("kind")) for obj in target.objects]
                extra = [kind for kind in extra if kind not in planning.BASE_KINDS and kind[1] != "Namespace"]
                if extra:
                    more = planning.read_live(self.cluster, self.namespace, self.task, extra)
                    self.live.objects.update(more.objects)
                    self.live.listed_kinds.extend(more.listed_kinds)
                # what the current release holds is pruned too when the target has none of its kind
                self._list_recorded_kinds()

                # Bare pods run once: a rollback does not start the release's pods again (nor delete them).
                run_once = {planning.key_of(obj) for obj in target.objects if obj.get("kind") == "Pod"}
                self.desired = self._stamp_all([obj for obj in target.objects if obj.get("kind") != "Pod"])
                self.components = components_from_objects(self.desired)
                self.locked_keys = {tuple(key) for key in target.locked}
                planned = []
                for obj in self.desired:
                    key = planning.key_of(obj)
                    live = self.live.get(*key)
                    change = planning.classify(obj, live, locked=key in self.locked_keys)
                    self._foreign_template_fields(change)
                    planned.append(change)
                    self._check_bare_pod(change)
                self.result.warnings.extend(ownership.check_objects(
                    planned, self.project, self.verdict.state == "legacy", options.take_over))
                self._find_interrupted()
        except ClusterError as error:
            raise self._restore_failure(error)
        try:
            with self.timed("apply"):
                for index in range(5):
                    self._apply_phase(index, [c for c, obj in zip(planned, self.desired) if phase_of(obj, set()) == index])
            if not options.check_mode:
                with self.timed("wait"):
                    targets = self._wait_targets()
                    if targets:
                        self.result.workloads = [o.to_dict() for o in self._waiter().wait(targets)]
            with self.timed("prune"):
                self._prune({planning.key_of(obj) for obj in self.desired} | run_once)
            with self.timed("history"):
                self._record(releases_mod.DEPLOYED, rollback_of=target.number, objects=target.objects)
        except ClusterError as error:
            raise self._restore_failure(error)
        self.result.rolled_back_to = target.number
        return self._finish()

    def _restore_failure(self, error: ClusterError) -> DeployError:
        lines = ["rollback of task %s in namespace %s failed: %s" % (self.task, self.namespace, error)]
        written = self._written_changes()
        if written and not self.options.check_mode:
            lines.append("the state of these objects is unknown (partly rolled back): %s"
                         % ", ".join(change.ref for change in written))
        else:
            lines.append("nothing was changed in the cluster")
        return DeployError("\n".join(lines), self._finish(), status=getattr(error, "status", None),
                           reason=getattr(error, "reason", None))


def _numbers(releases) -> str:
    return ", ".join("%d (%s)" % (r.number, r.status) for r in releases) or "none"


# --------------------------------------------------------------------------------------------------
# kubectl rollout undo


def undo_deployment(cluster, namespace: str, name: str) -> bool:
    """Put the template of the Deployment's previous revision back, as ``kubectl rollout undo`` does.

    False when there is no previous revision (a Deployment created by the failed deploy).
    """
    deployment = cluster.get(cluster.resource("apps/v1", "Deployment"), name, namespace)
    if deployment is None:
        return False
    uid = deployment["metadata"].get("uid")
    current = int((deployment["metadata"].get("annotations") or {}).get(rollout.REVISION_ANNOTATION) or 0)
    previous = None
    for rs in cluster.list(cluster.resource("apps/v1", "ReplicaSet"), namespace):
        meta = rs.get("metadata") or {}
        if uid not in [owner.get("uid") for owner in meta.get("ownerReferences") or []]:
            continue
        revision = int((meta.get("annotations") or {}).get(rollout.REVISION_ANNOTATION) or 0)
        if revision < current and (previous is None or revision > previous[0]):
            previous = (revision, rs)
    if previous is None:
        return False
    template = copy.deepcopy((previous[1].get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop("pod-template-hash", None)
    patch = [{"op": "replace", "path": "/spec/template", "value": template}]
    path = cluster.resource("apps/v1", "Deployment").path(name, namespace)
    cluster.request("PATCH", path, query={"fieldManager": "continuouspipe.kubernetes-rollback"},
                    body=json.dumps(patch), content_type="application/json-patch+json")
    return True


# --------------------------------------------------------------------------------------------------
# entry points


def deploy(cluster, environment, options: DeployOptions, retranslate=None) -> DeployResult:
    return Engine(cluster, options).deploy(environment, retranslate)


def restore(cluster, namespace: str, options: DeployOptions, number: Optional[int] = None) -> DeployResult:
    options.namespace = namespace
    engine = Engine(cluster, options)
    engine.namespace = namespace
    return engine.restore(number)


class ManifestEnvironment:
    """A plain list of manifests as an environment (no component or endpoint plans)."""

    def __init__(self, namespace: str, objects: List[dict], components=None, public_endpoints=None):
        self.namespace = namespace
        self.objects = objects
        self.components = components or {}
        self.public_endpoints = public_endpoints or []

    def manifests(self) -> List[dict]:
        return copy.deepcopy(self.objects)
