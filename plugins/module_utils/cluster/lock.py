# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One writer per environment: a coordination.k8s.io/v1 Lease held while a deploy, a rollback or a
teardown writes.

The Lease ``continuouspipe-lock`` lives in the environment's namespace. Its ``holderIdentity`` names
the run (user, host, process, a random suffix); its annotations say what the run does (operation,
task, project) so that a run that has to wait can tell who holds the environment and since when.

* **acquire**: create the Lease (one POST). If it exists and is held, wait (up to ``timeout``
  seconds, polling) until it is released or goes stale, then take it with an update that carries the
  Lease's ``resourceVersion`` (optimistic concurrency: of two runs taking over, one wins). A Lease is
  stale when its holder stopped renewing it: it was not renewed for ``leaseDurationSeconds`` as seen
  by this run's own clock (the holder's clock is never trusted), or its ``renewTime`` is far older than
  that (a run killed long ago).
* **renew**: a background thread renews the Lease every ``duration / 3`` seconds. If the Lease was
  taken by another run (this run was frozen longer than the lease), ``lost`` is set and
  :meth:`EnvironmentLock.check` raises: the engine checks before every phase of writes.
* **release**: delete the Lease, on condition that it is still this run's version (never someone
  else's Lease).

:func:`claim_namespace` is what deploy does first: it creates the namespace if it is missing (a
create, so two projects racing for one name cannot both win) and checks that the project owns it
(``ownership.check_namespace``). The lock is taken only when something is to be written: a rerun
that changes nothing writes nothing, not even a Lease (``deploy.py``).
"""
from __future__ import annotations

import datetime
import getpass
import json
import os
import secrets
import socket
import threading
import time
from typing import Callable, Optional

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import ownership, projects
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError, ContinuousPipeError

LEASE_NAME = "continuouspipe-lock"
LEASE_API = ("coordination.k8s.io/v1", "Lease")
HOLDER_ANNOTATION = "continuouspipe.io/lock-holder"  # JSON: operation, task, project, user, host, pid, since
DEFAULT_DURATION = 30
DEFAULT_TIMEOUT = 600


class LockError(ContinuousPipeError):
    """The environment is held by another run (and was not released in time), or this run lost it."""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def micro_time(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: Optional[str]) -> Optional[datetime.datetime]:
    if not text:
        return None
    for layout in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.datetime.strptime(text, layout).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            continue
    return None


def new_holder_identity() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # pragma: no cover - no user name (a container without passwd entry)
        user = "uid%d" % os.getuid()
    return "%s@%s/%d/%s" % (user, socket.gethostname(), os.getpid(), secrets.token_hex(4))


def describe_holder(lease: dict) -> str:
    """``deploy of task app (project …) by user@host/pid/x since …, last renewed …``."""
    spec = lease.get("spec") or {}
    meta = lease.get("metadata") or {}
    try:
        details = json.loads((meta.get("annotations") or {}).get(HOLDER_ANNOTATION) or "{}")
    except ValueError:
        details = {}
    what = details.get("operation") or "a run"
    if details.get("task"):
        what += " of task %s" % details["task"]
    if details.get("project"):
        what += " (project %s)" % details["project"]
    return "%s by %s since %s, last renewed %s" % (
        what, spec.get("holderIdentity") or "an unknown holder", spec.get("acquireTime") or "an unknown time",
        spec.get("renewTime") or "never")


class EnvironmentLock:
    """The Lease of one environment, for one run. Use :meth:`acquire`/:meth:`release` or ``with``."""

    def __init__(self, cluster, namespace: str, operation: str, task: str = "", project: str = "",
                 timeout: float = DEFAULT_TIMEOUT, duration: int = DEFAULT_DURATION, poll: float = 1.0,
                 on_wait: Optional[Callable[[str], None]] = None, clock=time.monotonic, sleep=time.sleep):
        self.cluster = cluster
        self.namespace = namespace
        self.identity = new_holder_identity()
        self.details = {"operation": operation, "task": task, "project": project}
        self.timeout = max(0.0, float(timeout))
        self.duration = max(3, int(duration))
        self.poll = poll
        self.on_wait = on_wait
        self.clock = clock
        self.sleep = sleep
        self.lease: Optional[dict] = None
        self.lost: Optional[str] = None
        self.took_over: Optional[str] = None  # the stale holder this run took the lock from
        self.waited = 0.0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._mutex = threading.Lock()

    # -- the Lease object --------------------------------------------------------------------------

    @property
    def _resource(self):
        return self.cluster.resource(*LEASE_API)

    def _body(self, base: Optional[dict] = None, transitions: int = 0) -> dict:
        moment = micro_time(_now())
        details = dict(self.details, since=moment)
        body = {
            "apiVersion": LEASE_API[0], "kind": LEASE_API[1],
            "metadata": {
                "name": LEASE_NAME, "namespace": self.namespace,
                "labels": {ownership.MANAGED_BY_LABEL: ownership.MANAGED_BY},
                "annotations": {HOLDER_ANNOTATION: json.dumps(details, sort_keys=True)},
            },
            "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": self.duration,
                     "acquireTime": moment, "renewTime": moment, "leaseTransitions": transitions},
        }
        if base is not None:
            body["metadata"]["resourceVersion"] = base["metadata"]["resourceVersion"]
        return body

    def _create(self) -> Optional[dict]:
        try:
            return self.cluster.request("POST", self._resource.collection_path(self.namespace),
                                        query={"fieldManager": ownership.FIELD_MANAGER}, body=self._body())
        except ClusterError as error:
            if error.status == 409:
                return None
            raise

    def _replace(self, current: dict) -> Optional[dict]:
        """Take the Lease over (it was released or is stale); None when another run was faster."""
        transitions = int((current.get("spec") or {}).get("leaseTransitions") or 0) + 1
        try:
            return self.cluster.request("PUT", self._resource.path(LEASE_NAME, self.namespace),
                                        query={"fieldManager": ownership.FIELD_MANAGER},
                                        body=self._body(current, transitions))
        except ClusterError as error:
            if error.status in (404, 409):
                return None
            raise

    def _get(self) -> Optional[dict]:
        return self.cluster.get(self._resource, LEASE_NAME, self.namespace)

    # -- acquire -----------------------------------------------------------------------------------

    def acquire(self) -> "EnvironmentLock":
        start = self.clock()
        seen = {}  # resourceVersion → when this run first saw it (its own clock)
        told = False
        while True:
            lease = self._create()
            if lease is None:
                current = self._get()
                if current is None:
                    self.sleep(0.05)
                    continue  # released between the POST and the GET
                holder = (current.get("spec") or {}).get("holderIdentity")
                version = current["metadata"].get("resourceVersion")
                seen.setdefault(version, self.clock())
                if not holder or self._stale(current, self.clock() - seen[version]):
                    lease = self._replace(current)
                    if lease is not None and holder:
                        self.took_over = describe_holder(current)
                if lease is None:
                    waited = self.clock() - start
                    if waited >= self.timeout:
                        raise LockError(
                            "environment %s is locked by %s; waited %ds (lock_timeout). A run that was killed "
                            "releases the lock when it goes stale (%ds without renewal)"
                            % (self.namespace, describe_holder(current), int(waited), self.duration))
                    if not told and self.on_wait is not None:
                        self.on_wait("waiting for the lock of environment %s, held by %s"
                                     % (self.namespace, describe_holder(current)))
                        told = True
                    self.sleep(min(self.poll, max(0.05, self.timeout - waited)))
                    continue
            self.lease = lease
            self.waited = round(self.clock() - start, 3)
            self._start_renewing()
            return self

    def _stale(self, lease: dict, unchanged_for: float) -> bool:
        spec = lease.get("spec") or {}
        duration = float(spec.get("leaseDurationSeconds") or self.duration)
        if unchanged_for > duration:
            return True
        renewed = parse_time(spec.get("renewTime") or spec.get("acquireTime"))
        # far older than the lease by any reasonable clock: its holder is long gone
        return renewed is not None and (_now() - renewed).total_seconds() > 2 * duration + 60

    # -- renew -------------------------------------------------------------------------------------

    def _start_renewing(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew_loop, name="continuouspipe-lock", daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        interval = self.duration / 3.0
        last_renewed = time.monotonic()
        while not self._stop.wait(interval):
            try:
                self.renew()
                last_renewed = time.monotonic()
            except LockError as error:
                self.lost = str(error)
                return
            except ClusterError as error:
                if time.monotonic() - last_renewed > self.duration:
                    self.lost = "the lock of environment %s could not be renewed for %ds: %s" % (
                        self.namespace, int(time.monotonic() - last_renewed), error)
                    return

    def renew(self) -> None:
        with self._mutex:
            lease = self.lease
            if lease is None:
                return
            body = json.loads(json.dumps(lease))
            for key in ("managedFields",):
                body["metadata"].pop(key, None)
            body["spec"]["renewTime"] = micro_time(_now())
            try:
                self.lease = self.cluster.request("PUT", self._resource.path(LEASE_NAME, self.namespace),
                                                  query={"fieldManager": ownership.FIELD_MANAGER}, body=body)
            except ClusterError as error:
                if error.status not in (404, 409):
                    raise
                current = self._get()
                if current is not None and (current.get("spec") or {}).get("holderIdentity") == self.identity:
                    self.lease = current  # our own earlier renewal answered late: try again next time
                    return
                raise LockError("the lock of environment %s was taken by %s while this run held it" % (
                    self.namespace, describe_holder(current) if current else "nobody (it was deleted)"))

    def check(self) -> None:
        """Raise LockError if this run no longer holds the environment."""
        if self.lost:
            raise LockError("stopped before writing more: %s" % self.lost)

    # -- release -----------------------------------------------------------------------------------

    def abandon(self) -> None:
        """Stop renewing without deleting the Lease (its namespace is being deleted with it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._mutex:
            self.lease = None

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._mutex:
            lease, self.lease = self.lease, None
        if lease is None or self.lost:
            return
        body = {"kind": "DeleteOptions", "apiVersion": "v1",
                "preconditions": {"uid": lease["metadata"].get("uid"),
                                  "resourceVersion": lease["metadata"].get("resourceVersion")}}
        try:
            self.cluster.request("DELETE", self._resource.path(LEASE_NAME, self.namespace), body=body)
        except ClusterError as error:
            if error.status not in (404, 409):
                raise

    def __enter__(self) -> "EnvironmentLock":
        return self.acquire()

    def __exit__(self, *exc) -> bool:
        try:
            self.release()
        except ClusterError:
            if exc[0] is None:
                raise
        return False


class NoLock:
    """Stands for the lock where none is taken (check mode)."""

    took_over = None
    waited = 0.0
    lost = None

    def check(self) -> None:
        return None

    def release(self) -> None:
        return None

    def abandon(self) -> None:
        return None


def peek(cluster, namespace: str) -> Optional[str]:
    """Who holds the environment now (for check mode's warning), or None."""
    try:
        lease = cluster.get(cluster.resource(*LEASE_API), LEASE_NAME, namespace)
    except ClusterError:
        return None
    if lease and (lease.get("spec") or {}).get("holderIdentity"):
        return describe_holder(lease)
    return None


def claim_namespace(cluster, namespace: str, namespace_manifest: Optional[dict], project: str, operation: str,
                    take_over: bool = False, check_mode: bool = False) -> "ownership.NamespaceVerdict":
    """Make sure ``project`` may write in ``namespace``; create it when missing.

    The namespace is created with a POST (of two projects racing for a name, only one wins; the other
    finds it theirs and is refused) when missing and ``namespace_manifest`` is given;
    ``verdict.created`` then says so. Check mode creates nothing. Raises OwnershipError.
    """
    resource = cluster.resource("v1", "Namespace")
    live = cluster.get(resource, namespace)
    created = False
    if live is None and namespace_manifest is not None and not check_mode:
        try:
            live = cluster.request("POST", resource.collection_path(),
                                   query={"fieldManager": ownership.FIELD_MANAGER}, body=namespace_manifest)
            created = True
        except ClusterError as error:
            if error.status != 409:
                raise
            live = cluster.get(resource, namespace)
    if live is not None and ((live.get("metadata") or {}).get("deletionTimestamp")):
        raise ClusterError("namespace %s is being deleted; %s again once it is gone" % (namespace, operation),
                           status=409)
    verdict = projects.check_environment(cluster, live, project, take_over,
                                         action="deploy to" if operation == "deploy" else "%s in" % operation)
    verdict.created = created
    return verdict
