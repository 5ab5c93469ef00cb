# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deploy and rollback modules' pipeline: load → translate → apply (``cluster.engine``).

``run(params)`` does what the ``deploy`` module does, without Ansible: select the deploy task, name
its environment, translate it (a bad definition fails here, before any request), connect, claim the
environment — create its namespace if missing, check that the project owns it, take its lock
(``cluster.lock``) — and, holding the lock, hand the engine the rendered environment plus a way to
translate it again once the public endpoints' addresses are known.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Optional

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import expressions, gc_pause, kinds, model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import progress as progress_mod
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import (
    checksum_key,
    connection,
    engine,
    lock,
    ownership,
    projects,
    release as releases,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import platform as platforms
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import plan as planning
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.options import check_ranges
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.engine import (  # noqa: F401
    DeployError,
    DeployOptions,
    DeployResult,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError, DefinitionError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.source import (
    SOURCE_ARGSPEC,
    load_from_params,
)

DEPLOY_OPTIONS = dict(
    task=dict(type="str"),
    namespace=dict(type="str"),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int"),
    endpoint_timeout=dict(type="int", default=900),
    rollback=dict(type="str", choices=list(engine.ROLLBACK_MODES), default="release"),
    prune=dict(type="bool", default=True),
    prune_volumes=dict(type="bool", default=False),
    history_limit=dict(type="int", default=10),
    concurrency=dict(type="int", default=8),
    deploy_variables=dict(type="dict", default={}),
    tasks_context=dict(type="dict", default={}),
    node_port_address=dict(type="str"),
    take_over=dict(type="bool", default=False),
    foreign_fields=dict(type="str", choices=list(engine.FOREIGN_FIELDS_MODES), default="remove"),
    lock_timeout=dict(type="int", default=lock.DEFAULT_TIMEOUT),
    allow_empty_services=dict(type="bool", default=False),
    progress_interval=dict(type="int", default=10),
)

ARGSPEC = dict(SOURCE_ARGSPEC)
ARGSPEC.update(connection.CONNECTION_ARGSPEC)
ARGSPEC.update(DEPLOY_OPTIONS)
ARGSPEC.update(platforms.PLATFORM_ARGSPEC)

# progress=AUTO: the progress sink's reporter, if there is a sink
AUTO = object()

ROLLBACK_ARGSPEC = dict(connection.CONNECTION_ARGSPEC)
ROLLBACK_ARGSPEC.update(
    namespace=dict(type="str", required=True),
    task=dict(type="str", required=True),
    release=dict(type="int"),
    flow_uuid=dict(type="str"),
    take_over=dict(type="bool", default=False),
    foreign_fields=dict(type="str", choices=list(engine.FOREIGN_FIELDS_MODES), default="remove"),
    lock_timeout=dict(type="int", default=lock.DEFAULT_TIMEOUT),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int"),
    prune=dict(type="bool", default=True),
    prune_volumes=dict(type="bool", default=False),
    history_limit=dict(type="int", default=10),
    concurrency=dict(type="int", default=8),
)


def select_task(project: model.Project, name: Optional[str]) -> model.DeployTask:
    tasks = list(project.deploy_tasks)
    if name:
        for task in tasks:
            if task.identifier == name:
                return task
        raise DefinitionError("unknown deploy task %r; the pipelines for branch %r have: %s" % (
            name, project.release.branch, ", ".join(task.identifier for task in tasks) or "none"), path=("tasks",))
    if len(tasks) == 1:
        return tasks[0]
    if not tasks:
        raise DefinitionError("the pipelines for branch %r have no deploy task" % project.release.branch,
                              path=("tasks",))
    raise DefinitionError("the pipelines for branch %r have several deploy tasks (%s): say which one with task" % (
        project.release.branch, ", ".join(task.identifier for task in tasks)), path=("tasks",))


def check_services(task: model.DeployTask, params: dict) -> None:
    """A deploy task with no service to deploy would prune every workload and Service of its
    environment: only with ``allow_empty_services`` (or without pruning)."""
    if task.services or not params.get("prune", True) or params.get("allow_empty_services"):
        return
    raise DefinitionError(
        "the deploy task %r has no service to deploy for branch %r (its services are empty, or every service's "
        "condition is false): deploying it would delete every workload and Service of the environment"
        % (task.identifier, params.get("branch")),
        path=("tasks", task.identifier, "deploy", "services"),
        expected="at least one service, or allow_empty_services: true to empty the environment on purpose")


def tasks_context(raw: Optional[dict]) -> dict:
    """``tasks_context`` option → what ``environment.name`` expressions read as ``tasks.<id>``."""
    out = {}
    for identifier, value in (raw or {}).items():
        if value is None:
            out[identifier] = expressions.deploy_task_context(None)
        elif isinstance(value, dict) and "services" in value:
            out[identifier] = expressions.deploy_task_context(value.get("services"))
        else:
            out[identifier] = expressions.ContextObject(value)
    return out


def release_meta(release: model.Release) -> dict:
    reference = release.code_reference
    return {
        "code_reference": {"branch": reference.branch, "sha": reference.sha,
                           "pull_request": reference.pull_request.number or None},
        "flow_uuid": release.flow_uuid,
    }


def _given(params: dict, name: str, default: int) -> int:
    """An option's value, its default only when it is not given (0 is not "not given": it is refused)."""
    value = params.get(name)
    return default if value is None else value


def deploy_options(params: dict, task: str, check_mode: bool, diff: bool) -> DeployOptions:
    return DeployOptions(
        task=task, namespace=params.get("namespace"), wait=params.get("wait", True),
        wait_timeout=params.get("wait_timeout"), endpoint_timeout=_given(params, "endpoint_timeout", 900),
        rollback=params.get("rollback") or "release", prune=params.get("prune", True),
        prune_volumes=bool(params.get("prune_volumes")), history_limit=_given(params, "history_limit", 10),
        concurrency=_given(params, "concurrency", 8), check_mode=check_mode, diff=diff,
        node_port_address=params.get("node_port_address"), take_over=bool(params.get("take_over")),
        foreign_fields=params.get("foreign_fields") or "remove",
        progress_interval=_given(params, "progress_interval", 10))


def _namespace_manifest(environment, task: str, project: str) -> Optional[dict]:
    """The stamped anchor of a rendered environment: the Namespace a missing namespace is created as, or
    the record of an OpenShift project (``cluster/projects.py``)."""
    for obj in environment.objects:
        if kinds.is_anchor(obj):
            namespace = (obj.get("metadata") or {}).get("namespace")
            return planning.stamp(obj, task, namespace, project, ownership.CREATED)
    return None


def claim(cluster, namespace: str, environment, task: str, project: str, operation: str, take_over: bool,
          check_mode: bool) -> ownership.NamespaceVerdict:
    """Claim the environment: create its Namespace when missing (``lock.claim_namespace``), or, on OpenShift,
    request its Project and write its record (``projects.claim``)."""
    anchor = _namespace_manifest(environment, task, project)
    if anchor is not None and anchor.get("kind") != "Namespace":
        return projects.claim(cluster, namespace, anchor, project, operation, take_over=take_over,
                              check_mode=check_mode)
    return lock.claim_namespace(cluster, namespace, anchor, project, operation, take_over=take_over,
                                check_mode=check_mode)


def run(params: dict, check_mode: bool = False, diff: bool = False, cluster=None,
        options_hook=None, project: Optional[model.Project] = None, progress=AUTO) -> DeployResult:
    """Deploy one task as the ``deploy`` module does; raises DefinitionError, ClusterError, DeployError.

    ``options_hook(options)`` may adjust the engine's DeployOptions (tests use it for
    ``object_hook``); ``cluster`` reuses a connection; ``project`` a project loaded from the same
    ``params`` already (the pipeline module loads it once for all its tasks). ``progress(line)``
    receives the rollout's progress lines; by default they go to the progress sink, if any
    (``progress.reporter``), prefixed with the task identifier; None prints nothing.
    """
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.environment import (
        TranslateOptions,
        environment_name,
        translate_environment,
    )

    check_ranges(params, names=("wait_timeout", "endpoint_timeout", "history_limit", "concurrency", "lock_timeout",
                                "progress_interval"))
    timings = {}
    start = time.monotonic()
    if project is None:
        with gc_pause.paused():
            project = load_from_params(params)
    task = select_task(project, params.get("task"))
    check_services(task, params)
    timings["load"] = round(time.monotonic() - start, 3)

    start = time.monotonic()
    release = project.release
    namespace = params.get("namespace") or environment_name(task, release, tasks_context(params.get("tasks_context")))
    deploy_variables = {key: "" if value is None else str(value)
                        for key, value in (params.get("deploy_variables") or {}).items()}

    chosen = {}

    def translate(addresses=None, key=None):
        with gc_pause.paused():
            return translate_environment(task, release, TranslateOptions(
                namespace=namespace, deploy_variables=dict(deploy_variables), public_endpoints=dict(addresses or {}),
                checksum_key=key or checksum_key.new_key(), platform=chosen["platform"]))

    first = None
    requested = platforms.requested(params)[0]
    if requested != platforms.AUTO:
        # A first translation before connecting: a bad definition fails before any request is sent.
        chosen["platform"], chosen["reason"] = platforms.without_cluster(params)
        first = translate()
    timings["translate"] = round(time.monotonic() - start, 3)

    options = deploy_options(params, task.identifier, check_mode, diff)
    options.namespace = namespace
    options.release_meta = release_meta(release)
    options.project = release.flow_uuid
    options.progress = progress_mod.reporter("%s: " % task.identifier) if progress is AUTO else progress
    if options_hook is not None:
        options_hook(options)
    own = cluster is None
    cluster = cluster or connection.connect(params)
    try:
        start = time.monotonic()
        # the cluster's platform (discovery when it is not given), then a translation for it: still
        # before any write
        chosen["platform"], chosen["reason"] = platforms.choose(cluster, params)
        if first is None:
            first = translate()
        timings["translate"] = round(timings["translate"] + time.monotonic() - start, 3)
        start = time.monotonic()
        verdict = claim(cluster, namespace, first, task.identifier, options.project, "deploy", options.take_over,
                        check_mode)
        options.namespace_created = verdict.created
        claimed = [verdict.warning] if verdict.warning and verdict.state == "ours" else []
        timings["claim"] = round(time.monotonic() - start, 3)

        def attempt(held, probe):
            # the key of the pod checksums kept in the environment (a new one on the first deploy, and
            # none to read in an environment that does not exist yet: check mode)
            key = None if verdict.state == "missing" else checksum_key.load(cluster, namespace, task.identifier)
            began = time.monotonic()
            environment = translate(key=key)
            runner = engine.Engine(cluster, dataclasses.replace(options, lock=held, probe=probe))
            runner.timings.update(timings)
            runner.timings["translate"] = round(timings["translate"] + time.monotonic() - began, 3)
            return runner.deploy(environment, lambda addresses: translate(addresses, key))

        try:
            result = _under_lock(cluster, namespace, "deploy", task.identifier, options.project, params,
                                 check_mode, attempt)
        except DeployError as error:
            error.result.task = task.identifier
            error.result.platform = platforms.describe(chosen["platform"], chosen["reason"])
            error.result.warnings[:0] = claimed
            raise
    finally:
        if own:
            cluster.close()
    result.task = task.identifier
    result.platform = platforms.describe(chosen["platform"], chosen["reason"])
    result.warnings[:0] = list(project.warnings) + claimed
    return result


def _under_lock(cluster, namespace: str, operation: str, task: str, project: str, params: dict, check_mode: bool,
                attempt):
    """``attempt(lock, probe)`` first without the lock, as a probe that stops before its first write
    (an unchanged environment then costs no write, not even the lock's), then under the lock.

    Check mode never takes the lock; it warns when another run holds it.
    """
    if check_mode:
        result = attempt(lock.NoLock(), False)
        holder = lock.peek(cluster, namespace)
        if holder:
            result.warnings.append("environment %s is being changed by another run (%s): this check may be "
                                   "outdated" % (namespace, holder))
        return result
    if lock.peek(cluster, namespace) is None:
        try:
            return attempt(lock.NoLock(), True)
        except engine.NeedsLock:
            pass
    waits = []
    with lock.EnvironmentLock(cluster, namespace, operation, task=task, project=project,
                              timeout=_lock_timeout(params), on_wait=waits.append) as held:
        result = _attempt_holding(attempt, held)
    result.timings["lock"] = round(held.waited, 3)
    result.warnings[:0] = waits
    if held.took_over:
        result.warnings.append("took over the lock of environment %s from a run that stopped renewing it: %s"
                               % (namespace, held.took_over))
    return result


def _attempt_holding(attempt, held):
    try:
        return attempt(held, False)
    except DeployError as error:
        if held.took_over:
            error.result.warnings.append("took over the lock from a run that stopped renewing it: %s" % held.took_over)
        raise


def _lock_timeout(params: dict) -> float:
    value = params.get("lock_timeout")
    return float(lock.DEFAULT_TIMEOUT if value is None else value)


def rollback(params: dict, check_mode: bool = False, diff: bool = False, cluster=None) -> DeployResult:
    """Return an environment to a recorded release, as the ``rollback`` module does."""
    check_ranges(params, names=("wait_timeout", "history_limit", "concurrency", "release", "lock_timeout",
                                "progress_interval"))
    options = DeployOptions(
        task=params["task"], namespace=params["namespace"], wait=params.get("wait", True),
        wait_timeout=params.get("wait_timeout"), rollback="none", prune=params.get("prune", True),
        prune_volumes=bool(params.get("prune_volumes")), history_limit=_given(params, "history_limit", 10),
        concurrency=_given(params, "concurrency", 8), check_mode=check_mode, diff=diff,
        take_over=bool(params.get("take_over")), foreign_fields=params.get("foreign_fields") or "remove",
        progress=progress_mod.reporter("rollback of %s: " % params["task"]))
    own = cluster is None
    cluster = cluster or connection.connect(params)
    namespace = params["namespace"]
    try:
        options.project = params.get("flow_uuid") or _recorded_project(cluster, namespace, params["task"])
        lock.claim_namespace(cluster, namespace, None, options.project, "rollback", take_over=options.take_over,
                             check_mode=check_mode)

        def attempt(held, probe):
            runner = engine.Engine(cluster, dataclasses.replace(options, namespace=namespace, lock=held, probe=probe))
            runner.namespace = namespace
            return runner.restore(params.get("release"))

        return _under_lock(cluster, namespace, "rollback", params["task"], options.project, params, check_mode, attempt)
    finally:
        if own:
            cluster.close()


def _recorded_project(cluster, namespace: str, task: str) -> str:
    """The project a namespace belongs to, for a rollback that does not say (flow_uuid)."""
    live = cluster.get(cluster.resource("v1", "Namespace"), namespace)
    if live is None:
        raise ClusterError("namespace %s does not exist" % namespace, status=404)
    owner = ownership.owner_of(live)
    if not owner.project:
        # an OpenShift project: its record says whose environment it is
        record = projects.live_record(cluster, namespace)
        owner = ownership.owner_of(record) if record is not None and ownership.owner_of(record).project else owner
    if owner.project:
        return owner.project
    if owner.legacy:
        # an environment of an earlier version: its releases recorded the flow
        for info in reversed(releases.list_releases(cluster, namespace, task)):
            if info.flow_uuid:
                return info.flow_uuid
    raise ownership.OwnershipError(
        "namespace %s records no project this collection wrote (%s); give flow_uuid to say which project it "
        "belongs to, and take_over: true if it is not yet this project's" % (namespace, owner.describe()))
