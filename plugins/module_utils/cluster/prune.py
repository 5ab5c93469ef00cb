# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pruning: deleting what a task deployed before and no longer deploys.

ContinuousPipe never deleted anything (docs/behaviour.md §10.6): a service removed from
continuous-pipe.yml, or skipped by a condition, kept running until the whole environment was
deleted. Here the objects labelled ``continuouspipe.io/task=<task>`` and
``app.kubernetes.io/managed-by=continuouspipe.kubernetes`` in the namespace that the task no longer
renders are deleted (option ``prune``, default true; ``false`` is ContinuousPipe's behaviour).

Never pruned: the Namespace, release Secrets, objects owned by another object (their owner's
deletion collects them), objects already being deleted, and PersistentVolumeClaims unless
``prune_volumes`` (data outlives code by default). Objects of other tasks, or not labelled by this
collection, are never candidates; and labels are not enough: an object is only deleted when the API
server's managedFields show that this collection wrote those labels, for this project
(``ownership.owner_of``) — a Secret labelled like ours by someone else is left alone, with a warning.
Each deletion carries the object's uid as a precondition, so an object re-created under the same
name in the meantime is never deleted.
"""
from __future__ import annotations

from typing import Iterable, List, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import kinds
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import ownership
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import plan as planning

# Delete dependants first: workloads, then what routes to them, then what they mount (the order of the
# kind registry, ``kinds.prune_order``).


def component_of(obj: dict):
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(planning.SERVICE_LABEL) or labels.get(planning.COMPONENT_LABEL)


def plan_prune(live: planning.LiveState, task: str, desired_keys: Iterable[Tuple[str, str]],
               prune_volumes: bool = False) -> Tuple[List[planning.Change], List[planning.Change]]:
    """(deletions, kept volumes) for the objects of ``task`` that are not desired any more."""
    desired = set(desired_keys)
    deletions, kept = [], []
    for obj in live.owned_by_task(task):
        kind, name = planning.key_of(obj)
        meta = obj.get("metadata") or {}
        if (kind, name) in desired or kind == "Namespace" or meta.get("deletionTimestamp"):
            continue
        if meta.get("ownerReferences"):
            continue
        change = planning.Change(planning.DELETE, kind, name, before=obj, component=component_of(obj),
                                 reason="no longer rendered by the task")
        if kind == "PersistentVolumeClaim" and not prune_volumes:
            change.action = planning.UNCHANGED
            change.reason = "volume kept (prune_volumes is false)"
            kept.append(change)
            continue
        deletions.append(change)
    deletions.sort(key=lambda change: (kinds.prune_order(change.kind), change.kind, change.name))
    return deletions, kept


def owned(deletions: List[planning.Change], project: str) -> Tuple[List[planning.Change], List[planning.Change]]:
    """(deletions of objects this project wrote, the others with the reason they are not ours)."""
    ours, others = [], []
    for change in deletions:
        owner = ownership.owner_of(change.before)
        if owner.project == project or owner.legacy:
            ours.append(change)
            continue
        if owner.project:
            change.reason = "belongs to project %s" % owner.project
        else:
            change.reason = "was not labelled by this collection (%s)" % owner.describe()
        others.append(change)
    return ours, others


def phases(deletions: List[planning.Change]) -> List[List[planning.Change]]:
    """Deletions grouped by prune order, for one concurrent phase each."""
    groups = {}
    for change in deletions:
        groups.setdefault(kinds.prune_order(change.kind), []).append(change)
    return [groups[level] for level in sorted(groups)]
