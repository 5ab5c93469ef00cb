# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release history: one Secret per deploy of a task that changed something.

Secret ``cp-release.<task>.v<N>`` in the environment's namespace, type ``continuouspipe.io/release``,
labels::

    app.kubernetes.io/managed-by: continuouspipe.kubernetes
    continuouspipe.io/release-of: <task>
    continuouspipe.io/release: "<N>"
    continuouspipe.io/status: pending | deployed | superseded | failed
    continuouspipe.io/project: <flow uuid>

and ``data.release`` = base64(gzip(JSON)) of::

    {number, task, namespace, checksum, code_reference: {branch, sha, pull_request}, flow_uuid, time,
     status, reason, objects: [... the applied manifests, Secret data included ...]}

It is a Secret because the objects include Secret data (environment secrets, TLS keys): reading the
history needs the same permission as reading the Secrets themselves.

The record is written ahead: release N is written as ``pending`` before the deploy's first write,
then rewritten as ``deployed`` (or ``failed``) when the deploy ends. A ``pending`` release found by a
later run (which holds the environment's lock, so nobody else is writing) was interrupted — the
process was killed, the API server went away — and that run completes it or replaces it, and says
so. At most one release of a task is ``deployed`` (the current one). Only the last ``history_limit``
releases are kept, never the current or a pending one.

A release Secret is only believed when this collection's field manager wrote it
(``ownership.owner_of``): a Secret labelled and typed like a release by someone else is ignored.
"""
from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import json
from dataclasses import dataclass, field
from typing import List, Optional

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import ownership
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import plan as planning
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError

RELEASE_OF_LABEL = "continuouspipe.io/release-of"
RELEASE_LABEL = "continuouspipe.io/release"
STATUS_LABEL = "continuouspipe.io/status"
PENDING = "pending"
DEPLOYED = "deployed"
SUPERSEDED = "superseded"
FAILED = "failed"
DATA_KEY = "release"


@dataclass
class ReleaseInfo:
    """A recorded release, without its objects."""

    number: int
    task: str
    namespace: str
    status: str
    name: str = ""
    checksum: str = ""
    code_reference: dict = field(default_factory=dict)
    flow_uuid: str = ""
    time: str = ""
    rollback_of: Optional[int] = None
    summary: List[dict] = field(default_factory=list)
    locked: List[list] = field(default_factory=list)  # [kind, name] of objects left alone (locked)
    reason: str = ""  # why a release failed (or was interrupted)
    holder: str = ""  # the run that wrote it (the lock's holder identity)

    def to_dict(self) -> dict:
        out = {
            "number": self.number, "task": self.task, "namespace": self.namespace, "status": self.status,
            "name": self.name, "checksum": self.checksum, "code_reference": self.code_reference,
            "flow_uuid": self.flow_uuid, "time": self.time,
        }
        if self.rollback_of is not None:
            out["rollback_of"] = self.rollback_of
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class Release(ReleaseInfo):
    """A recorded release with its objects (Secret data included: handle with care)."""

    objects: List[dict] = field(default_factory=list)


def secret_name(task: str, number: int) -> str:
    """``cp-release.<task>.v<N>``, the task sanitised to a DNS-1123 subdomain."""
    return "cp-release.%s.v%d" % (naming.task_slug(task), number)


def checksum(objects: List[dict]) -> str:
    """sha256 of the canonical rendered objects (stored inside the release Secret only)."""
    return "sha256:" + hashlib.sha256(planning.canonical(objects).encode("utf-8")).hexdigest()


def encode(payload: dict) -> str:
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")


def decode(data: str) -> dict:
    return json.loads(gzip.decompress(base64.b64decode(data)).decode("utf-8"))


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def manifest(number: int, task: str, namespace: str, objects: List[dict], status: str, meta: dict,
             rollback_of: Optional[int] = None, locked=(), reason: str = "") -> dict:
    """The Secret recording release ``number``."""
    payload = {
        "number": number, "task": task, "namespace": namespace, "checksum": checksum(objects),
        "code_reference": dict(meta.get("code_reference") or {}), "flow_uuid": meta.get("flow_uuid") or "",
        "time": now(), "status": status, "objects": objects,
        "summary": list(meta.get("summary") or []),
        "locked": [list(key) for key in locked],
        "holder": meta.get("holder") or "",
    }
    if rollback_of is not None:
        payload["rollback_of"] = rollback_of
    if reason:
        payload["reason"] = reason
    labels = {
        planning.MANAGED_BY_LABEL: planning.MANAGED_BY,
        RELEASE_OF_LABEL: planning.task_label_value(task),
        RELEASE_LABEL: str(number),
        STATUS_LABEL: status,
    }
    if meta.get("project"):
        labels[ownership.PROJECT_LABEL] = meta["project"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": planning.RELEASE_SECRET_TYPE,
        "metadata": {
            "name": secret_name(task, number),
            "namespace": namespace,
            "labels": labels,
        },
        "data": {DATA_KEY: encode(payload)},
    }


def _is_release_of(secret: dict, task: Optional[str], project: Optional[str] = None) -> bool:
    if secret.get("type") != planning.RELEASE_SECRET_TYPE:
        return False
    labels = (secret.get("metadata") or {}).get("labels") or {}
    if labels.get(planning.MANAGED_BY_LABEL) != planning.MANAGED_BY:
        return False
    if task is not None and labels.get(RELEASE_OF_LABEL) != planning.task_label_value(task):
        return False
    owner = ownership.owner_of(secret)
    if not owner.managed:
        return False  # labelled like a release by someone else: never believed
    return project is None or owner.project in (None, project)


def from_secret(secret: dict, with_objects: bool = False):
    labels = (secret.get("metadata") or {}).get("labels") or {}
    try:
        payload = decode((secret.get("data") or {}).get(DATA_KEY) or "")
    except (ValueError, OSError, EOFError) as error:
        raise ClusterError("release %s is unreadable: %s" % (secret["metadata"].get("name"), error))
    values = dict(
        number=int(labels.get(RELEASE_LABEL) or payload.get("number") or 0),
        task=payload.get("task") or labels.get(RELEASE_OF_LABEL, ""),
        namespace=payload.get("namespace") or (secret.get("metadata") or {}).get("namespace", ""),
        status=labels.get(STATUS_LABEL) or payload.get("status") or "",
        name=secret["metadata"].get("name", ""),
        checksum=payload.get("checksum") or "",
        code_reference=payload.get("code_reference") or {},
        flow_uuid=payload.get("flow_uuid") or "",
        time=payload.get("time") or "",
        rollback_of=payload.get("rollback_of"),
        summary=payload.get("summary") or [],
        locked=payload.get("locked") or [],
        reason=payload.get("reason") or "",
        holder=payload.get("holder") or "",
    )
    if with_objects:
        return Release(objects=payload.get("objects") or [], **values)
    return ReleaseInfo(**values)


def releases_in(secrets, task: Optional[str], with_objects: bool = False, project: Optional[str] = None) -> list:
    """Releases among already-listed Secrets, oldest first (only those this collection wrote)."""
    found = [from_secret(secret, with_objects) for secret in secrets if _is_release_of(secret, task, project)]
    return sorted(found, key=lambda release: (release.task, release.number))


def _selector(task: Optional[str]) -> str:
    selector = "%s=%s,%s" % (planning.MANAGED_BY_LABEL, planning.MANAGED_BY, RELEASE_OF_LABEL)
    if task is not None:
        selector = "%s=%s,%s=%s" % (planning.MANAGED_BY_LABEL, planning.MANAGED_BY, RELEASE_OF_LABEL,
                                    planning.task_label_value(task))
    return selector


def list_releases(cluster, namespace: str, task: Optional[str] = None) -> List[ReleaseInfo]:
    """Every recorded release in the namespace (of one task when given), oldest first, without objects."""
    secrets = cluster.list(cluster.resource("v1", "Secret"), namespace, label_selector=_selector(task))
    return releases_in(secrets, task)


def read_release(cluster, namespace: str, task: str, number: int) -> Release:
    """Release ``number`` of ``task`` with its objects; ClusterError(status=404) when it does not exist."""
    secret = cluster.get(cluster.resource("v1", "Secret"), secret_name(task, number), namespace)
    if secret is None or not _is_release_of(secret, task):
        raise ClusterError("release %d of task %s does not exist in namespace %s" % (number, task, namespace),
                           status=404)
    return from_secret(secret, with_objects=True)


def current_release(cluster, namespace: str, task: str, releases: Optional[List[ReleaseInfo]] = None
                    ) -> Optional[ReleaseInfo]:
    """The release the environment is at: the latest ``deployed`` one."""
    releases = list_releases(cluster, namespace, task) if releases is None else releases
    deployed = [release for release in releases if release.status == DEPLOYED]
    return deployed[-1] if deployed else None


def previous_release(releases: List[ReleaseInfo]) -> Optional[ReleaseInfo]:
    """The good release before the current one (what ``rollback`` returns to by default)."""
    current = None
    for release in releases:
        if release.status == DEPLOYED:
            current = release
    candidates = [release for release in releases if release.status in (DEPLOYED, SUPERSEDED)
                  and (current is None or release.number < current.number)]
    return candidates[-1] if candidates else None


def _patch_status(cluster, namespace: str, name: str, status: str) -> None:
    path = cluster.resource("v1", "Secret").path(name, namespace)
    body = json.dumps({"metadata": {"labels": {STATUS_LABEL: status}}})
    cluster.request("PATCH", path, body=body, content_type="application/merge-patch+json")


def next_number(releases: List[ReleaseInfo]) -> int:
    return max([release.number for release in releases] + [0]) + 1


def write(cluster, namespace: str, task: str, number: int, objects: List[dict], status: str, meta: dict,
          releases: List[ReleaseInfo], rollback_of: Optional[int] = None, locked=(), reason: str = "") -> ReleaseInfo:
    """Write (or rewrite) release ``number``; ``releases`` is updated in place."""
    secret = manifest(number, task, namespace, objects, status, meta, rollback_of, locked, reason)
    cluster.apply(secret, planning.FIELD_MANAGER, force=True)
    info = from_secret(secret)
    releases[:] = [release for release in releases if release.number != number] + [info]
    releases.sort(key=lambda release: release.number)
    return info


def mark(cluster, namespace: str, release: ReleaseInfo, status: str, reason: str = "") -> None:
    """Change the status of a recorded release (its objects stay as recorded)."""
    if reason:
        secret = cluster.get(cluster.resource("v1", "Secret"), release.name, namespace)
        if secret is not None:
            full = from_secret(secret, with_objects=True)
            meta = {"code_reference": full.code_reference, "flow_uuid": full.flow_uuid, "summary": full.summary,
                    "holder": full.holder, "project": ownership.owner_of(secret).project}
            write(cluster, namespace, full.task, full.number, full.objects, status, meta, [], full.rollback_of,
                  [tuple(key) for key in full.locked], reason)
            release.status, release.reason = status, reason
            return
    _patch_status(cluster, namespace, release.name, status)
    release.status = status


def settle(cluster, namespace: str, releases: List[ReleaseInfo], current: int, history_limit: int = 10) -> None:
    """After release ``current`` was deployed: the one deployed before is superseded, and the history
    is trimmed to ``history_limit``."""
    for release in releases:
        if release.status == DEPLOYED and release.number != current:
            _patch_status(cluster, namespace, release.name, SUPERSEDED)
            release.status = SUPERSEDED
    trim(cluster, namespace, releases, current, history_limit)


def trim(cluster, namespace: str, releases: List[ReleaseInfo], current: int, history_limit: int = 10) -> None:
    """Delete the oldest releases beyond ``history_limit``; never ``current``, the deployed one or a
    pending one."""
    excess = len(releases) - max(1, int(history_limit or 1))
    for release in sorted(releases, key=lambda release: release.number):
        if excess <= 0:
            break
        if release.number == current or release.status in (PENDING, DEPLOYED):
            continue
        cluster.delete(cluster.resource("v1", "Secret"), release.name, namespace)
        releases.remove(release)
        excess -= 1


def record(cluster, namespace: str, task: str, objects: List[dict], status: str, meta: dict,
           releases: List[ReleaseInfo], history_limit: int = 10, rollback_of: Optional[int] = None,
           locked=(), number: Optional[int] = None, reason: str = "") -> ReleaseInfo:
    """Write release ``number`` (default N+1) with ``status``; when deployed, settle the history."""
    number = next_number(releases) if number is None else number
    info = write(cluster, namespace, task, number, objects, status, meta, releases, rollback_of, locked, reason)
    if status == DEPLOYED:
        settle(cluster, namespace, releases, number, history_limit)
    else:
        trim(cluster, namespace, releases, number, history_limit)
    return info
