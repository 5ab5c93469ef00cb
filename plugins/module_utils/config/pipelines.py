# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finalizers and pipelines (docs/behaviour.md §2.5 and §7).

After the sources are merged, in ContinuousPipe's order:

1. environment variables de-duplicated: among entries without ``condition``, the last one of a
   name is kept (top-level ``variables`` and every deploy service's ``environment_variables``);
2. no ``pipelines`` ⇒ one "Default pipeline" importing every task, in order;
3. pipeline task entries with ``imports: X`` are ``tasks.X`` deep-merged with the entry (same merge
   rules as the files: ports/command replaced, endpoints/volumes appended, environment variables by
   name) and get ``identifier: X``; pipelines inherit the top-level ``notifications``/``filter``; their
   ``variables`` are merged into a copy of the top-level ones (an entry of the same name is
   overwritten key by key, so a top-level ``condition`` survives);
4. the pipelines' variables de-duplicated like 1.;
5. (``variables.py``) ``${VAR}`` substitution, pipelines first, then the whole configuration;
6. task keys sorted when they are all numeric.

Then the pipelines whose ``condition`` (context C5) holds are kept. ``has_changes_for_files()``
needs ``LoadOptions.changed_files`` (the files changed since the last deployment); without it the
function is an error instead of ContinuousPipe's comparison with the last successful tide.

:class:`TaskOrigins` maps a path inside a pipeline task back to what the user wrote: the
imported ``tasks.X.…`` unless the pipeline entry overrides that key.

Differences with ContinuousPipe: ``imports: app-deploy`` finds the task ``app_deploy`` (task names
are normalised, CP then failed to import); an explicit ``identifier`` on an importing entry is kept
(CP overwrote it with the imported name).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import expressions
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.nodes import Issues
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.schema import pipeline_task_node
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.model import Release

__all__ = ["DEFAULT_PIPELINE", "TaskOrigins", "create_default_pipeline", "import_pipeline_tasks",
           "merge_environment_variables", "order_tasks_by_key", "pipeline_matches", "selected_pipelines"]

Path = Tuple[Any, ...]
DEFAULT_PIPELINE = "Default pipeline"

_PIPELINE_TASK = pipeline_task_node()


# --------------------------------------------------------------------------------------------------
# 1. and 4. environment variables


def _dedupe(variables: Any) -> Any:
    if not isinstance(variables, list):
        return variables
    last: Dict[Any, int] = {}
    removed = set()
    for index, variable in enumerate(variables):
        if not isinstance(variable, dict) or "condition" in variable:
            continue
        name = variable.get("name")
        if name in last:
            removed.add(last[name])
        last[name] = index
    return [variable for index, variable in enumerate(variables) if index not in removed]


def _dedupe_services(tasks: Any) -> None:
    for task in (tasks or {}).values():
        deploy = task.get("deploy") if isinstance(task, dict) else None
        services = deploy.get("services") if isinstance(deploy, dict) else None
        for service in (services or {}).values():
            specification = service.get("specification") if isinstance(service, dict) else None
            if isinstance(specification, dict) and "environment_variables" in specification:
                specification["environment_variables"] = _dedupe(specification["environment_variables"])


def merge_environment_variables(configuration: Dict[str, Any], pipelines: bool = False) -> None:
    """``MergeEnvironmentVariables`` over the top level (or over every pipeline)."""
    scopes = list((configuration.get("pipelines") or {}).values()) if pipelines else [configuration]
    for scope in scopes:
        if not isinstance(scope, dict):
            continue
        if "variables" in scope:
            scope["variables"] = _dedupe(scope["variables"])
        _dedupe_services(scope.get("tasks"))


# --------------------------------------------------------------------------------------------------
# 2. default pipeline


def create_default_pipeline(configuration: Dict[str, Any]) -> bool:
    """Add the "Default pipeline" when there is none; True when it was added."""
    if configuration.get("pipelines"):
        return False
    tasks = configuration.get("tasks") or {}
    configuration["pipelines"] = {0: {"name": DEFAULT_PIPELINE,
                                      "tasks": {name: {"imports": name} for name in tasks}}}
    return True


# --------------------------------------------------------------------------------------------------
# 3. imports


@dataclass
class TaskOrigins:
    """Where the content of each pipeline task came from, to report errors on what the user wrote."""

    default_pipeline: bool = False
    #: (pipeline key, task key) ⇒ (imported task name, the entry as written in the pipeline)
    imports: Dict[Tuple[Any, Any], Tuple[Any, Dict[str, Any]]] = field(default_factory=dict)

    def user_path(self, path: Path) -> Path:
        """``pipelines.<p>.tasks.<t>.<rest>`` ⇒ ``tasks.<imported>.<rest>`` unless the entry sets ``<rest>``."""
        if len(path) >= 4 and path[0] == "pipelines" and path[2] == "variables" and self.default_pipeline:
            return ("variables",) + tuple(path[3:])
        if len(path) < 4 or path[0] != "pipelines" or path[2] != "tasks":
            return path
        record = self.imports.get((path[1], path[3]))
        if record is None:
            return path
        name, entry = record
        rest = path[4:]
        if not self.default_pipeline and _has_path(entry, rest):
            return path
        return ("tasks", name) + rest


def _has_path(data: Any, path: Sequence[Any]) -> bool:
    if not path:
        return False
    for key in path:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
            data = data[key]
        else:
            return False
    return True


def _task_name(tasks: Dict[Any, Any], name: Any) -> Optional[Any]:
    if name in tasks:
        return name
    if isinstance(name, str) and "-" in name and "_" not in name and name.replace("-", "_") in tasks:
        return name.replace("-", "_")
    return None


def import_pipeline_tasks(configuration: Dict[str, Any], origins: TaskOrigins,
                          locate: Callable[[Path], Optional[str]]) -> None:
    """``ImportPipelineConfiguration``: resolve ``imports``, inherit notifications/filter, merge variables."""
    if "tasks" not in configuration:
        return
    tasks = configuration.get("tasks") or {}
    issues = Issues(locate=locate)
    for pipeline_key, pipeline in (configuration.get("pipelines") or {}).items():
        if not isinstance(pipeline, dict):
            continue
        for task_key, entry in list((pipeline.get("tasks") or {}).items()):
            if not isinstance(entry, dict) or entry.get("imports") is None:
                continue
            path = ("pipelines", pipeline_key, "tasks", task_key)
            name = _task_name(tasks, entry["imports"])
            if name is None:
                close = difflib.get_close_matches(str(entry["imports"]), [str(t) for t in tasks], n=1)
                issues.add('Unable to import task "%s": The task does not exist' % entry["imports"],
                           path + ("imports",),
                           expected='one of the tasks: %s' % (", ".join('"%s"' % t for t in tasks) or "(none)")
                           if not close else 'did you mean "%s"?' % close[0])
                continue
            origins.imports[(pipeline_key, task_key)] = (name, entry)
            task = _PIPELINE_TASK.merge(tasks[name], entry, path, issues)
            if entry.get("identifier") is None:
                task["identifier"] = name
            task.pop("imports", None)
            pipeline["tasks"][task_key] = task
        if pipeline.get("notifications") is None and configuration.get("notifications") is not None:
            pipeline["notifications"] = configuration["notifications"]
        if pipeline.get("filter") is None and configuration.get("filter") is not None:
            pipeline["filter"] = configuration["filter"]
        if configuration.get("variables") is not None:
            pipeline["variables"] = _merge_variables(configuration["variables"], pipeline.get("variables") or [])
    issues.raise_if_any()


def _merge_variables(target: List[Any], source: List[Any]) -> List[Any]:
    """``ImportPipelineConfiguration::mergeVariables``: same-name entries overwritten key by key."""
    merged = [dict(item) if isinstance(item, dict) else item for item in target]
    for variable in source:
        if not isinstance(variable, dict):
            continue
        indexes = [index for index, item in enumerate(merged)
                   if isinstance(item, dict) and item.get("name") == variable.get("name")]
        if not indexes:
            merged.append(dict(variable))
        for index in indexes:
            merged[index].update(variable)
    return merged


# --------------------------------------------------------------------------------------------------
# 6. order


def _numeric(key: Any) -> bool:
    if isinstance(key, bool):
        return False
    if isinstance(key, (int, float)):
        return True
    try:
        float(key)
        return True
    except (TypeError, ValueError):
        return False


def _sort_tasks(scope: Dict[str, Any]) -> None:
    tasks = scope.get("tasks")
    if isinstance(tasks, dict) and all(_numeric(key) for key in tasks):
        scope["tasks"] = dict(sorted(tasks.items(), key=lambda item: float(item[0])))


def order_tasks_by_key(configuration: Dict[str, Any]) -> None:
    for pipeline in (configuration.get("pipelines") or {}).values():
        if isinstance(pipeline, dict):
            _sort_tasks(pipeline)
    _sort_tasks(configuration)


# --------------------------------------------------------------------------------------------------
# pipeline conditions (context C5)


def _missing_changed_files(*_args: Any) -> bool:
    raise expressions.ExpressionError(
        "has_changes_for_files() needs the list of files changed since the last deployment: "
        "give it with the changed_files option")


def condition_functions(changed_files: Optional[Sequence[str]]) -> Dict[str, Callable[..., Any]]:
    if changed_files is None:
        return {"has_changes_for_files": _missing_changed_files}
    return {"has_changes_for_files": expressions.has_changes_for_files_function(list(changed_files))}


def pull_request_of(release: Release) -> Dict[str, Any]:
    request = release.code_reference.pull_request
    return {"number": request.number, "title": request.title, "labels": list(request.labels)}


def pipeline_matches(pipeline: Dict[str, Any], path: Path, release: Release,
                     changed_files: Optional[Sequence[str]], locate: Callable[[Path], Optional[str]]) -> bool:
    """``Pipeline::matchesCondition``: no condition, or a condition that is true in context C5."""
    condition = pipeline.get("condition")
    if condition is None:
        return True
    reference = release.code_reference
    context = expressions.tide_context(release.flow_uuid, reference.branch, reference.sha, pull_request_of(release))
    where = path + ("condition",)
    try:
        value = expressions.evaluate(condition, context, condition_functions(changed_files))
        return expressions.to_bool_filter(value, str(condition))
    except expressions.ExpressionSyntaxError as error:
        raise DefinitionError('The expression provided ("%s") is not valid: %s' % (condition, error.message),
                              where, locate(where))
    except (expressions.ExpressionError, TypeError) as error:
        raise DefinitionError(str(error), where, locate(where))


def selected_pipelines(configuration: Dict[str, Any], release: Release, changed_files: Optional[Sequence[str]],
                       locate: Callable[[Path], Optional[str]]) -> List[Tuple[Any, Dict[str, Any]]]:
    """``(key, pipeline)`` of every pipeline whose condition holds, in order."""
    selected = []
    for key, pipeline in (configuration.get("pipelines") or {}).items():
        if isinstance(pipeline, dict) and pipeline_matches(pipeline, ("pipelines", key), release, changed_files,
                                                           locate):
            selected.append((key, pipeline))
    return selected
