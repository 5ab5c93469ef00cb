# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render deploy tasks to manifest files: load → translate, then write one file per deploy task.

Layout: ``<output_dir>/<namespace>/<task identifier>.yml``, one multi-document YAML file per deploy
task (several tasks may share one environment), objects in apply order.

Pod checksums are keyed (``translate/secrets.py``). Where Secret values are masked (results, and
files unless ``include_secrets``), the checksums are masked too and the key is a throw-away one;
files with the real values keep their key in the Secret ``cp-checksum-key.<task>`` they contain, and
the next render reads it back, so rendering again changes nothing and ``kubectl apply`` of the files
rolls pods only when a secret value really changed.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import tempfile
from dataclasses import dataclass
from typing import Callable, List, Optional

try:
    import yaml
except ImportError:  # pragma: no cover - the module reports PyYAML missing
    yaml = None

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import expressions, gc_pause, model, naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.checksum_key import new_key
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.manifests import (
    MASK,
    dump_all,
    masked_all,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate import labels
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.secrets import (
    CHECKSUM_KEY_DATA,
    CHECKSUM_PREFIX,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.environment import (
    TranslateOptions,
    environment_name,
    translate_environment,
)


@dataclass
class RenderedTask:
    task: model.DeployTask
    namespace: str
    objects: list
    filter: Optional[str] = None

    def summary(self, path: Optional[str] = None, with_objects: bool = True) -> dict:
        out = {
            "task": self.task.identifier,
            "cluster": self.task.cluster,
            "namespace": self.namespace,
            "filter": self.filter,
            "services": [service.identifier for service in self.task.services],
            "file": path,
            "object_count": len(self.objects),
        }
        if with_objects:
            out["objects"] = masked_objects(self.objects)
        return out


def masked_objects(objects) -> list:
    """Secret values masked, and the pod checksums computed from them.

    The objects themselves are left as they are: what changes is copied (a Secret; the path from a
    workload to its checksum annotation), everything else is shared.
    """
    return [_checksum_masked(obj) for obj in masked_all(objects)]


def _checksum_masked(obj: dict) -> dict:
    if obj.get("kind") == "Pod":
        return _with_masked_checksum(obj)
    template = (obj.get("spec") or {}).get("template")
    if not isinstance(template, dict):
        return obj
    shown = _with_masked_checksum(template)
    if shown is template:
        return obj
    return dict(obj, spec=dict(obj["spec"], template=shown))


def _with_masked_checksum(holder: dict) -> dict:
    """``holder`` (a pod or a pod template) with its checksum annotation masked (a copy when there is one)."""
    metadata = holder.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    if labels.CHECKSUM not in annotations:
        return holder
    annotations = dict(annotations)
    annotations[labels.CHECKSUM] = CHECKSUM_PREFIX + MASK
    return dict(holder, metadata=dict(metadata, annotations=annotations))


def kept_checksum_key(text: Optional[str], task: str) -> Optional[bytes]:
    """The checksum key inside a file rendered earlier with the Secret values, if there is one."""
    if not text or yaml is None:
        return None
    name = naming.checksum_key_secret_name(task)
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return None
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "Secret" \
                and (document.get("metadata") or {}).get("name") == name:
            try:
                key = base64.b64decode(str((document.get("data") or {}).get(CHECKSUM_KEY_DATA, "")), validate=True)
            except (binascii.Error, ValueError):
                return None
            return key or None
    return None


def select_deploy_tasks(project: model.Project, names=None) -> List[model.DeployTask]:
    """The project's deploy tasks, in pipeline order, optionally only the named ones."""
    tasks = list(project.deploy_tasks)
    if names:
        known = {task.identifier for task in tasks}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise DefinitionError(
                "unknown deploy task(s) %s; the pipelines for branch %r have: %s" % (
                    ", ".join(sorted(unknown)), project.release.branch, ", ".join(sorted(known)) or "none"),
                path=("tasks",))
        tasks = [task for task in tasks if task.identifier in names]
    return tasks


def pending_tasks_context(project: model.Project) -> dict:
    """``tasks.<id>`` as it reads before anything ran: every deploy task pending (all flags false)."""
    return {task.identifier: expressions.deploy_task_context(None)
            for pipeline in project.pipelines for task in pipeline.tasks}


def render_tasks(project: model.Project, names=None, options: Optional[TranslateOptions] = None,
                 checksum_key: Optional[Callable[[model.DeployTask, str], bytes]] = None) -> List[RenderedTask]:
    """Translate the selected deploy tasks, as a first run would see them (no task has run yet).

    The pod checksum key is ``options.checksum_key``, else ``checksum_key(task, namespace)``, else
    a throw-away one (fine wherever the checksums are masked).
    """
    rendered = []
    tasks_context = pending_tasks_context(project)
    for task in select_deploy_tasks(project, names):
        task_options = options or TranslateOptions()
        if task_options.namespace is None:
            task_options = dataclasses.replace(
                task_options, namespace=environment_name(task, project.release, tasks_context))
        if task_options.checksum_key is None:
            key = checksum_key(task, task_options.namespace) if checksum_key else None
            task_options = dataclasses.replace(task_options, checksum_key=key or new_key())
        environment = translate_environment(task, project.release, task_options)
        # The objects were just built for this call (no copy needed): nothing else holds them.
        rendered.append(RenderedTask(task, environment.namespace, environment.objects, task.filter))
    return rendered


def load_and_render(params: dict, names=None, options: Optional[TranslateOptions] = None,
                    checksum_key: Optional[Callable[[model.DeployTask, str], bytes]] = None, warnings=None):
    """(project, rendered tasks) of module options: load once, translate each task once.

    ``warnings``: see ``source.load_from_params``."""
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.source import load_from_params

    with gc_pause.paused():
        project = load_from_params(params, warnings=warnings)
        return project, render_tasks(project, names, options, checksum_key)


def task_path(output_dir: str, namespace: str, task: model.DeployTask) -> str:
    return os.path.join(output_dir, namespace, "%s.yml" % task.identifier)


def task_file(output_dir: str, rendered: RenderedTask) -> str:
    return task_path(output_dir, rendered.namespace, rendered.task)


def file_content(rendered: RenderedTask, include_secrets: bool) -> str:
    objects = rendered.objects if include_secrets else masked_objects(rendered.objects)
    with gc_pause.paused():
        return dump_all(objects)


def read_text(path: str) -> Optional[str]:
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_text(path: str, content: str, mode: int) -> None:
    """Write atomically (temporary file in the same directory, then rename)."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".render-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
