# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning a deployment: what is live, what is desired, and what has to change.

Every object this collection applies is *stamped* first:

* label ``continuouspipe.io/task: <task>`` (the deploy task that owns it; the scope of pruning and of
  the release history), ``app.kubernetes.io/managed-by: continuouspipe.kubernetes`` and
  ``continuouspipe.io/project: <flow uuid>`` (the project it belongs to, see ``ownership.py``). The
  Namespace is shared by every task deploying into it, so it carries no task label;
* annotation ``continuouspipe.io/applied``: the sha256 of the canonical desired manifest (stamped,
  without this annotation). For Secrets, ``data`` is left out of the hash: a hash of secret data in an
  annotation would let anyone who can read the object test guesses of the value. Secret data is
  compared to the live ``data`` exactly instead (``stringData`` is normalised to base64 ``data``).

An object is **unchanged** — and gets no request at all — when (a) the live annotation equals the
desired hash and (b) the desired manifest is a subset of the live object: dicts are subsets, lists
have the same length and their items match in order, values the API server omits when empty
(``""``, ``0``, ``false``, ``[]``, ``{}``) may be absent, resource quantities are compared by value
(``0.5`` == ``500m``). (a) notices a change of the definition, (b) a change made by someone else
(``kubectl edit``): both trigger an apply. What others *add* (labels, annotations, ``replicas`` set
by ``kubectl scale`` or an autoscaler) is not a difference.

The live state is read with one LIST per kind in the namespace, never one GET per object.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Dict, Iterable, List, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import kinds
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError

try:
    # Free in the modules: connection.py has already imported the kubernetes package (whose
    # __init__ imports kubernetes.utils). Imported on its own it costs ~0.5 s.
    from kubernetes.utils.quantity import parse_quantity
except ImportError:  # pragma: no cover - the modules report the missing client before planning
    parse_quantity = None

FIELD_MANAGER = "continuouspipe.kubernetes"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "continuouspipe.kubernetes"
TASK_LABEL = "continuouspipe.io/task"
SERVICE_LABEL = "continuouspipe.io/service"
COMPONENT_LABEL = "component-identifier"
APPLIED_ANNOTATION = "continuouspipe.io/applied"
PROJECT_LABEL = "continuouspipe.io/project"
ORIGIN_ANNOTATION = "continuouspipe.io/namespace-origin"
RELEASE_SECRET_TYPE = "continuouspipe.io/release"

# Actions of a plan entry.
CREATE = "create"
UPDATE = "update"
UNCHANGED = "unchanged"
LOCKED = "locked"  # exists and its component is locked: never touched again
DELETE = "delete"  # pruned

# Apply order, workloads, kinds listed for pruning: the kind registry (module_utils/kinds.py).
WORKLOAD_KINDS = kinds.workload_kinds()
# Kinds listed for pruning even when nothing desired has them (a removed service may have been the
# only one with an Ingress), on Kubernetes; ``kinds.listed_kinds(platform)`` on another platform.
BASE_KINDS = kinds.listed_kinds("kubernetes")

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


# --------------------------------------------------------------------------------------------------
# identity and stamping


def key_of(obj: dict) -> Tuple[str, str]:
    """(kind, name): the identity of an object inside one environment."""
    return obj.get("kind", ""), (obj.get("metadata") or {}).get("name", "")


def ref(obj: dict) -> str:
    return "%s/%s" % key_of(obj)


def task_label_value(task: str) -> str:
    """The task identifier as a valid label value (hash-suffixed when it had to be changed)."""
    if len(task) <= 63 and _LABEL_VALUE.match(task):
        return task
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", task).strip("-_.")[:54].strip("-_.")
    return "%s-%s" % (cleaned or "task", hashlib.sha256(task.encode("utf-8")).hexdigest()[:8])


def task_selector(task: str) -> str:
    return "%s=%s,%s=%s" % (TASK_LABEL, task_label_value(task), MANAGED_BY_LABEL, MANAGED_BY)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def normalise_secret(obj: dict) -> dict:
    """``stringData`` folded into base64 ``data`` (what the API server stores and returns)."""
    if obj.get("kind") != "Secret" or "stringData" not in obj:
        return obj
    data = dict(obj.get("data") or {})
    for key, value in (obj.get("stringData") or {}).items():
        data[key] = _b64(value if isinstance(value, str) else json.dumps(value))
    obj = dict(obj)
    del obj["stringData"]
    obj["data"] = {key: data[key] for key in sorted(data)}
    return obj


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def applied_hash(obj: dict) -> str:
    """sha256 of the canonical manifest without the hash annotation (and without Secret data)."""
    body = copy.deepcopy(obj)
    annotations = (body.get("metadata") or {}).get("annotations")
    if annotations:
        annotations.pop(APPLIED_ANNOTATION, None)
        if not annotations:
            del body["metadata"]["annotations"]
    if body.get("kind") == "Secret":
        body.pop("data", None)
        body.pop("stringData", None)
    return "sha256:" + hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def stamp(obj: dict, task: str, namespace: Optional[str], project: Optional[str] = None,
          origin: Optional[str] = None) -> dict:
    """A copy of ``obj`` with our labels, the namespace, and the applied-hash annotation.

    ``project`` is the owning project (label ``continuouspipe.io/project``); ``origin`` the
    Namespace's ``continuouspipe.io/namespace-origin`` annotation (created or adopted).
    """
    obj = normalise_secret(copy.deepcopy(obj))
    meta = obj.setdefault("metadata", {})
    labels = meta.setdefault("labels", {})
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    if project:
        labels[PROJECT_LABEL] = project
    if kinds.is_anchor(obj):
        # shared by every task of the environment: no task label
        if obj.get("kind") == "Namespace":
            meta.pop("namespace", None)
        elif namespace:
            meta["namespace"] = namespace
        if origin:
            meta.setdefault("annotations", {})[ORIGIN_ANNOTATION] = origin
    else:
        labels[TASK_LABEL] = task_label_value(task)
        if namespace:
            meta["namespace"] = namespace
    meta.setdefault("annotations", {})[APPLIED_ANNOTATION] = applied_hash(obj)
    return obj


def apply_order(obj: dict) -> int:
    return kinds.order(obj)


# --------------------------------------------------------------------------------------------------
# comparison

_QUANTITY_PARENTS = ("requests", "limits", "capacity", "hard", "sizeLimit")


def quantity(value) -> Optional[Decimal]:
    """The value of a Kubernetes quantity (``500m``, ``1Gi``, ``2``, ``1e3``), or None.

    Parsing is the official client's (``kubernetes.utils.parse_quantity``); ints and floats are taken
    by their decimal text (``0.1`` is 0.1, not the float's binary value), booleans are no quantity.
    """
    if isinstance(value, bool) or parse_quantity is None:
        return None
    if isinstance(value, float):
        value = str(value)
    elif not isinstance(value, (int, str)):
        return None
    try:
        return parse_quantity(value.strip() if isinstance(value, str) else value)
    except (ValueError, ArithmeticError):
        return None


def _empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {} or value is False or (
        isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0)


def differences(desired, live, path: Tuple = ()):
    """Every place where ``desired`` is not contained in ``live``: (path, expected, actual), in order.

    ``path`` is a tuple of keys and list indexes; ``actual`` is None where ``live`` lacks the value.
    """
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            yield path, desired, live
            return
        for key, value in desired.items():
            if key not in live:
                if not _empty(value):
                    yield path + (key,), value, None
                continue
            yield from differences(value, live[key], path + (key,))
        return
    if isinstance(desired, list):
        if not isinstance(live, list) or len(desired) != len(live):
            yield path, desired, live
            return
        for index, (want, have) in enumerate(zip(desired, live)):
            yield from differences(want, have, path + (index,))
        return
    if desired == live and type(desired) is type(live):
        return
    if any(part in _QUANTITY_PARENTS for part in path if isinstance(part, str)):
        a, b = quantity(desired), quantity(live)
        if a is not None and a == b:
            return
    if desired is None and live is None:
        return
    yield path, desired, live


def difference(desired, live, path: Tuple = ()) -> Optional[str]:
    """The path of the first place where ``desired`` is not contained in ``live``, or None."""
    for found, _want, _have in differences(desired, live, path):
        return _path(found) or "."
    return None


def _path(path) -> str:
    out = ""
    for part in path:
        out += "[%d]" % part if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def without_injected_pod_fields(live: dict) -> dict:
    """A live Pod without what admission adds (the service account token volume and its mounts)."""
    live = copy.deepcopy(live)
    spec = live.get("spec") or {}
    injected = {v.get("name") for v in spec.get("volumes") or [] if str(v.get("name", "")).startswith("kube-api-access-")}
    if injected:
        spec["volumes"] = [v for v in spec["volumes"] if v.get("name") not in injected]
        for field_name in ("containers", "initContainers"):
            for container in spec.get(field_name) or []:
                if container.get("volumeMounts"):
                    container["volumeMounts"] = [m for m in container["volumeMounts"] if m.get("name") not in injected]
                    if not container["volumeMounts"]:
                        del container["volumeMounts"]
        if not spec["volumes"]:
            del spec["volumes"]
    return live


def drift(desired: dict, live: dict) -> Optional[str]:
    """Why ``live`` does not hold ``desired`` (a field path), or None when it does."""
    live_hash = ((live.get("metadata") or {}).get("annotations") or {}).get(APPLIED_ANNOTATION)
    want_hash = ((desired.get("metadata") or {}).get("annotations") or {}).get(APPLIED_ANNOTATION)
    if live_hash != want_hash:
        return "metadata.annotations.%s" % APPLIED_ANNOTATION
    if desired.get("kind") == "Secret":
        if (desired.get("data") or {}) != (live.get("data") or {}):
            return "data"
        desired = {key: value for key, value in desired.items() if key != "data"}
    if desired.get("kind") == "Pod":
        live = without_injected_pod_fields(live)
    return difference(desired, live)


# --------------------------------------------------------------------------------------------------
# live state


@dataclass
class LiveState:
    """What the namespace holds, from one LIST per kind (plus one GET of the Namespace)."""

    namespace: str
    namespace_object: Optional[dict] = None
    objects: Dict[Tuple[str, str], dict] = field(default_factory=dict)
    listed_kinds: List[Tuple[str, str]] = field(default_factory=list)

    def get(self, kind: str, name: str) -> Optional[dict]:
        if kind == "Namespace":
            return self.namespace_object if name == self.namespace else None
        return self.objects.get((kind, name))

    def put(self, obj: dict) -> None:
        kind, name = key_of(obj)
        if kind == "Namespace":
            self.namespace_object = obj
        else:
            self.objects[(kind, name)] = obj

    def forget(self, kind: str, name: str) -> None:
        self.objects.pop((kind, name), None)

    def owned_by_task(self, task: str) -> List[dict]:
        """Objects labelled with the task (release Secrets excluded)."""
        value = task_label_value(task)
        out = []
        for obj in self.objects.values():
            labels = (obj.get("metadata") or {}).get("labels") or {}
            if labels.get(TASK_LABEL) != value or labels.get(MANAGED_BY_LABEL) != MANAGED_BY:
                continue
            if obj.get("kind") == "Secret" and obj.get("type") == RELEASE_SECRET_TYPE:
                continue
            out.append(obj)
        return out


def read_live(cluster, namespace: str, task: str, listed: Iterable[Tuple[str, str]], all_pods: bool = False,
              optional: Iterable[Tuple[str, str]] = ()) -> LiveState:
    """LIST every kind in ``listed`` in the namespace (one request each).

    Pods are listed by the task label unless ``all_pods`` (needed when bare Pods are desired: a pod
    of that name made by someone else must be seen). Kinds in ``optional`` that the cluster does not
    serve are left out (listed to prune them, not because something desired has them).
    """
    state = LiveState(namespace)
    state.namespace_object = cluster.get(cluster.resource("v1", "Namespace"), namespace)
    if state.namespace_object is None:
        return state
    optional = set(optional)
    seen = set()
    for api_version, kind in listed:
        if (api_version, kind) in seen or kind == "Namespace":
            continue
        seen.add((api_version, kind))
        try:
            resource = cluster.resource(api_version, kind)
        except ClusterError as error:
            if error.status == 404 and (api_version, kind) in optional:
                continue
            raise
        if not resource.namespaced:
            raise ClusterError("%s %s is not namespaced; a deploy only writes inside its namespace" % (api_version, kind))
        selector = task_selector(task) if kind == "Pod" and not all_pods else None
        for item in cluster.list(resource, namespace, label_selector=selector):
            state.put(item)
        state.listed_kinds.append((api_version, kind))
    return state


# --------------------------------------------------------------------------------------------------
# the plan


@dataclass
class Change:
    """What happens to one object. ``before`` is the live object (None when missing), ``after`` the
    stamped desired manifest (None for a deletion)."""

    action: str
    kind: str
    name: str
    before: Optional[dict] = None
    after: Optional[dict] = None
    component: Optional[str] = None
    reason: Optional[str] = None
    result: Optional[dict] = None  # what the API server returned
    # fields of the live pod template set by other field managers, to remove (ownership.ForeignField)
    foreign: list = field(default_factory=list)

    @property
    def ref(self) -> str:
        return "%s/%s" % (self.kind, self.name)

    @property
    def writes(self) -> bool:
        return self.action in (CREATE, UPDATE, DELETE)

    def summary(self) -> dict:
        past = {CREATE: "created", UPDATE: "updated", DELETE: "deleted", UNCHANGED: "unchanged", LOCKED: "locked"}
        return {"kind": self.kind, "name": self.name, "action": past.get(self.action, self.action)}


def classify(desired: dict, live: Optional[dict], locked: bool = False, component: Optional[str] = None) -> Change:
    kind, name = key_of(desired)
    if live is None:
        return Change(CREATE, kind, name, None, desired, component)
    if (live.get("metadata") or {}).get("deletionTimestamp"):
        # Being deleted (finalizers still running, e.g. a claim still mounted): created again once gone.
        return Change(CREATE, kind, name, live, desired, component, reason="waiting for the deletion to finish")
    if kind == "PersistentVolumeClaim":
        # Created when missing, never modified (docs/behaviour.md §9.4): a claim cannot be resized or
        # re-classed safely by a deploy.
        return Change(UNCHANGED, kind, name, live, desired, component, reason="claims are never modified")
    if locked and not kinds.is_anchor_key(kind, name):
        return Change(LOCKED, kind, name, live, desired, component, reason="component is locked")
    why = drift(desired, live)
    if why is None:
        return Change(UNCHANGED, kind, name, live, desired, component)
    return Change(UPDATE, kind, name, live, desired, component, reason=why)
