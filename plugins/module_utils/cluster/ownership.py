# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who an environment and its objects belong to, proven by the API server, not by labels alone.

Every object this collection writes carries the label ``continuouspipe.io/project: <flow uuid>``
(the project's identity, see ``source.project_identity``). A label can be written by anyone who can
edit the object — ``kubectl label``, a copied manifest — so a label is only believed when the API
server's own bookkeeping says that this collection wrote it: the object's ``metadata.managedFields``
must show the field manager ``continuouspipe.kubernetes`` owning that label. Someone who labels an
object by hand shows up as ``kubectl-label``, ``kubectl-edit``, ``kubectl-client-side-apply``…

What that gives:

* :func:`owner_of` — the project an object (or a Namespace) belongs to: ``Owner(project, proven)``.
  ``project`` None with ``managed`` True is an object written by an earlier version of this collection
  (before the project label existed): it belongs to whoever owns its namespace.
* :func:`check_namespace` — may this project deploy into, prune in, or tear down this namespace?
  An environment owned by another project, written by ContinuousPipe, labelled by hand, or made by
  someone else altogether is refused with an error naming the owner and ``take_over``.
* :func:`check_objects` — the same for each object a deploy is about to write.
* :func:`foreign_fields` — the fields of a Deployment's pod template that other field managers set
  (``kubectl set env``): a deploy and a rollback remove them so that the template is exactly the
  release's (option ``foreign_fields``).

``managedFields`` paths (``fieldsV1``) are trees of ``f:<field>``, ``k:<json key of a list item>``,
``v:<json value of a set item>`` and ``i:<index>`` keys; ``.`` marks the node itself as owned.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import kinds
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import plan as planning
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ContinuousPipeError

FIELD_MANAGER = planning.FIELD_MANAGER
# Field managers of this collection (server-side apply, creates, and the template restore).
OUR_MANAGERS = frozenset((FIELD_MANAGER, FIELD_MANAGER + "-rollback"))
PROJECT_LABEL = planning.PROJECT_LABEL
MANAGED_BY_LABEL = planning.MANAGED_BY_LABEL
MANAGED_BY = planning.MANAGED_BY
# "created" when this collection created the namespace (a teardown deletes it), "adopted" when it
# took over an existing one (a teardown deletes only what the collection wrote in it).
ORIGIN_ANNOTATION = planning.ORIGIN_ANNOTATION
CREATED = "created"
ADOPTED = "adopted"
# ContinuousPipe's namespace labels.
CP_CREATED_BY_LABEL = "created-by"
CP_CREATED_BY = "continuous-pipe"
CP_FLOW_LABEL = "flow"
# Template fields others may set without it being drift: `kubectl rollout restart` stamps this
# annotation; removing it would restart every pod once more for nothing.
TOLERATED_TEMPLATE_FIELDS = (("metadata", "annotations", "kubectl.kubernetes.io/restartedAt"),)

TAKE_OVER_HINT = "set take_over: true to make it this project's deliberately"


class OwnershipError(ContinuousPipeError):
    """A namespace or object that this project does not own; nothing was written."""


@dataclass(frozen=True)
class Owner:
    """Who an object belongs to.

    ``project``: the project label's value, when this collection's field manager set it.
    ``managed``: this collection's field manager wrote the object (its managed-by label).
    ``claimed``: the project label's value whoever set it (shown in errors, never trusted).
    ``managers``: the field managers that wrote the object's spec/labels (for errors).
    """

    project: Optional[str]
    managed: bool
    claimed: Optional[str] = None
    managers: Tuple[str, ...] = ()
    managed_by: Optional[str] = None  # the app.kubernetes.io/managed-by label of another tool

    @property
    def legacy(self) -> bool:
        """Written by this collection before projects were recorded."""
        return self.managed and self.project is None

    def describe(self) -> str:
        if self.project:
            return "project %s" % self.project
        if self.legacy:
            return "this collection, with no project recorded (an earlier version)"
        if self.managed_by and self.managed_by != MANAGED_BY:
            return "another tool (managed by %r, label %s)" % (self.managed_by, MANAGED_BY_LABEL)
        if self.claimed:
            return "nobody this collection knows (labelled %s=%s by %s, not by this collection)" % (
                PROJECT_LABEL, self.claimed, ", ".join(self.managers) or "an unknown manager")
        if self.managers:
            return "nobody this collection knows (written by %s)" % ", ".join(self.managers)
        return "nobody this collection knows"


# --------------------------------------------------------------------------------------------------
# managedFields


def _entries(obj: Optional[dict]) -> List[dict]:
    return list(((obj or {}).get("metadata") or {}).get("managedFields") or [])


def _walk(fields: dict, path: Iterable[str]) -> Optional[dict]:
    node = fields
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, dict) else None


def _field_path(path: Iterable[str]) -> Tuple[str, ...]:
    return tuple("f:%s" % part for part in path)


def managers_owning(obj: Optional[dict], path: Iterable[str], subresource: str = "") -> List[str]:
    """The field managers whose managedFields own the field at ``path`` (plain field names)."""
    keys = _field_path(path)
    out = []
    for entry in _entries(obj):
        if (entry.get("subresource") or "") != subresource:
            continue
        if _walk(entry.get("fieldsV1") or {}, keys) is not None:
            manager = entry.get("manager") or "unknown"
            if manager not in out:
                out.append(manager)
    return out


def writers(obj: Optional[dict]) -> List[str]:
    """Field managers of the object's main resource (not of its status), in managedFields order."""
    out = []
    for entry in _entries(obj):
        if (entry.get("subresource") or "") == "" and (entry.get("manager") or "unknown") not in out:
            out.append(entry.get("manager") or "unknown")
    return out


def owns(obj: Optional[dict], path: Iterable[str]) -> bool:
    """True when one of this collection's field managers owns the field at ``path``."""
    return any(manager in OUR_MANAGERS for manager in managers_owning(obj, path))


def owner_of(obj: Optional[dict]) -> Owner:
    meta = (obj or {}).get("metadata") or {}
    labels = meta.get("labels") or {}
    claimed = labels.get(PROJECT_LABEL) or None
    project = claimed if claimed and owns(obj, ("metadata", "labels", PROJECT_LABEL)) else None
    managed = labels.get(MANAGED_BY_LABEL) == MANAGED_BY and owns(obj, ("metadata", "labels", MANAGED_BY_LABEL))
    others = tuple(manager for manager in writers(obj) if manager not in OUR_MANAGERS)
    return Owner(project, managed or project is not None, claimed, others, labels.get(MANAGED_BY_LABEL))


def is_ours(obj: Optional[dict], project: str, namespace_legacy: bool = False) -> bool:
    """The object belongs to ``project`` (or is a legacy object of a namespace ``project`` owns)."""
    owner = owner_of(obj)
    if owner.project is not None:
        return owner.project == project
    return owner.legacy and namespace_legacy


# --------------------------------------------------------------------------------------------------
# namespaces


@dataclass
class NamespaceVerdict:
    """What a project may do with a namespace: ``state`` is ``missing``, ``ours``, ``legacy`` (an
    environment of an earlier version: becomes the project's on the next write), or ``taken-over``."""

    state: str
    origin: Optional[str] = None
    warning: Optional[str] = None
    created: bool = False  # created by this run (lock.claim_namespace)

    @property
    def created_by_us(self) -> bool:
        return self.origin == CREATED


def namespace_origin(namespace: Optional[dict]) -> Optional[str]:
    meta = (namespace or {}).get("metadata") or {}
    origin = (meta.get("annotations") or {}).get(ORIGIN_ANNOTATION)
    if origin and owns(namespace, ("metadata", "annotations", ORIGIN_ANNOTATION)):
        return origin
    return None


def check_namespace(namespace: Optional[dict], project: str, take_over: bool = False,
                    action: str = "deploy to", hint: str = TAKE_OVER_HINT) -> NamespaceVerdict:
    """May ``project`` write in ``namespace`` (the live object, None when missing)? Raises OwnershipError."""
    if namespace is None:
        return NamespaceVerdict("missing", CREATED)
    name = (namespace.get("metadata") or {}).get("name")
    owner = owner_of(namespace)
    origin = namespace_origin(namespace)
    if owner.project == project:
        return NamespaceVerdict("ours", origin or CREATED)
    if owner.legacy:
        # An environment of this collection from before projects were recorded: the project that
        # deploys to it by name now records itself (the namespace was named after it).
        return NamespaceVerdict("legacy", origin or CREATED, warning=(
            "namespace %s was created by an earlier version of this collection and records no project; "
            "it is now recorded as project %s's" % (name, project)))
    if take_over:
        return NamespaceVerdict("taken-over", origin if owner.project else ADOPTED, warning=(
            "namespace %s (owned by %s) was taken over by project %s (take_over: true)"
            % (name, namespace_owner_text(namespace, owner), project)))
    raise OwnershipError("refusing to %s namespace %s: it is owned by %s, not by project %s; %s" % (
        action, name, namespace_owner_text(namespace, owner), project, hint))


def namespace_owner_text(namespace: dict, owner: Owner) -> str:
    labels = ((namespace.get("metadata") or {}).get("labels")) or {}
    if owner.project:
        return "project %s" % owner.project
    if labels.get(CP_CREATED_BY_LABEL) == CP_CREATED_BY:
        flow = labels.get(CP_FLOW_LABEL)
        return "ContinuousPipe%s (not yet by this collection)" % (" (flow %s)" % flow if flow else "")
    return owner.describe()


# --------------------------------------------------------------------------------------------------
# objects


def check_objects(changes, project: str, namespace_legacy: bool, take_over: bool = False) -> List[str]:
    """Refuse to overwrite objects that exist and are not this project's (unless ``take_over``).

    ``changes`` are plan Changes (``before`` is the live object). Returns warnings for objects taken
    over; raises OwnershipError naming every refused object and its owner.
    """
    refused, taken = [], []
    for change in changes:
        if change.before is None or kinds.is_anchor_key(change.kind, change.name) or not change.writes:
            continue
        if is_ours(change.before, project, namespace_legacy):
            continue
        owner = owner_of(change.before)
        if owner.legacy and not namespace_legacy:
            # written by this collection (earlier version) in a namespace this project owns
            continue
        (taken if take_over else refused).append("%s (owned by %s)" % (change.ref, owner.describe()))
    if refused:
        raise OwnershipError("refusing to overwrite objects that project %s does not own: %s; %s" % (
            project, "; ".join(refused), TAKE_OVER_HINT))
    return ["taken over by project %s (take_over: true): %s" % (project, "; ".join(taken))] if taken else []


# --------------------------------------------------------------------------------------------------
# fields of a pod template set by others


@dataclass(frozen=True)
class ForeignField:
    """A field of the live object that another field manager set and this collection does not."""

    manager: str
    path: Tuple  # resolved path in the object: str keys and int list indexes
    value: object

    def to_dict(self) -> dict:
        return {"path": path_text(self.path), "manager": self.manager, "expected": None, "actual": self.value}


def path_text(path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += "[%d]" % part
        else:
            out += ("." if out else "") + str(part)
    return out or "."


def _item_index(items, key: str) -> Optional[int]:
    """The index of the list item a ``k:{...}`` / ``v:...`` / ``i:N`` key designates."""
    if not isinstance(items, list):
        return None
    kind, raw = key.split(":", 1) if ":" in key else (key, "")
    try:
        wanted = json.loads(raw) if kind in ("k", "v") else int(raw)
    except ValueError:
        return None
    if kind == "i":
        return wanted if 0 <= wanted < len(items) else None
    for index, item in enumerate(items):
        if kind == "v" and item == wanted:
            return index
        if kind == "k" and isinstance(item, dict) and isinstance(wanted, dict) \
                and all(item.get(name) == value for name, value in wanted.items()):
            return index
    return None


def _owned_paths(fields: dict, live, path: Tuple) -> Iterable[Tuple[Tuple, object]]:
    """(resolved path, value) of every node a fieldsV1 tree owns as a whole ("." or a leaf)."""
    if not isinstance(fields, dict):
        return
    if not fields or "." in fields:
        yield path, live
        if not fields:
            return
    for key, child in fields.items():
        if key == ".":
            continue
        if key.startswith("f:"):
            name = key[2:]
            if isinstance(live, dict) and name in live:
                yield from _owned_paths(child, live[name], path + (name,))
        else:
            index = _item_index(live, key)
            if index is not None:
                yield from _owned_paths(child, live[index], path + (index,))


def foreign_fields(live: Optional[dict], root: Tuple[str, ...] = ("spec", "template")) -> List[ForeignField]:
    """Fields under ``root`` owned only by field managers other than this collection's.

    Only the outermost such node is returned (an env entry, not its name and value), with its value.
    """
    if not live:
        return []
    keys = _field_path(root)
    ours = set()
    theirs: Dict[Tuple, Tuple[str, object]] = {}
    base = live
    for part in root:
        base = (base or {}).get(part) if isinstance(base, dict) else None
    if base is None:
        return []
    for entry in _entries(live):
        if (entry.get("subresource") or "") != "":
            continue
        subtree = _walk(entry.get("fieldsV1") or {}, keys)
        if subtree is None:
            continue
        manager = entry.get("manager") or "unknown"
        for path, value in _owned_paths(subtree, base, ()):
            if manager in OUR_MANAGERS:
                ours.add(path)
            else:
                theirs.setdefault(path, (manager, value))
    found = []
    for path in sorted(theirs, key=lambda p: (len(p), [str(part) for part in p])):
        if path in ours or any(path[:len(t)] == t for t in TOLERATED_TEMPLATE_FIELDS):
            continue
        if any(path[:len(other.path) - len(root)] == other.path[len(root):] for other in found):
            continue  # inside a node already reported
        # a node that holds a field of ours is not foreign as a whole (e.g. the env list itself)
        if any(mine[:len(path)] == path for mine in ours):
            continue
        manager, value = theirs[path]
        found.append(ForeignField(manager, tuple(root) + path, value))
    return found


def strip_managed_fields(entries: List[dict], root: Tuple[str, ...] = ("spec", "template")) -> List[dict]:
    """managedFields with every other manager's ownership under ``root`` dropped (entries left empty go)."""
    keys = _field_path(root)
    out = []
    for entry in entries:
        manager = entry.get("manager") or ""
        fields = entry.get("fieldsV1")
        if manager in OUR_MANAGERS or (entry.get("subresource") or "") != "" or not isinstance(fields, dict):
            out.append(entry)
            continue
        fields = json.loads(json.dumps(fields))
        parents = [fields]
        for key in keys[:-1]:
            node = parents[-1].get(key)
            if not isinstance(node, dict):
                break
            parents.append(node)
        else:
            parents[-1].pop(keys[-1], None)
            # drop ancestors left empty (but keep a "." marker's meaning: the field itself stays owned)
            for depth in range(len(parents) - 1, 0, -1):
                if not parents[depth]:
                    parents[depth - 1].pop(keys[depth - 1], None)
        if fields:
            entry = dict(entry)
            entry["fieldsV1"] = fields
            out.append(entry)
    return out
