# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the roles and playbooks use to run a pipeline on the clusters of the inventory.

Documentation: one YAML file per filter next to this one (``ansible-doc -t filter <name>``).
"""
from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.continuouspipe.kubernetes.plugins.plugin_utils import clusters as cu


def _expressions():
    """The expression language, imported when a filter needs it (it is the bulk of this file's imports,
    and deploy.yml's request checks use the other filters)."""
    try:
        from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import expressions
    except ImportError:  # pragma: no cover - the expressions module ships with the collection
        return None
    return expressions


def cluster_connection(cluster, credentials=None):
    """Module connection options of a cluster host (``continuouspipe_cluster``), env names resolved now."""
    if not isinstance(cluster, dict) or not isinstance(cluster.get("connection"), dict):
        raise AnsibleFilterError(
            "cluster_connection expects the continuouspipe_cluster host variable of the clusters inventory "
            "(a mapping with 'connection'); got %s" % type(cluster).__name__)
    if credentials is not None and not isinstance(credentials, dict):
        raise AnsibleFilterError("cluster_connection: credentials must be a mapping of connection options")
    unknown = sorted(set(credentials or {}) - set(cu.CONNECTION_OPTIONS))
    if unknown:
        raise AnsibleFilterError("cluster_connection: unknown credential option(s) %s; known: %s"
                                 % (", ".join(unknown), ", ".join(cu.CONNECTION_OPTIONS)))
    try:
        return cu.resolve_connection(cu.plain(cluster["connection"]), cluster=cluster.get("name", ""),
                                     credentials=credentials)
    except cu.ConnectionError_ as error:
        raise AnsibleFilterError(str(error))


def branch_matches(branch, patterns):
    """True when the branch matches one of the patterns (or there are none)."""
    try:
        return cu.branch_matches(str(branch), cu.plain(patterns))
    except ValueError as error:
        raise AnsibleFilterError("branch_matches: %s" % error)


def rollout_serial(value, default=1):
    """A play ``serial`` from a string such as ``"1"``, ``"50%"`` or ``"1,50%"`` (empty: ``default``)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        value = default
    try:
        return cu.normalize_serial(cu.plain(value))
    except ValueError as error:
        raise AnsibleFilterError("rollout_serial: %s" % error)


def task_variable_name(identifier):
    """``__TASK_<ID>_TARGET_ENVIRONMENT_NAME`` for a task identifier (``-`` becomes ``_``, uppercased)."""
    return "__TASK_%s_TARGET_ENVIRONMENT_NAME" % re.sub(r"-", "_", str(identifier)).upper()


def _services_status(result):
    """``{service: {created, updated, deleted}}`` of a deploy result, or None when it did not deploy."""
    if not isinstance(result, dict) or result.get("skipped") or result.get("failed"):
        return None
    services = result.get("services")
    if not isinstance(services, dict):
        return None
    out = {}
    for name, status in services.items():
        status = status if isinstance(status, dict) else {}
        out[str(name)] = {key: bool(status.get(key)) for key in ("created", "updated", "deleted")}
    return out


def tasks_context(results, task_ids=None):
    """The ``tasks`` mapping of filter and environment-name expressions.

    ``results`` maps task identifiers to the results of the tasks run so far (the deploy module's
    result for deploy tasks). ``task_ids`` lists every task of the pipeline: tasks without a
    successful result answer any service with created/updated/deleted false.
    """
    results = cu.plain(results or {})
    out = {}
    for identifier in list(task_ids or []) + [key for key in results if key not in (task_ids or [])]:
        status = _services_status(results.get(identifier))
        out[str(identifier)] = {"services": status}
    return out


def task_filter(expression, release, tasks=None, changed_files=None):
    """Evaluate a task's ``filter.expression`` (ContinuousPipe context C4) to a boolean.

    ``release``: ``{flow_uuid, branch, sha, pull_request: {number, title, labels}}`` (what the
    pipeline_info module returns); ``tasks``: the output of ``tasks_context``; ``changed_files``:
    the files changed since the last deployment, for ``has_changes_for_files()`` (None: unknown,
    which answers true as ContinuousPipe did without a previous tide).
    """
    if expression in (None, ""):
        return True
    expressions = _expressions()
    if expressions is None:  # pragma: no cover
        raise AnsibleFilterError("task_filter: the expressions module is not available")
    release = cu.plain(release or {})
    pull_request = release.get("pull_request") or {}
    task_objects = {}
    for identifier, entry in cu.plain(tasks or {}).items():
        services = (entry or {}).get("services") if isinstance(entry, dict) else None
        task_objects[identifier] = expressions.deploy_task_context(services)
    context = expressions.tide_context(
        release.get("flow_uuid", ""), release.get("branch", ""), release.get("sha", ""),
        pull_request={"number": int(pull_request.get("number") or 0), "title": pull_request.get("title") or "",
                      "labels": list(pull_request.get("labels") or [])},
        tasks=task_objects)
    if changed_files is not None and not isinstance(changed_files, (list, tuple)):
        raise AnsibleFilterError("task_filter: changed_files must be a list of paths or null")
    files = None if changed_files is None else [str(path) for path in changed_files]
    functions = {"has_changes_for_files": expressions.has_changes_for_files_function(files)}
    try:
        value = expressions.evaluate(str(expression), context, functions)
        return expressions.to_bool_filter(value, str(expression))
    except expressions.ExpressionError as error:
        raise AnsibleFilterError("filter expression %r: %s" % (str(expression), error))


class FilterModule:
    def filters(self):
        return {
            "cluster_connection": cluster_connection,
            "branch_matches": branch_matches,
            "rollout_serial": rollout_serial,
            "task_variable_name": task_variable_name,
            "tasks_context": tasks_context,
            "task_filter": task_filter,
        }
