# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render deploy tasks to manifest files: load → translate, then write one file per deploy task.

Layout: ``<output_dir>/<namespace>/<task identifier>.yml``, one multi-document YAML file per deploy
task (several tasks may share one environment), objects in apply order.

Paths come from the repository (task identifiers, environment names), so nothing is written
outside ``output_dir``: the namespace must be a DNS-1123 label, the task identifier a plain file
name (no ``/``, no leading ``.``, no control character, at most 200 bytes), and the directory the
file goes to must still be inside ``output_dir`` once links are resolved. A file is written to a
temporary name and renamed over the old one, so a link at the file's place is replaced, never
written through; an existing file is read back (for the diff and the kept checksum key) only when
it is a regular file of at most ``MAX_RENDERED_BYTES``.

Pod checksums are keyed (``translate/secrets.py``). Where Secret values are masked (results, and
files unless ``include_secrets``), the checksums are masked too and the key is a throw-away one;
files with the real values keep their key in the Secret ``cp-checksum-key.<task>`` they contain, and
the next render reads it back, so rendering again changes nothing and ``kubectl apply`` of the files
rolls pods only when a secret value really changed. A secret value the project writes outside a
Secret (allowed only by ``secrets_in_plain_fields: warn``) is masked wherever it appears, in files
(unless ``include_secrets``) and in results.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import stat
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
    #: secret values the project writes in clear outside Secrets (``secrets_in_plain_fields: warn``)
    secrets: tuple = dataclasses.field(default=(), repr=False)

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
            out["objects"] = masked_objects(self.objects, self.secrets)
        return out


def _mask_values(value, secrets):
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):  # keys too: a secret env var name is the key of its Secret
        return {_mask_values(key, secrets): _mask_values(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask_values(item, secrets) for item in value]
    return value


def masked_objects(objects, secrets=()) -> list:
    """Secret values masked, and the pod checksums computed from them; ``secrets`` (values written
    in clear outside Secrets, longest first) masked wherever they appear.

    The objects themselves are left as they are: what changes is copied (a Secret; the path from a
    workload to its checksum annotation; an object holding a secret value), everything else is shared.
    """
    out = masked_all(objects)
    if secrets:
        out = [_mask_values(obj, secrets) for obj in out]
    return [_checksum_masked(obj) for obj in out]


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
    with expressions.evaluation_budget():  # what the environment names' expressions may cost, together
        return _render_tasks(project, names, options, checksum_key)


def _render_tasks(project, names, options, checksum_key) -> List[RenderedTask]:
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
        rendered.append(RenderedTask(task, environment.namespace, environment.objects, task.filter,
                                     project.exposed_secrets))
    return rendered


#: Largest earlier rendered file read back (for the diff and the kept checksum key).
MAX_RENDERED_BYTES = 64 * 1024 * 1024
_MAX_FILE_NAME_BYTES = 200


def _file_name(task: model.DeployTask) -> str:
    identifier = task.identifier
    problem = None
    if not identifier or identifier.startswith("."):
        problem = "is empty or starts with a dot"
    elif "/" in identifier or "\\" in identifier:
        problem = "holds a path separator"
    elif any(ord(char) < 32 or ord(char) == 127 for char in identifier):
        problem = "holds a control character"
    elif len(identifier.encode("utf-8", "surrogatepass")) > _MAX_FILE_NAME_BYTES:
        problem = "is longer than %d bytes" % _MAX_FILE_NAME_BYTES
    if problem:
        raise DefinitionError("the task identifier %r %s: it cannot name the rendered file" % (identifier, problem),
                              path=("tasks", identifier),
                              expected="letters, digits, '-', '_' and '.', not starting with '.'")
    return "%s.yml" % identifier


def load_and_render(params: dict, names=None, options: Optional[TranslateOptions] = None,
                    checksum_key: Optional[Callable[[model.DeployTask, str], bytes]] = None, warnings=None):
    """(project, rendered tasks) of module options: load once, translate each task once.

    ``warnings``: see ``source.load_from_params``."""
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.source import load_from_params

    with gc_pause.paused():
        project = load_from_params(params, warnings=warnings)
        return project, render_tasks(project, names, options, checksum_key)


def task_path(output_dir: str, namespace: str, task: model.DeployTask) -> str:
    """``<output_dir>/<namespace>/<task>.yml``, refusing any name that would leave ``output_dir``."""
    if not isinstance(namespace, str) or not naming.is_dns1123_label(namespace):
        raise DefinitionError("the environment name %r cannot name a directory" % (namespace,),
                              path=("tasks", task.identifier, "deploy", "environment", "name"),
                              expected="a DNS-1123 label")
    return os.path.join(output_dir, namespace, _file_name(task))


def task_file(output_dir: str, rendered: RenderedTask) -> str:
    return task_path(output_dir, rendered.namespace, rendered.task)


def file_content(rendered: RenderedTask, include_secrets: bool) -> str:
    objects = rendered.objects if include_secrets else masked_objects(rendered.objects, rendered.secrets)
    with gc_pause.paused():
        return dump_all(objects)


def read_text(path: str) -> Optional[str]:
    """An earlier rendered file; None when there is none, or when the place holds anything but a
    regular file of at most ``MAX_RENDERED_BYTES`` (a link is never read through)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode) or status.st_size > MAX_RENDERED_BYTES:
            return None
        with os.fdopen(os.dup(descriptor), "rb") as handle:
            data = handle.read(MAX_RENDERED_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(descriptor)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def write_text(path: str, content: str, mode: int, output_dir: Optional[str] = None) -> None:
    """Write atomically (temporary file in the same directory, then rename).

    With ``output_dir``, the directory of ``path`` must be inside it once links are resolved
    (raises DefinitionError naming the file otherwise).
    """
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    if output_dir is not None:
        if not _inside(os.path.realpath(output_dir), os.path.realpath(directory)):
            raise DefinitionError("not written: its directory leads outside output_dir (a symbolic link)", file=path,
                                  expected="a directory inside output_dir")
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
