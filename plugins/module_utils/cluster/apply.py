# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carrying out a plan: server-side apply, deletions, bare Pod replacement, concurrently.

Writes use server-side apply (``PATCH`` with ``application/apply-patch+yaml``) under the fixed field
manager ``continuouspipe.kubernetes`` with ``force=true``: objects first written by ContinuousPipe
(JSON merge-patch, manager ``Go-http-client``/``unknown``) or by ``kubectl apply``/``kubectl edit``
are **taken over** deliberately — the deploy's definition wins over hand edits of the fields it sets,
which is what a redeploy from continuous-pipe.yml has always meant. Fields it does not set (``replicas``
left to ``kubectl scale`` or an autoscaler, labels added by others) keep their owners and values.

Within one phase the writes run concurrently on a bounded ``ThreadPoolExecutor`` over the one
``Cluster`` (its urllib3 pool is thread-safe). A phase always lets every started write finish, then
reports every failure together.

In check mode every write is a server-side dry run (``dryRun=All``): the API server validates,
defaults and admits the object, and nothing is stored.

Server-side apply leaves alone the fields that other field managers own: an env var added with
``kubectl set env`` survives every apply that does not mention it. A Deployment whose plan entry
lists such fields (``Change.foreign``, found by ``ownership.foreign_fields``) gets, right after its
apply, a JSON patch that puts the release's pod template back exactly and drops the other managers'
claims on the template from ``managedFields``, so the next run sees nothing foreign and writes nothing.
"""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import ownership
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import plan as planning
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError


class ApplyError(ClusterError):
    """One or more writes of a phase failed; ``failures`` is a list of (Change, ClusterError)."""

    def __init__(self, phase: str, failures):
        self.phase = phase
        self.failures = list(failures)
        lines = ["%s: %s" % (change.ref, error) for change, error in self.failures]
        first = self.failures[0][1]
        super().__init__("could not apply %s: %s" % (phase, "; ".join(lines)), status=getattr(first, "status", None),
                         reason=getattr(first, "reason", None))

    @property
    def unreachable(self) -> bool:
        return any(getattr(error, "status", None) == 0 for _change, error in self.failures)


class Applier:
    """Executes Changes against one cluster; remembers every write that reached the API server.

    ``written`` lists the Changes that succeeded, ``uncertain`` those whose request was sent but got
    no answer (the API server went away): their outcome is unknown.
    """

    def __init__(self, cluster, concurrency: int = 8, dry_run: bool = False,
                 field_manager: str = planning.FIELD_MANAGER, pod_replace_timeout: float = 120.0):
        self.cluster = cluster
        self.concurrency = max(1, int(concurrency or 1))
        self.dry_run = dry_run
        self.field_manager = field_manager
        self.pod_replace_timeout = pod_replace_timeout
        self.written: List[planning.Change] = []
        self.uncertain: List[planning.Change] = []
        self._lock = threading.Lock()

    # -- one change --------------------------------------------------------------------------------

    def execute(self, change: planning.Change) -> planning.Change:
        try:
            if change.action == planning.DELETE:
                uid = ((change.before or {}).get("metadata") or {}).get("uid")
                self.cluster.delete(change.before, dry_run=self.dry_run, uid=uid)
                change.result = None
            elif change.action in (planning.CREATE, planning.UPDATE):
                if change.kind == "Pod" and change.action == planning.UPDATE:
                    change.result = self._replace_pod(change)
                elif change.before is not None and (change.before.get("metadata") or {}).get("deletionTimestamp") \
                        and not self.dry_run:
                    change.result = self._recreate(change)
                else:
                    change.result = self.cluster.apply(change.after, self.field_manager, force=True,
                                                       dry_run=self.dry_run)
                if change.foreign and change.kind == "Deployment" and ownership.foreign_fields(change.result):
                    # what the forced apply took back (an image set by kubectl) is ours again; the rest goes
                    change.result = self._restore_template(change, change.result)
            else:
                return change
        except ClusterError as error:
            if getattr(error, "status", None) == 0:
                with self._lock:
                    self.uncertain.append(change)
            raise
        with self._lock:
            self.written.append(change)
        return change

    def _restore_template(self, change: planning.Change, applied: dict) -> dict:
        """Put the desired pod template back exactly and forget the other managers' claims on it."""
        meta = applied.get("metadata") or {}
        # (no resourceVersion guard: the controllers' status updates move it all the time; what is
        # written is the release's template, whatever came in between)
        patch = [
            {"op": "replace", "path": "/spec/template", "value": change.after["spec"]["template"]},
            {"op": "replace", "path": "/metadata/managedFields",
             "value": ownership.strip_managed_fields(meta.get("managedFields") or [])},
        ]
        resource = self.cluster.resource_for(change.after)
        return self.cluster.request(
            "PATCH", resource.path(change.name, change.after["metadata"].get("namespace")),
            query={"fieldManager": self.field_manager, "dryRun": "All" if self.dry_run else None},
            body=json.dumps(patch), content_type="application/json-patch+json")

    def _recreate(self, change: planning.Change) -> dict:
        """Apply an object whose previous instance is still being deleted, once it is gone."""
        resource = self.cluster.resource_for(change.after)
        old_uid = (change.before.get("metadata") or {}).get("uid")
        deadline = time.monotonic() + self.pod_replace_timeout
        while True:
            live = self.cluster.get(resource, change.name, change.after["metadata"].get("namespace"))
            if live is None or live["metadata"].get("uid") != old_uid:
                created = self.cluster.apply(change.after, self.field_manager, force=True)
                meta = created.get("metadata") or {}
                if not meta.get("deletionTimestamp") and meta.get("uid") != old_uid:
                    return created
            if time.monotonic() > deadline:
                raise ClusterError("%s was still being deleted after %ds; cannot create it again"
                                   % (change.ref, self.pod_replace_timeout))
            time.sleep(0.25)

    def _replace_pod(self, change: planning.Change) -> dict:
        """Pods are immutable: delete, wait until gone, create (docs/behaviour.md §10.1)."""
        if self.dry_run:
            # The new pod cannot be dry-run while the old one exists under its name: validate the
            # deletion, and report the desired manifest.
            self.cluster.delete(change.before, dry_run=True)
            return change.after
        self.cluster.delete(change.before)
        resource = self.cluster.resource("v1", "Pod")
        deadline = time.monotonic() + self.pod_replace_timeout
        old_uid = ((change.before or {}).get("metadata") or {}).get("uid")
        namespace = change.after["metadata"].get("namespace")
        while True:
            live = self.cluster.get(resource, change.name, namespace)
            if live is None or (old_uid and live["metadata"].get("uid") != old_uid):
                created = self.cluster.apply(change.after, self.field_manager, force=True)
                meta = created.get("metadata") or {}
                # a read may still miss the terminating pod: then the apply patched it instead of
                # creating the new one; wait for it to be gone and apply again
                if not meta.get("deletionTimestamp") and meta.get("uid") != old_uid:
                    return created
            if time.monotonic() > deadline:
                raise ClusterError("pod %s was still terminating after %ds; cannot replace it"
                                   % (change.name, self.pod_replace_timeout))
            time.sleep(0.25)

    # -- a phase -----------------------------------------------------------------------------------

    def run(self, phase: str, changes: List[planning.Change]) -> List[planning.Change]:
        """Execute the writes of one phase concurrently; raise ApplyError after all have finished."""
        todo = [change for change in changes if change.writes]
        if not todo:
            return []
        failures = []
        if len(todo) == 1 or self.concurrency == 1:
            for change in todo:
                try:
                    self.execute(change)
                except ClusterError as error:
                    failures.append((change, error))
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(todo))) as pool:
                futures = [(change, pool.submit(self.execute, change)) for change in todo]
                for change, future in futures:
                    try:
                        future.result()
                    except ClusterError as error:
                        failures.append((change, error))
        if failures:
            raise ApplyError(phase, failures)
        return todo


def first_write_happened(applier: Optional[Applier]) -> bool:
    return bool(applier and (applier.written or applier.uncertain))
