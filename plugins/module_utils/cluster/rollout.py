# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for workloads: rollout status, fail fast, attached pods.

Every created or updated workload of a deploy is waited for in **one** polling loop: each poll is one
LIST of Deployments and one LIST of Pods of the namespace, whatever the number of workloads.

A Deployment is rolled out with ``kubectl rollout status`` semantics (ContinuousPipe only compared
``availableReplicas`` with ``replicas``, which is already true for the *old* pods right after an
update, docs/behaviour.md §10.3): ``observedGeneration >= generation``, ``updatedReplicas == replicas``,
no old replicas left, ``availableReplicas == replicas``.

The wait **fails fast** — within a poll or two instead of at the timeout — when the rollout cannot
succeed by itself:

* the Deployment's ``Progressing`` condition is ``False`` with reason ``ProgressDeadlineExceeded``
  for its current ReplicaSet (the condition of an earlier revision lingers until the controller sees
  progress on the new one, e.g. right after a rollback of a rollout that timed out: it is not a failure
  of this one);
* a pod of the new revision has a container waiting with ``CrashLoopBackOff``, ``ImagePullBackOff``,
  ``ErrImagePull``, ``CreateContainerConfigError`` or ``InvalidImageName``;
* a pod of the new revision is ``PodScheduled=False`` with reason ``Unschedulable`` for longer than a
  short grace period (the scheduler may still find room as other pods go away);
* a bare Pod ends in phase ``Failed``.

The error names the workload, the failing pods with their conditions and container states, and
their recent events (one LIST of events per failing pod, only on the failure path).

Timeouts are per workload (``WaitTarget.timeout``, ContinuousPipe's formula from the ComponentPlan
unless the deploy overrides it).

The poll interval (0.5 s) grows with the number of objects a poll lists, up to 2 s (200 services:
400 objects, a poll every 2 s), so that waiting for a large environment does not take the CPU the
control plane needs to roll it out.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.progress import format_seconds

FAIL_FAST_REASONS = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
                     "InvalidImageName")
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
LOGS_UNAVAILABLE = "logs unavailable"
OBJECTS_PER_POLL = 100  # Deployments and Pods listed per poll before the poll interval grows
MAX_POLL = 2.0


@dataclass
class WaitTarget:
    kind: str  # Deployment or Pod
    name: str
    timeout: float = 1800
    attached: bool = False
    component: Optional[str] = None

    @property
    def ref(self) -> str:
        return "%s/%s" % (self.kind, self.name)


@dataclass
class WaitOutcome:
    target: WaitTarget
    ok: bool
    seconds: float
    reason: str = ""
    message: str = ""
    pods: List[dict] = field(default_factory=list)
    output: Optional[str] = None  # attached pods: the logs, or "logs unavailable: ..."

    def to_dict(self) -> dict:
        out = {"kind": self.target.kind, "name": self.target.name, "ok": self.ok, "seconds": round(self.seconds, 2)}
        if self.reason:
            out["reason"] = self.reason
        if self.message:
            out["message"] = self.message
        if self.pods:
            out["pods"] = self.pods
        if self.output is not None:
            out["output"] = self.output
        return out


class RolloutError(ClusterError):
    """At least one workload failed (or timed out); ``outcomes`` has every failure found."""

    def __init__(self, outcomes: List[WaitOutcome], pending: List[WaitTarget]):
        self.outcomes = outcomes
        self.pending = pending
        super().__init__(describe_failures(outcomes, pending))


def describe_failures(outcomes: List[WaitOutcome], pending: List[WaitTarget]) -> str:
    lines = []
    for outcome in outcomes:
        lines.append("%s failed after %.1fs: %s%s" % (
            outcome.target.ref, outcome.seconds, outcome.reason, (" — " + outcome.message) if outcome.message else ""))
        for pod in outcome.pods:
            lines.append("  pod %s (%s):" % (pod["name"], pod.get("phase") or "no phase"))
            for condition in pod.get("conditions", []):
                lines.append("    condition %s=%s %s %s" % (
                    condition.get("type"), condition.get("status"), condition.get("reason") or "",
                    condition.get("message") or ""))
            for container in pod.get("containers", []):
                lines.append("    container %s: %s" % (container["name"], container["state"]))
            for event in pod.get("events", []):
                lines.append("    event %s %s: %s" % (event.get("type"), event.get("reason"), event.get("message")))
        if outcome.output is not None:
            lines.append("  output: %s" % outcome.output)
    if pending:
        lines.append("still waiting for: %s" % ", ".join(target.ref for target in pending))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# status predicates (pure)


def _condition(obj: dict, kind: str) -> Optional[dict]:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def deployment_status(deployment: dict):
    """(done, failure reason or None, message) with ``kubectl rollout status`` semantics."""
    meta, spec, status = deployment.get("metadata") or {}, deployment.get("spec") or {}, deployment.get("status") or {}
    if (status.get("observedGeneration") or 0) < (meta.get("generation") or 0):
        return False, None, "waiting for the deployment spec update to be observed"
    progressing = _condition(deployment, "Progressing")
    if progressing and progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        return False, "ProgressDeadlineExceeded", progressing.get("message") or "progress deadline exceeded"
    replicas = spec.get("replicas", 1)
    updated = status.get("updatedReplicas") or 0
    if updated < replicas:
        # availableReplicas counts the old revision's pods too: it says nothing about the new ones here
        return False, None, "%d of %d new replicas have been updated" % (updated, replicas)
    if (status.get("replicas") or 0) > updated:
        return False, None, "%d old replicas are pending termination" % ((status.get("replicas") or 0) - updated)
    if (status.get("availableReplicas") or 0) < updated:
        return False, None, "%d of %d updated replicas are available" % (status.get("availableReplicas") or 0, updated)
    return True, None, "successfully rolled out"


_TIMED_OUT_REPLICA_SET = re.compile(r'ReplicaSet "([^"]+)" has timed out progressing')


def deadline_is_stale(deployment: dict, new_hash: Optional[str]) -> Optional[bool]:
    """Whether a ProgressDeadlineExceeded condition is about an earlier revision than the current one.

    The condition's message names the ReplicaSet that timed out; the current revision's ReplicaSet is
    ``<deployment>-<new_hash>``. None when it cannot be told yet (the new ReplicaSet is not known).
    """
    progressing = _condition(deployment, "Progressing") or {}
    found = _TIMED_OUT_REPLICA_SET.search(progressing.get("message") or "")
    if not found:
        return False  # a message of another form: trust the condition
    if new_hash is None:
        return None
    return found.group(1) != "%s-%s" % ((deployment.get("metadata") or {}).get("name"), new_hash)


def pod_ready(pod: dict) -> bool:
    ready = _condition(pod, "Ready")
    return bool(ready and ready.get("status") == "True")


def pod_failure(pod: dict) -> Optional[str]:
    """The fail-fast reason of a pod (a container waiting reason), or None."""
    status = pod.get("status") or {}
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in FAIL_FAST_REASONS:
            return waiting["reason"]
    return None


def pod_unschedulable(pod: dict) -> Optional[str]:
    scheduled = _condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        return scheduled.get("message") or "Unschedulable"
    return None


def container_states(pod: dict) -> List[dict]:
    out = []
    status = pod.get("status") or {}
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = container.get("state") or {}
        text = "unknown"
        if "waiting" in state:
            text = "waiting %s %s" % (state["waiting"].get("reason") or "", state["waiting"].get("message") or "")
        elif "running" in state:
            text = "running, ready=%s" % container.get("ready")
        elif "terminated" in state:
            term = state["terminated"]
            text = "terminated exit code %s %s %s" % (term.get("exitCode"), term.get("reason") or "",
                                                      term.get("message") or "")
        last = (container.get("lastState") or {}).get("terminated")
        if last:
            text += "; last terminated with exit code %s (%s)" % (last.get("exitCode"), last.get("reason") or "")
        if container.get("restartCount"):
            text += "; %d restarts" % container["restartCount"]
        out.append({"name": container.get("name"), "state": text.strip()})
    return out


def exit_codes(pod: dict) -> List[int]:
    codes = []
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        term = (container.get("state") or {}).get("terminated")
        if term is not None:
            codes.append(int(term.get("exitCode") or 0))
    return codes


def selector_matches(selector: dict, labels: dict) -> bool:
    match = (selector or {}).get("matchLabels") or {}
    if not match and not (selector or {}).get("matchExpressions"):
        return False
    if any(labels.get(key) != value for key, value in match.items()):
        return False
    for expression in (selector or {}).get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _template_key(template) -> str:
    """A pod template as canonical JSON without the ``pod-template-hash`` label."""
    template = json.loads(json.dumps(template or {}))
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop("pod-template-hash", None)
    return json.dumps(template, sort_keys=True)


def pod_waiting_reason(pod: dict) -> str:
    """Why a pod is not ready, in a word or two (for progress lines)."""
    status = pod.get("status") or {}
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "terminating"
    unschedulable = pod_unschedulable(pod)
    if unschedulable:
        return "unschedulable"
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return waiting["reason"]
    phase = status.get("phase") or "Pending"
    return "running, not ready" if phase == "Running" else phase


PROGRESS_DETAILS = 5


def progress_line(pending: List[WaitTarget], done: List[WaitOutcome], deployments: Dict[str, dict],
                  pods: List[dict], elapsed: float, new_pods=None) -> str:
    """``waiting 20s: 1 of 3 workloads ready (worker); web: 1 of 2 updated replicas are available
    (pod web-5d8f-x2x: ContainerCreating)`` — at most PROGRESS_DETAILS pending workloads detailed."""
    total = len(pending) + len(done)
    parts = []
    for target in pending[:PROGRESS_DETAILS]:
        if target.kind == "Deployment":
            deployment = deployments.get(target.name)
            if deployment is None:
                parts.append("%s: not found yet" % target.name)
                continue
            text = "%s: %s" % (target.name, deployment_status(deployment)[2])
            mine = new_pods(deployment, pods) if new_pods is not None else []
            waiting = [pod for pod in mine if not pod_ready(pod)]
            if waiting:
                text += " (pod %s: %s)" % (waiting[0]["metadata"]["name"], pod_waiting_reason(waiting[0]))
        else:
            pod = next((p for p in pods if (p.get("metadata") or {}).get("name") == target.name), None)
            text = "%s: %s" % (target.ref, pod_waiting_reason(pod) if pod is not None else "not found yet")
        parts.append(text)
    if len(pending) > PROGRESS_DETAILS:
        parts.append("and %d more" % (len(pending) - PROGRESS_DETAILS))
    ready = ", ".join(outcome.target.name for outcome in done) if len(done) <= PROGRESS_DETAILS else ""
    head = "waiting %s: %d of %d workload%s ready%s" % (
        format_seconds(elapsed), len(done), total, "" if total == 1 else "s", (" (%s)" % ready) if ready else "")
    return "%s; %s" % (head, "; ".join(parts))


# --------------------------------------------------------------------------------------------------
# the waiter


class Waiter:
    """Polls a namespace until every target is done, one fails, or its timeout passes."""

    def __init__(self, cluster, namespace: str, poll: float = 0.5, unschedulable_grace: float = 10.0,
                 events: int = 6, clock=time.monotonic, sleep=time.sleep,
                 progress: Optional[Callable[[str], None]] = None, progress_interval: float = 10.0):
        self.cluster = cluster
        self.namespace = namespace
        self.poll = poll
        self.unschedulable_grace = unschedulable_grace
        self.events = events
        self.clock = clock
        self.sleep = sleep
        # progress(line): called at most once per progress_interval seconds while workloads are
        # still pending, with what is ready and what is not (see progress_line)
        self.progress = progress if progress_interval and progress_interval > 0 else None
        self.progress_interval = progress_interval
        self._unschedulable_since: Dict[str, float] = {}
        self._new_hash: Dict[tuple, Optional[str]] = {}
        self._index = None  # (the poll's pods, their index by label pair)
        self.polls = 0
        self.stalled = 0.0  # seconds the API server took to answer beyond ``slow_answer``, not charged
        self.slow_answer = 5.0

    def wait(self, targets: List[WaitTarget], fail_fast: bool = True) -> List[WaitOutcome]:
        """Wait for all targets; return their outcomes or raise RolloutError with the failures."""
        start = self.clock()
        last_report = start
        pending = list(targets)
        done: List[WaitOutcome] = []
        deployments_resource = self.cluster.resource("apps/v1", "Deployment")
        pods_resource = self.cluster.resource("v1", "Pod")
        while pending:
            self.polls += 1
            deployments = {}
            asked = self.clock()
            if any(target.kind == "Deployment" for target in pending):
                for item in self.cluster.list(deployments_resource, self.namespace):
                    deployments[item["metadata"]["name"]] = item
            pods = self.cluster.list(pods_resource, self.namespace)
            now = self.clock()
            if now - asked > self.slow_answer:
                # The API server was too slow to answer (overloaded, frozen, a network stall): the
                # controllers that roll the workloads out talk to it too, so that time is not charged
                # to the workloads' timeouts — a workload is never blamed for the API server.
                self.stalled += now - asked
            failures = []
            still = []
            for target in pending:
                elapsed = now - start - self.stalled
                if target.kind == "Deployment":
                    outcome = self._check_deployment(target, deployments.get(target.name), pods, elapsed, fail_fast)
                else:
                    outcome = self._check_pod(target, pods, elapsed, fail_fast)
                if outcome is None:
                    if elapsed > target.timeout:
                        failures.append(self._timeout(target, deployments.get(target.name), pods, elapsed))
                    else:
                        still.append(target)
                elif outcome.ok:
                    done.append(outcome)
                else:
                    failures.append(outcome)
            if failures:
                for outcome in failures:
                    for pod in outcome.pods:
                        pod["events"] = self._events(pod["name"])
                raise RolloutError(failures, still)
            pending = still
            if pending and self.progress is not None and now - last_report >= self.progress_interval:
                last_report = now
                self.progress(progress_line(pending, done, deployments, pods, now - start, self._new_pods))
            if pending:
                self.sleep(self.interval(len(deployments) + len(pods)))
        return done

    def interval(self, listed: int) -> float:
        """Seconds to the next poll: ``poll``, longer in a namespace of many objects (each poll lists
        them all; 200 services polled every 0.5 s cost the controller as much CPU as the control plane
        needs to roll them out), at most ``MAX_POLL``."""
        return min(max(self.poll, self.poll * listed / OBJECTS_PER_POLL), max(self.poll, MAX_POLL))

    # -- deployments -------------------------------------------------------------------------------

    def _check_deployment(self, target, deployment, pods, elapsed, fail_fast) -> Optional[WaitOutcome]:
        if deployment is None:
            return WaitOutcome(target, False, elapsed, "Deleted", "the deployment disappeared while waiting")
        ok, failure, message = deployment_status(deployment)
        if ok:
            return WaitOutcome(target, True, elapsed, message=message)
        if failure == "ProgressDeadlineExceeded" and deadline_is_stale(
                deployment, self._new_template_hash(deployment)) is not False:
            return None  # an earlier revision's deadline (or not known yet): judge again at the next poll
        if failure:
            return WaitOutcome(target, False, elapsed, failure, message,
                               pods=[self._pod_report(pod) for pod in self._new_pods(deployment, pods)
                                     if not pod_ready(pod)][:5])
        if not fail_fast:
            return None
        failing = []
        reason = None
        for pod in self._new_pods(deployment, pods):
            why = pod_failure(pod) or self._unschedulable(pod)
            if why:
                reason = reason or why
                failing.append(pod)
        if failing:
            return WaitOutcome(target, False, elapsed, reason, "%d pod(s) of the new revision cannot become ready"
                               % len(failing), pods=[self._pod_report(pod) for pod in failing[:5]])
        return None

    def _new_pods(self, deployment, pods) -> List[dict]:
        """Pods of the Deployment's current revision (old ReplicaSets' pods are not its concern)."""
        selector = (deployment.get("spec") or {}).get("selector") or {}
        mine = [pod for pod in self._candidates(selector, pods) if not (pod.get("metadata") or {}).get("deletionTimestamp")
                and selector_matches(selector, (pod.get("metadata") or {}).get("labels") or {})]
        if not mine:
            return []
        suspicious = [pod for pod in mine if pod_failure(pod) or pod_unschedulable(pod)]
        if not suspicious:
            return mine
        new_hash = self._new_template_hash(deployment)
        if new_hash is None:
            # Which ReplicaSet is the new one is not settled yet (the controller updates the
            # revision annotations one after the other): judge again at the next poll.
            return []
        return [pod for pod in mine if ((pod.get("metadata") or {}).get("labels") or {}).get("pod-template-hash") == new_hash]

    def _candidates(self, selector: dict, pods: List[dict]) -> List[dict]:
        """The pods that carry the selector's first ``matchLabels`` pair (all of them without one),
        from an index of the poll's pods by label: each Deployment does not scan every pod."""
        match = (selector or {}).get("matchLabels") or {}
        if not match:
            return pods
        if self._index is None or self._index[0] is not pods:
            index: Dict[tuple, List[dict]] = {}
            for pod in pods:
                for pair in ((pod.get("metadata") or {}).get("labels") or {}).items():
                    index.setdefault(pair, []).append(pod)
            self._index = (pods, index)
        return self._index[1].get(next(iter(match.items())), [])

    def _new_template_hash(self, deployment) -> Optional[str]:
        """The ``pod-template-hash`` of the Deployment's new ReplicaSet: the one whose pod template
        equals the Deployment's (ignoring that label), as the deployment controller decides it.

        Only needed on the failure path (a pod looks broken), so it costs a LIST of ReplicaSets then.
        """
        meta = deployment.get("metadata") or {}
        key = (meta.get("uid"), meta.get("generation"))
        if key in self._new_hash:
            return self._new_hash[key]
        wanted = _template_key((deployment.get("spec") or {}).get("template"))
        found = None
        try:
            replica_sets = self.cluster.list(self.cluster.resource("apps/v1", "ReplicaSet"), self.namespace)
        except ClusterError:
            replica_sets = []
        for rs in replica_sets:
            rs_meta = rs.get("metadata") or {}
            if meta.get("uid") not in [owner.get("uid") for owner in rs_meta.get("ownerReferences") or []]:
                continue
            if _template_key((rs.get("spec") or {}).get("template")) == wanted:
                found = (rs_meta.get("labels") or {}).get("pod-template-hash")
                break
        if found is not None:
            self._new_hash[key] = found
        return found

    def _unschedulable(self, pod) -> Optional[str]:
        message = pod_unschedulable(pod)
        uid = (pod.get("metadata") or {}).get("uid") or (pod.get("metadata") or {}).get("name")
        if not message:
            self._unschedulable_since.pop(uid, None)
            return None
        since = self._unschedulable_since.setdefault(uid, self.clock())
        if self.clock() - since >= self.unschedulable_grace:
            return "Unschedulable"
        return None

    # -- pods --------------------------------------------------------------------------------------

    def _check_pod(self, target, pods, elapsed, fail_fast) -> Optional[WaitOutcome]:
        pod = next((p for p in pods if p["metadata"]["name"] == target.name), None)
        if pod is None:
            return WaitOutcome(target, False, elapsed, "Deleted", "the pod disappeared while waiting")
        phase = (pod.get("status") or {}).get("phase")
        if target.attached:
            if phase == "Succeeded":
                return WaitOutcome(target, True, elapsed, message="completed", output=self._logs(target.name))
            if phase == "Failed":
                codes = exit_codes(pod)
                return WaitOutcome(target, False, elapsed, "Failed",
                                   "did not end successfully (exit code %s)" % (", ".join(str(c) for c in codes) or "unknown"),
                                   pods=[self._pod_report(pod)], output=self._logs(target.name))
        else:
            if phase == "Succeeded" or (phase == "Running" and pod_ready(pod)):
                return WaitOutcome(target, True, elapsed, message="ready" if phase == "Running" else "completed")
            if phase == "Failed":
                return WaitOutcome(target, False, elapsed, "Failed", "the pod failed", pods=[self._pod_report(pod)])
        if fail_fast:
            why = pod_failure(pod) or self._unschedulable(pod)
            if why:
                return WaitOutcome(target, False, elapsed, why, "the pod cannot start", pods=[self._pod_report(pod)])
        return None

    def _logs(self, name: str) -> str:
        try:
            path = self.cluster.resource("v1", "Pod").path(name, self.namespace, "log")
            text = self._raw_get(path, {"tailLines": "200"})
            return text if text else "(no output)"
        except ClusterError as error:
            return "%s: %s" % (LOGS_UNAVAILABLE, error)

    def _raw_get(self, path: str, query: dict) -> str:
        """GET returning text (pod logs are not JSON), through the Cluster's client."""
        api = self.cluster.api
        try:
            method, url, headers, body, post = api.param_serialize(
                "GET", path, query_params=list(query.items()), header_params={"Accept": "*/*"},
                auth_settings=["BearerToken"])
            response = api.call_api(method, url, header_params=headers, body=body, post_params=post,
                                    _request_timeout=15)
            data = response.read()
            status = response.status
        except Exception as error:  # urllib3 or client errors: logs are best effort
            raise ClusterError(str(error)[:300], status=0)
        if not 200 <= status <= 299:
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
            try:
                text = json.loads(text).get("message") or text
            except (ValueError, AttributeError):
                pass
            raise ClusterError("HTTP %s: %s" % (status, text[:300]), status=status)
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")

    # -- reports -----------------------------------------------------------------------------------

    def _timeout(self, target, deployment, pods, elapsed) -> WaitOutcome:
        message = "timed out after %ds" % target.timeout
        reports = []
        if target.kind == "Deployment" and deployment is not None:
            state = deployment_status(deployment)[2]
            message += " (%s)" % state
            reports = [self._pod_report(pod) for pod in self._new_pods(deployment, pods) if not pod_ready(pod)][:5]
        elif target.kind == "Pod":
            reports = [self._pod_report(pod) for pod in pods if pod["metadata"]["name"] == target.name]
        return WaitOutcome(target, False, elapsed, "Timeout", message, pods=reports)

    def _pod_report(self, pod: dict) -> dict:
        status = pod.get("status") or {}
        return {
            "name": pod["metadata"]["name"],
            "phase": status.get("phase"),
            "conditions": [{key: condition.get(key) for key in ("type", "status", "reason", "message")
                            if condition.get(key)}
                           for condition in status.get("conditions") or [] if condition.get("status") != "True"],
            "containers": container_states(pod),
        }

    def _events(self, pod_name: str) -> List[dict]:
        try:
            items = self.cluster.list(self.cluster.resource("v1", "Event"), self.namespace,
                                      field_selector="involvedObject.name=%s" % pod_name)
        except ClusterError:
            return []

        def when(event):
            return event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or ""

        items.sort(key=when)
        return [{"type": event.get("type"), "reason": event.get("reason"), "message": event.get("message"),
                 "count": event.get("count") or 1} for event in items[-self.events:]]
