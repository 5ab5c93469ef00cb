# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Enhancers: extra partial configurations derived from the raw sources (docs/behaviour.md §2.3).

They run on the raw (not yet normalised) documents, in ContinuousPipe's order, and each one
*prepends* (lower precedence) or *appends* (higher precedence) a generated document:

1. task list given as a YAML list ⇒ ``task0``, ``task1``… (in place);
2. docker-compose defaults of ``build``/``deploy`` tasks (prepended, §5);
3. ``notifications.default`` (prepended);
4. the default build ``tag``: the commit SHA, or the branch with ``naming_strategy: branch`` (prepended);
5. deploy services named like a built service get its image and tag (prepended);
6. the ``defaults`` block copied onto every ``deploy``, ``run`` and ``delete`` task (prepended);
7. ``run.image.from_service`` and 8. deploy ``source.from_service`` ⇒ the built image (appended).

Resulting precedence, lowest first: defaults < built images < default build tag < notifications <
docker-compose < flow configuration < continuous-pipe.yml < ``from_service`` < ``images`` option.

Extension: ``LoadOptions.images`` (service name ⇒ full image reference built by the user's CI) is
a last, appended document. It replaces the image (and drops the tag) of ``from_service``
references to that service, and of deploy services of that name whose image is not written in
the flow configuration or ``continuous-pipe.yml`` (i.e. would come from a build or from
docker-compose).

Difference with ContinuousPipe: without a commit SHA (``Release.code_reference.sha`` empty) the
default build tag is not set (ContinuousPipe always had a SHA).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.compose import ComposeProject
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.php import (
    array_merge_recursive,
    php_bool,
    php_empty,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

__all__ = ["Document", "enhance", "task_list_as_unnamed_array"]

Path = Tuple[Any, ...]

FLOW = "flow configuration"
FILE = "continuous-pipe.yml"
GENERATED = "generated defaults"
IMAGES = "options"

_DOCKER_TAG_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


@dataclass
class Document:
    """One configuration source: its label (a file name or "flow configuration") and raw data."""

    label: str
    data: Any
    user: bool = False


# --------------------------------------------------------------------------------------------------
# path helpers (Symfony PropertyAccess over PHP arrays)


def get_path(data: Any, path: Sequence[Any]) -> Tuple[bool, Any]:
    """``(found, value)`` of ``path`` in nested dicts/lists."""
    for key in path:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
            data = data[key]
        else:
            return False, None
    return True, data


def set_path(data: Dict, path: Sequence[Any], value: Any) -> None:
    """Set ``path`` in a generated document, creating mappings on the way."""
    for key in path[:-1]:
        child = data.get(key)
        if not isinstance(child, dict):
            child = {}
            data[key] = child
        data = child
    data[path[-1]] = value


def values_at(documents: Sequence[Document], path: Path) -> List[Any]:
    """The non-empty values at ``path`` in every document, in order (``TaskLocator::getValuesAtPath``)."""
    values = []
    for document in documents:
        found, value = get_path(document.data, path)
        if found and not php_empty(value):
            values.append(value)
    return values


def _items(value: Any) -> Iterable[Tuple[Any, Any]]:
    if isinstance(value, dict):
        return value.items()
    if isinstance(value, list):
        return enumerate(value)
    return ()


def expand(documents: Sequence[Document], prefix: Path) -> List[Path]:
    """``prefix + (key,)`` for every key found at ``prefix`` in any document (a ``[*]`` selector)."""
    paths: Dict[Path, None] = {}
    for document in documents:
        found, value = get_path(document.data, prefix)
        if found:
            for key, _item in _items(value):
                paths[prefix + (key,)] = None
    return list(paths)


# --------------------------------------------------------------------------------------------------
# TaskLocator


def _paths_in(config: Any) -> Dict[Path, str]:
    paths: Dict[Path, str] = {}
    if not isinstance(config, dict):
        return paths
    for key, task in _items(config.get("tasks")):
        if not isinstance(task, dict):
            continue
        for task_type in task:
            if task_type not in ("imports", "identifier"):
                paths.setdefault(("tasks", key, task_type), task_type)
    return paths


def task_paths(documents: Sequence[Document]) -> Dict[Path, str]:
    """Every task path (``tasks.<name>.<type>`` and non-import ``pipelines.<i>.tasks.<j>.<type>``)."""
    paths: Dict[Path, str] = {}
    for document in documents:
        config = document.data
        if not isinstance(config, dict):
            continue
        for path, task_type in _paths_in(config).items():
            paths[path] = task_type
        for pipeline_key, pipeline in _items(config.get("pipelines")):
            for path, task_type in _paths_in(pipeline).items():
                full = ("pipelines", pipeline_key) + path
                if values_at(documents, full[:-1] + ("imports",)):
                    continue
                paths[full] = task_type
    return paths


def empty_configuration(documents: Sequence[Document]) -> Dict[str, Any]:
    """A document listing every task name, so that generated documents keep the tasks' order."""
    tasks: Dict[Any, Any] = {}
    for document in documents:
        if isinstance(document.data, dict):
            for name, _task in _items(document.data.get("tasks")):
                tasks[name] = {}
    return {"tasks": tasks}


def service_names(documents: Sequence[Document], paths: Iterable[Path]) -> List[Any]:
    names: Dict[Any, None] = {}
    for document in documents:
        for path in paths:
            found, configuration = get_path(document.data, path)
            if found and isinstance(configuration, dict) and isinstance(configuration.get("services"), dict):
                for name in configuration["services"]:
                    names[name] = None
    return list(names)


def built_service_value(documents: Sequence[Document], service: Any, key: str,
                        paths: Optional[Dict[Path, str]] = None) -> Any:
    """The last non-empty ``key`` (image/tag) of ``service`` in any build task or build step."""
    build_paths = [path for path, task_type in (paths or task_paths(documents)).items() if task_type == "build"]
    paths: List[Path] = []
    for path in build_paths:
        service_path = path + ("services", service)
        paths.append(service_path + (key,))
        paths.extend(step + (key,) for step in expand(documents, service_path + ("steps",)))
    values: List[Any] = []
    for path in paths:
        values.extend(values_at(documents, path))
    return values[-1] if values else None


# --------------------------------------------------------------------------------------------------
# the enhancers


def task_list_as_unnamed_array(config: Any) -> Any:
    """``tasks: [a, b]`` ⇒ ``tasks: {task0: a, task1: b}`` (integer keys renamed, moved last)."""
    if not isinstance(config, dict) or not isinstance(config.get("tasks"), (dict, list)):
        return config
    tasks = config["tasks"]
    items = list(_items(tasks))
    renamed = {key: task for key, task in items if not isinstance(key, int)}
    for key, task in items:
        if isinstance(key, int):
            renamed["task%d" % key] = task
    config = dict(config)
    config["tasks"] = renamed
    return config


def docker_compose_defaults(documents: List[Document], compose: Optional[ComposeProject]) -> List[Document]:
    if compose is None or not compose.services:
        return documents
    generated = empty_configuration(documents)
    for path, task_type in task_paths(documents).items():
        set_path(generated, path, {})
        if task_type not in ("build", "deploy"):
            continue
        services = {}
        for service in compose.services:
            if task_type == "build":
                if service.has_to_be_built:
                    services[service.name] = service.build_defaults()
            else:
                services[service.name] = service.deploy_defaults()
        existing = values_at(documents, path + ("services",))
        if existing:
            declared = {name for value in existing if isinstance(value, dict) for name in value}
            services = {name: value for name, value in services.items() if name in declared}
        set_path(generated, path + ("services",), services)
    label = compose.files[-1] if len(compose.files) > 1 else compose.files[0]
    return [Document(label, generated)] + documents


def github_notifications(documents: List[Document]) -> List[Document]:
    return [Document(GENERATED, {"notifications": {"default": {"commit": True, "pull_request": True}}})] \
        + documents


def default_build_tag(documents: List[Document], branch: str, sha: str) -> List[Document]:
    paths = task_paths(documents)
    generated = empty_configuration(documents)
    build_paths = [path for path, task_type in paths.items() if task_type == "build"]
    built = service_names(documents, build_paths)
    for build_path in build_paths:
        for name in built:
            service_path = build_path + ("services", name)
            for prefix in [service_path] + expand(documents, service_path + ("steps",)):
                if not values_at(documents, prefix + ("image",)):
                    if len(prefix) > len(service_path):
                        set_path(generated, prefix, {})  # keeps the order of the steps
                    continue
                if values_at(documents, prefix + ("tag",)):
                    continue
                strategies = values_at(documents, prefix + ("naming_strategy",))
                tag = _default_tag(branch, sha, strategies[-1] if strategies else None)
                if tag:
                    set_path(generated, prefix + ("tag",), tag)
    return [Document(GENERATED, generated)] + documents


def _default_tag(branch: str, sha: str, naming_strategy: Any) -> str:
    if naming_strategy == "branch":
        if branch and not _DOCKER_TAG_RE.match(branch):
            return naming.slugify(branch)
        return branch
    return sha


def deploy_built_images(documents: List[Document]) -> List[Document]:
    paths = task_paths(documents)
    generated = empty_configuration(documents)
    for path in paths:
        set_path(generated, path, {})
    for path, task_type in paths.items():
        if task_type != "deploy":
            continue
        for name in service_names(documents, [path]):
            source = path + ("services", name, "specification", "source")
            if not values_at(documents, source + ("tag",)):
                tag = built_service_value(documents, name, "tag", paths)
                if php_bool(tag):
                    set_path(generated, source + ("tag",), tag)
            if not values_at(documents, source + ("image",)):
                image = built_service_value(documents, name, "image", paths)
                if php_bool(image):
                    set_path(generated, source + ("image",), image)
    return [Document(GENERATED, generated)] + documents


def default_values(documents: List[Document]) -> List[Document]:
    defaults: Any = {}
    sources: Dict[Path, List[str]] = {}
    for document in documents:
        found, value = get_path(document.data, ("defaults",))
        if found and not php_empty(value) and isinstance(value, dict):
            for leaf in _leaves(value):
                sources.setdefault(leaf, []).append(document.label)
            defaults = array_merge_recursive(defaults, value)
    for leaf, labels in sources.items():
        if len(labels) > 1:
            raise DefinitionError(
                "`defaults.%s` is defined in both the %s and %s: define `defaults` in one place "
                "(ContinuousPipe combined both values into an invalid list)"
                % (".".join(str(k) for k in leaf), labels[0], labels[1]), ("defaults",) + leaf, labels[-1])
    if not defaults:
        return documents
    generated = empty_configuration(documents)
    for path, task_type in task_paths(documents).items():
        if task_type in ("deploy", "run", "delete"):
            set_path(generated, path, _copy(defaults))
    return [Document(GENERATED, generated)] + documents


def _leaves(value: Dict, prefix: Path = ()) -> List[Path]:
    leaves = []
    for key, item in value.items():
        if isinstance(item, dict) and item:
            leaves.extend(_leaves(item, prefix + (key,)))
        else:
            leaves.append(prefix + (key,))
    return leaves


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _last_with(documents: Sequence[Document], path: Path, inner: Path) -> Any:
    """The ``inner`` value of the last non-empty value at ``path`` that has a truthy ``inner``."""
    found_value = None
    for value in values_at(documents, path):
        found, item = get_path(value, inner)
        if found and php_bool(item) and isinstance(value, dict):
            found_value = item
    return found_value


def run_image_from_service(documents: List[Document], images: Dict[str, str]) -> List[Document]:
    generated = empty_configuration(documents)
    for path in expand(documents, ("tasks",)):
        service = _last_with(documents, path + ("run",), ("image", "from_service"))
        if service is None:
            continue
        if service in images:
            set_path(generated, path + ("run", "image", "name"), images[service])
            continue
        image = built_service_value(documents, service, "image")
        if php_bool(image):
            tag = built_service_value(documents, service, "tag")
            name = "%s:%s" % (image, tag) if php_bool(tag) else image
            set_path(generated, path + ("run", "image", "name"), name)
    return documents + [Document(GENERATED, generated)]


def deploy_image_from_service(documents: List[Document], images: Dict[str, str]) -> List[Document]:
    generated = empty_configuration(documents)
    for task in expand(documents, ("tasks",)):
        for path in expand(documents, task + ("deploy", "services")):
            service = _last_with(documents, path, ("specification", "source", "from_service"))
            if service is None:
                continue
            source = path + ("specification", "source")
            if service in images:
                set_path(generated, source + ("image",), images[service])
                set_path(generated, source + ("tag",), None)
                continue
            image = built_service_value(documents, service, "image")
            if php_bool(image):
                tag = built_service_value(documents, service, "tag")
                if php_bool(tag):
                    set_path(generated, source + ("tag",), tag)
                set_path(generated, source + ("image",), image)
    return documents + [Document(GENERATED, generated)]


def image_overrides(documents: List[Document], images: Dict[str, str]) -> List[Document]:
    """Extension: ``LoadOptions.images`` replaces derived images of deploy services of that name."""
    if not images:
        return documents
    users = [document for document in documents if document.user]
    generated = empty_configuration(documents)
    for path, task_type in task_paths(documents).items():
        if task_type != "deploy":
            continue
        for name in service_names(documents, [path]):
            if name not in images:
                continue
            source = path + ("services", name, "specification", "source")
            if values_at(users, source + ("image",)) or values_at(users, source + ("from_service",)):
                continue
            set_path(generated, source + ("image",), images[name])
            set_path(generated, source + ("tag",), None)
    return documents + [Document(IMAGES, generated)]


def enhance(documents: List[Document], compose: Optional[ComposeProject], branch: str, sha: str,
            images: Optional[Dict[str, str]] = None) -> List[Document]:
    """Run the enhancers 2-8 (1, the task list renaming, is done when the documents are read)."""
    images = dict(images or {})
    documents = docker_compose_defaults(documents, compose)
    documents = github_notifications(documents)
    documents = default_build_tag(documents, branch, sha)
    documents = deploy_built_images(documents)
    documents = default_values(documents)
    documents = run_image_from_service(documents, images)
    documents = deploy_image_from_service(documents, images)
    return image_overrides(documents, images)
