# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pipeline of one branch on one cluster, as a ContinuousPipe tide ran it (the ``pipeline`` module).

    load once ─▶ plan the tasks ─▶ for each task, in order:
        skipped?  (only_tasks, a type this collection does not run, another cluster's task, a filter
                   that is false against the tasks before it, a run task in a dry run)
        deploy ─▶ ``deploy.run`` (translate, plan, apply, wait, roll back on failure), on the one
                   connection of the whole pipeline
        run    ─▶ ``cluster.run.run_task`` in the namespace of the earlier deploy task of the same
                   environment
    ─▶ the outcome: per task its status, namespace, release and services; the endpoints; the
       releases before this run (for fleet-atomic rollbacks); on failure the error and the rollback.

The public endpoints of earlier deploy tasks (``SERVICE_<NAME>_PUBLIC_ENDPOINT``) and their
namespaces (``__TASK_<ID>_TARGET_ENVIRONMENT_NAME``) are passed to later tasks, and each filter and
environment name reads ``tasks.<id>.services.<service>.created`` from the tasks before it.

``run_pipeline`` prints one line per task (and the rollouts' progress) through ``report``.
"""
from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import deploy, expressions, gc_pause, model, naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import connection, engine
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import platform as platforms
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import run as runs
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import (
    ContinuousPipeError,
    DefinitionError,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.naming import NamingError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.options import RANGES, check_ranges
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.progress import format_seconds
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.source import (
    SOURCE_ARGSPEC,
    load_from_params,
    secret_values,
)

PIPELINE_OPTIONS = dict(
    cluster=dict(type="str", default=""),
    pipeline=dict(type="str"),
    only_tasks=dict(type="list", elements="str", default=[]),
    preflight=dict(type="bool", default=False),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=0),
    endpoint_timeout=dict(type="int", default=900),
    rollback=dict(type="str", choices=list(engine.ROLLBACK_MODES), default="release"),
    prune=dict(type="bool", default=True),
    run_timeout=dict(type="int", default=3600),
    match_cluster=dict(type="bool", default=True),
    cluster_names=dict(type="list", elements="str", default=[]),
    previous_releases=dict(type="dict", default={}),
    progress_interval=dict(type="int", default=10),
    allow_empty_services=dict(type="bool", default=False),
)

ARGSPEC = dict(SOURCE_ARGSPEC)
ARGSPEC.update(connection.CONNECTION_ARGSPEC)
ARGSPEC.update(PIPELINE_OPTIONS)
ARGSPEC.update(platforms.PLATFORM_ARGSPEC)

#: the pipeline's numeric options (``wait_timeout: 0`` is ContinuousPipe's formula per service)
PIPELINE_RANGES = dict(RANGES, wait_timeout=(0, RANGES["wait_timeout"][1]), run_timeout=RANGES["timeout"])

OTHER_TASKS = {
    "build": "build tasks are not run by this collection; build images in CI and pass them with images",
    "wait": "wait tasks (GitHub commit statuses) are not run by this collection",
    "manual_approval": "manual_approval is not run by this collection; use an approval step before the job "
                       "(e.g. an AWX workflow approval node)",
    "web_hook": "web_hook tasks are not run by this collection; add an ansible.builtin.uri task after the role",
    "delete": "delete tasks are not run by this collection; use the teardown role or playbooks/teardown.yml",
}


def pipelines_of(project: model.Project, wanted: Optional[str]) -> List[model.Pipeline]:
    """The pipelines whose condition holds, or only the one named ``wanted``."""
    pipelines = list(project.pipelines)
    if wanted:
        pipelines = [pipeline for pipeline in pipelines if pipeline.name == wanted]
        if not pipelines:
            raise DefinitionError("no pipeline %r holds for branch %r; the pipelines whose condition holds: %s" % (
                wanted, project.release.branch, ", ".join(p.name for p in project.pipelines) or "none"),
                path=("pipeline",))
    return pipelines


def filter_holds(task: model.Task, release: model.Release, tasks: Dict[str, Optional[dict]], changed_files) -> bool:
    """A task's ``filter.expression`` (ContinuousPipe context C4) against the tasks before it."""
    if task.filter in (None, ""):
        return True
    reference = release.code_reference
    context = expressions.tide_context(
        release.flow_uuid, reference.branch, reference.sha,
        pull_request={"number": int(reference.pull_request.number or 0), "title": reference.pull_request.title or "",
                      "labels": list(reference.pull_request.labels)},
        tasks={identifier: expressions.deploy_task_context(services) for identifier, services in tasks.items()})
    files = None if changed_files is None else [str(path) for path in changed_files]
    functions = {"has_changes_for_files": expressions.has_changes_for_files_function(files)}
    try:
        value = expressions.evaluate(str(task.filter), context, functions)
        return expressions.to_bool_filter(value, str(task.filter))
    except expressions.ExpressionError as error:
        raise DefinitionError("filter expression %r: %s" % (str(task.filter), error),
                              path=("tasks", task.identifier, "filter", "expression"))


def _services_summary(services: Dict[str, dict], preflight: bool) -> str:
    groups = []
    for flag, verb in (("created", "create"), ("updated", "update"), ("deleted", "delete")):
        names = [name for name, flags in services.items() if (flags or {}).get(flag)]
        if names:
            groups.append("%s %s" % ("would %s" % verb if preflight else flag, ", ".join(names)))
    return "; ".join(groups)


class PipelineFailed(ContinuousPipeError):
    """A task of the pipeline failed; ``outcome`` is the pipeline's outcome (status failed)."""

    def __init__(self, message: str, outcome: dict):
        super().__init__(message)
        self.outcome = outcome


class PipelineRun:
    """One run of the pipeline on one cluster; ``run()`` returns the outcome or raises PipelineFailed.

    ``connect()`` gives the cluster (called once, before the first task that needs it); ``report``
    prints one line (or is None); ``warn`` records a warning; ``add_secrets(values)`` keeps more values
    out of the results (a run task's secret environment).
    """

    def __init__(self, params: dict, connect: Callable[[], object], check_mode: bool = False, diff: bool = False,
                 report: Optional[Callable[[str], None]] = None, warn: Optional[Callable[[str], None]] = None,
                 add_secrets: Optional[Callable[[list], None]] = None):
        self.params = params
        self.connect = connect
        self.check_mode = check_mode
        self.diff = diff
        self.preflight = bool(params.get("preflight")) or check_mode
        self.report = report or (lambda line: None)
        self.warn = warn or (lambda message: None)
        self.add_secrets = add_secrets or (lambda values: None)
        self.cluster_name = params.get("cluster") or ""
        self.cluster = None
        self.secrets = secret_values(params)
        self.outcome = {"cluster": self.cluster_name, "preflight": self.preflight, "status": "running",
                        "changed": False, "tasks": [], "endpoints": [], "namespaces": [], "releases": {}}
        self.would_change = False
        self.diffs: List[dict] = []
        self.results: Dict[str, dict] = {}
        self.runtime_variables: Dict[str, str] = {}
        self.namespaces_by_environment: Dict[str, str] = {}
        self.task_ids: List[str] = []
        self.created_namespaces = set()

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> dict:
        current = None
        try:
            check_ranges(self.params, PIPELINE_RANGES,
                         names=("wait_timeout", "endpoint_timeout", "run_timeout", "progress_interval"))
            with gc_pause.paused():
                project = load_from_params(self.params)
            self.outcome["flow_uuid"] = project.release.flow_uuid
            for warning in project.warnings:
                self.warn(warning)
            tasks = [task for pipeline in pipelines_of(project, self.params.get("pipeline")) for task in pipeline.tasks]
            self.task_ids = [task.identifier for task in tasks]
            unknown = [name for name in self.params.get("only_tasks") or [] if name not in self.task_ids]
            if unknown:
                raise DefinitionError("unknown task(s) %s; the pipeline of %s has: %s" % (
                    ", ".join(unknown), project.release.branch, ", ".join(self.task_ids) or "none"),
                    path=("only_tasks",))
            for task in tasks:
                current = task
                started = time.monotonic()
                reason = self.skip_reason(task, project.release)
                if reason:
                    self.record({"task": task.identifier, "type": task.type, "status": "skipped", "changed": False,
                                 "reason": reason})
                    self.report("%s (%s): skipped, %s" % (task.identifier, task.type, reason))
                elif isinstance(task, model.DeployTask):
                    self.deploy(project, task, started)
                else:
                    self.run_task(project, task, started)
                current = None
        except (ContinuousPipeError, NamingError, KeyboardInterrupt, runs.Interrupted) as error:
            raise self.failure(current, error)
        changed = any(entry["changed"] for entry in self.outcome["tasks"])
        self.outcome.update(status="checked" if self.preflight else ("deployed" if changed else "unchanged"),
                            changed=changed)
        return self.outcome

    def record(self, entry: dict) -> None:
        self.outcome["tasks"].append(entry)

    def skip_reason(self, task: model.Task, release: model.Release) -> str:
        only = self.params.get("only_tasks") or []
        names = self.cluster_names()
        if only and task.identifier not in only:
            return "not selected (only %s)" % ", ".join(only)
        if not isinstance(task, (model.DeployTask, model.RunTask)):
            return OTHER_TASKS.get(task.type, "%s tasks are not run by this collection" % task.type)
        if self.params.get("match_cluster", True) and task.cluster and task.cluster not in names:
            return ("its cluster is %s, and this cluster is %s (add it to the cluster's aliases in the inventory, "
                    "or set match_cluster, the role's deploy_match_cluster, to false)" % (task.cluster, ", ".join(names) or "unnamed"))
        if task.filter and not filter_holds(task, release, self.tasks_services(), self.params.get("changed_files")):
            return "its filter is false: %s" % task.filter
        if isinstance(task, model.RunTask) and self.preflight:
            return "preflight: run tasks are not run in a dry run"
        return ""

    def cluster_names(self) -> List[str]:
        names = [str(name) for name in self.params.get("cluster_names") or []]
        if not names and self.cluster_name:
            names = [self.cluster_name]
        return names

    def tasks_services(self) -> Dict[str, Optional[dict]]:
        """``tasks.<id>.services`` for expressions: what each deploy task that ran did (None otherwise)."""
        return {identifier: (self.results.get(identifier) or {}).get("services") for identifier in self.task_ids}

    def tasks_context(self) -> Dict[str, dict]:
        return {identifier: {"services": services} for identifier, services in self.tasks_services().items()}

    def cluster_connection(self):
        if self.cluster is None:
            self.cluster = self.connect()
        return self.cluster

    # -- deploy tasks ------------------------------------------------------------------------------

    def deploy(self, project: model.Project, task: model.DeployTask, started: float) -> None:
        from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.environment import (
            environment_name,
        )

        context = self.tasks_context()
        namespace = environment_name(task, project.release, deploy.tasks_context(context))
        self.check_namespace(task, namespace)
        params = dict(self.params)
        params.update(task=task.identifier, namespace=namespace, wait=self.params.get("wait", True),
                      wait_timeout=self.params.get("wait_timeout") or None,
                      endpoint_timeout=self.params.get("endpoint_timeout") or 900,
                      rollback=self.params.get("rollback") or "release", prune=self.params.get("prune", True),
                      deploy_variables=dict(self.runtime_variables), tasks_context=context)
        result = deploy.run(params, check_mode=self.preflight, diff=self.diff, cluster=self.cluster_connection(),
                            project=project)
        for warning in result.warnings:
            self.warn(warning)
        if self.diff:
            self.diffs.extend(result.diff)
        self.would_change = self.would_change or result.changed
        previous = (self.params.get("previous_releases") or {}).get(task.identifier)
        # created by this task, or by an earlier task of this run: either way it did not exist before
        if any(obj.get("kind") == "Namespace" and obj.get("action") == "created" for obj in result.objects):
            self.created_namespaces.add(result.namespace)
        created = result.namespace in self.created_namespaces
        known = isinstance(previous, dict)
        if not known and result.changed and not self.preflight and result.release == 1:
            # this run recorded the task's first release: there was none before it
            previous, known = {"release": None, "namespace_created": created}, True
        if result.changed:
            status = "would change" if self.preflight else "deployed"
        else:
            status = "unchanged"
        self.record({
            "task": task.identifier, "type": "deploy", "status": status,
            "changed": bool(result.changed and not self.preflight),
            "namespace": result.namespace, "release": result.release,
            "previous_release": previous.get("release") if known else (result.release if self.preflight else None),
            "previous_known": known or self.preflight,
            "namespace_created": previous.get("namespace_created", created) if known else created,
            "services": result.services, "endpoints": result.endpoints,
        })
        outcome = self.outcome
        outcome["endpoints"].extend(dict(endpoint, task=task.identifier, namespace=result.namespace)
                                    for endpoint in result.endpoints)
        if result.namespace not in outcome["namespaces"]:
            outcome["namespaces"].append(result.namespace)
        outcome["releases"][task.identifier] = {"namespace": result.namespace, "release": result.release,
                                                "namespace_created": created}
        self.results[task.identifier] = {"services": {name: {key: bool(flags.get(key))
                                                             for key in ("created", "updated", "deleted")}
                                                      for name, flags in result.services.items()},
                                         "namespace": result.namespace, "release": result.release,
                                         "changed": result.changed}
        self.runtime_variables.update(result.variables)
        self.runtime_variables[naming.task_variable_name(task.identifier)] = result.namespace
        self.namespaces_by_environment[task.environment_name or ""] = result.namespace
        line = "%s (deploy): %s %s" % (task.identifier, status, result.namespace)
        if result.release is not None:
            line += ", release %s" % result.release
        summary = _services_summary(result.services, self.preflight)
        if summary:
            line += ": " + summary
        self.report("%s (%s)" % (line, format_seconds(time.monotonic() - started)))

    def check_namespace(self, task: model.Task, namespace: str) -> None:
        """Ansible masks every secret value wherever it appears in a result: an environment name that
        holds one could not be reported (nor rolled back by a later fleet-atomic rollback)."""
        if any(value and value in namespace for value in self.secrets):
            raise DefinitionError(
                "the environment name of task %s would contain the value of a secret variable (a short or "
                "common secret, such as a word of the branch name), and Ansible masks secret values wherever "
                "they appear in results: use longer secret values" % task.identifier,
                path=("tasks", task.identifier, task.type, "environment", "name"))

    # -- run tasks ---------------------------------------------------------------------------------

    def run_task(self, project: model.Project, task: model.RunTask, started: float) -> None:
        params = dict(self.params)
        params.update(task=task.identifier, namespace=self.namespaces_by_environment.get(task.environment_name or ""),
                      service=None, image=None, commands=None, environment={}, secret_environment={}, volumes=[],
                      volume_mounts=[], labels={}, annotations={}, service_account=None, endpoint_variables=True,
                      deploy_variables=dict(self.runtime_variables), tasks_context=self.tasks_context(),
                      timeout=self.params.get("run_timeout") or 3600)
        if not params["namespace"]:
            params["namespace"] = runs.environment_of(project, task.identifier, None,
                                                      deploy.tasks_context(params["tasks_context"]))
        self.check_namespace(task, params["namespace"])
        result = runs.run_task(self.cluster_connection(), params, project, warn=self.warn, secrets=self.add_secrets)
        self.record({"task": task.identifier, "type": "run", "status": "ran", "changed": True,
                     "namespace": result.namespace, "reason": result.message, "duration": result.duration})
        self.results[task.identifier] = {"changed": True}
        self.report("%s (run): ran in %s, %s (%s)" % (task.identifier, result.namespace, result.message,
                                                      format_seconds(time.monotonic() - started)))

    # -- failure -----------------------------------------------------------------------------------

    def failure(self, task: Optional[model.Task], error: BaseException) -> PipelineFailed:
        outcome = self.outcome
        if isinstance(error, (KeyboardInterrupt, runs.Interrupted)):
            text = "interrupted (%s)" % (error or "Ctrl-C")
        else:
            text = str(error)
        rolled_back, rolled_back_to, namespace, changed = False, None, "", False
        if isinstance(error, engine.DeployError):
            rolled_back, rolled_back_to = error.result.rolled_back, error.result.rolled_back_to
            namespace, changed = error.result.namespace, error.result.changed
            for warning in error.result.warnings:
                self.warn(warning)
        elif isinstance(error, runs.RunError):
            namespace = (error.result or {}).get("namespace") or ""
        outcome.update(status="failed", error=text, failed_task=task.identifier if task is not None else "",
                       rolled_back=rolled_back, rolled_back_to=rolled_back_to,
                       changed=any(entry["changed"] for entry in outcome["tasks"]) or bool(changed and not self.preflight))
        message = text
        if task is not None:
            self.record({"task": task.identifier, "type": task.type, "status": "failed", "changed": False,
                         "namespace": namespace, "reason": text, "rolled_back": rolled_back,
                         "rolled_back_to": rolled_back_to})
            message = "%s task %s failed: %s" % (task.type, task.identifier, text)
            if rolled_back_to is not None:
                message += " (rolled back to release %s)" % rolled_back_to
            elif rolled_back:
                message += " (rolled back)"
            self.report("%s (%s): FAILED: %s" % (task.identifier, task.type, text.splitlines()[0] if text else "?"))
        if self.cluster_name:
            message = "%s: %s" % (self.cluster_name, message)
        return PipelineFailed(message, outcome)

    # -- the module's result -----------------------------------------------------------------------

    def result(self) -> dict:
        """The module result: the outcome, ``changed`` in Ansible's sense, and the diff."""
        out = dict(self.outcome)
        if self.check_mode:
            out["changed"] = self.would_change
        elif self.preflight:
            out["changed"] = False
        if self.diff:
            out["diff"] = self.diffs
        return out
