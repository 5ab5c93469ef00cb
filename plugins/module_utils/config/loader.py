# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The load stage: project files + Ansible options ⇒ :class:`model.Project` (docs/behaviour.md §1.1, §2).

::

    flow configuration ─┐                       enhancers (§2.3)        finalizers (§2.5)
    continuous-pipe.yml ─┼─ read, task list ⇒ ──▶ docker-compose,  ──▶ normalise, merge ──▶ default pipeline,
    docker-compose*.yml ─┘  task0…, validate      defaults, images…                        imports, ${VAR}, order
                                                                                              │
                        Project ◀── builder (conditions, hosts, images) ◀── pipelines whose ◀─ finalise (required
                                                                            condition holds    keys, defaults, checks)

Public entry points: :func:`load_project`, :func:`load_configuration` (the merged, finalised raw
configuration, as ContinuousPipe's ``ConfigurationFactory::getConfiguration`` returned it) and
:func:`load_documents` (the sources as read and validated). Every failure is a
:class:`DefinitionError` (or :class:`DefinitionErrors`) naming the file (``continuous-pipe.yml``,
``docker-compose.yml``, ``docker-compose.<branch>.yml`` or ``flow configuration``) and the key path.

Safe-by-default differences with ContinuousPipe are listed in the docstrings of each module
(``yaml_dialect``, ``compose``, ``enhancers``, ``variables``, ``pipelines``, ``builder``); the ones
decided here:

* an undefined ``${VAR}`` is an error (``undefined_variables="error"``), see :mod:`variables`;
* variables given as options override the files' variables of the same name; ``encrypted_value``
  variables take their value from ``secret_variables``;
* the ``flow_configuration`` option may be a mapping or a YAML string;
* same-name variables with different conditions are never merged together (ContinuousPipe's
  ``VariablesArrayNode`` compared the missing condition ``true`` loosely with any condition string,
  so an unconditional flow variable was overwritten by the file's first conditional one).
"""
from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import expressions, model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config import schema
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.builder import BuildContext, build_project
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.compose import (
    ComposeProject,
    read_compose,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.enhancers import (
    FILE,
    FLOW,
    GENERATED,
    IMAGES,
    Document,
    enhance,
    task_list_as_unnamed_array,
    task_paths,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.nodes import INVALID, Issues
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.pipelines import (
    TaskOrigins,
    create_default_pipeline,
    import_pipeline_tasks,
    merge_environment_variables,
    order_tasks_by_key,
    selected_pipelines,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.variables import (
    Resolved,
    SubstitutionBudget,
    VariableContext,
    plain,
    resolve_variables,
    substitute_tree,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.files import read_project_file
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.yaml_dialect import (
    MAX_DEPTH,
    MAX_NODES,
    load_yaml,
    load_yaml_bytes,
    yaml_policy,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import (
    DefinitionError,
    DefinitionErrors,
)

__all__ = ["CONFIGURATION_FILE", "LoadOptions", "LoadedConfiguration", "load_configuration", "load_documents",
           "load_project", "tide_configurations"]

CONFIGURATION_FILE = "continuous-pipe.yml"
#: Most values a project may expand to once docker-compose services, defaults, imported tasks and
#: inherited variables are copied where they apply (the largest real project: about 500; the
#: benchmarks' generated project of 3,000 services fits).
MAX_CONFIGURATION_NODES = 500000
UNDEFINED_MODES = ("error", "keep")

Path = Tuple[Any, ...]

#: Hints added to "must be configured" errors, by the end of their path.
_REQUIRED_HINTS = {
    ("source", "image"): "an image: specification.source.image, an `image` in docker-compose.yml, a build task "
                         "building a service of the same name, or the images option",
    ("specification", "source"): "specification.source.image (or a docker-compose.yml service, a build task of "
                                 "the same name, or the images option)",
    ("image", "name"): "an image name, or from_service naming a service built by a build task (or given in the "
                       "images option)",
}


@dataclass
class LoadOptions:
    """What Ansible adds to the files (see the ``source`` doc fragment)."""

    flow_configuration: Optional[Any] = None
    variables: Dict[str, Any] = field(default_factory=dict)
    secret_variables: Dict[str, Any] = field(default_factory=dict)
    undefined_variables: str = "error"
    images: Dict[str, str] = field(default_factory=dict)
    changed_files: Optional[List[str]] = None
    duplicate_keys: str = "first"
    # "mask" lets encrypted values without secret_variables stand masked (nothing is deployed)
    missing_secrets: str = "error"
    secrets_in_plain_fields: str = "error"
    allow_untagged_images: bool = False
    allow_host_access: bool = False


@dataclass
class LoadedConfiguration:
    """The merged and finalised configuration, and what building the model from it needs."""

    configuration: Dict[str, Any]
    documents: List[Document]
    compose: Optional[ComposeProject]
    has_file: bool
    origins: TaskOrigins
    pipeline_mappings: Dict[Any, Dict[str, Resolved]]
    global_mapping: Dict[str, Resolved]
    locator: "_Locator"

    @property
    def files(self) -> Tuple[str, ...]:
        files = [CONFIGURATION_FILE] if self.has_file else []
        files.extend(self.compose.files if self.compose else ())
        return tuple(files)


# --------------------------------------------------------------------------------------------------
# reading the sources


def _check_options(options: LoadOptions) -> None:
    if options.undefined_variables not in UNDEFINED_MODES:
        raise DefinitionError('Invalid undefined_variables "%s"' % options.undefined_variables,
                              ("undefined_variables",), "options", expected='"error" or "keep"')
    if options.duplicate_keys not in ("first", "error"):
        raise DefinitionError('Invalid duplicate_keys "%s"' % options.duplicate_keys,
                              ("duplicate_keys",), "options", expected='"first" or "error"')
    if options.secrets_in_plain_fields not in ("error", "warn"):
        raise DefinitionError('Invalid secrets_in_plain_fields "%s"' % options.secrets_in_plain_fields,
                              ("secrets_in_plain_fields",), "options", expected='"error" or "warn"')
    for name in ("variables", "secret_variables", "images"):
        if not isinstance(getattr(options, name) or {}, dict):
            raise DefinitionError("Invalid type", (name,), "options", expected="a mapping")
    if options.changed_files is not None and not isinstance(options.changed_files, (list, tuple)):
        raise DefinitionError("Invalid type", ("changed_files",), "options", expected="a list of paths")


def _top_level(data: Any, label: str) -> Dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DefinitionError("Invalid configuration: expected a mapping at the top level, got %s"
                              % ("a list" if isinstance(data, list) else type(data).__name__), file=label)
    return data


def _flow_document(flow_configuration: Any) -> Optional[Document]:
    if flow_configuration is None:
        return None
    if isinstance(flow_configuration, str):
        flow_configuration = load_yaml(flow_configuration, FLOW)
    else:
        _check_bounds(flow_configuration, FLOW)
    data = task_list_as_unnamed_array(_top_level(_plain_data(flow_configuration), FLOW))
    return Document(FLOW, data, user=True)


def _check_bounds(data: Any, label: str) -> None:
    """Data given as an option (not YAML text) is held to the bounds of a YAML document."""
    count, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise DefinitionError("Invalid configuration: more than %d values" % MAX_NODES, file=label)
        if isinstance(value, (dict, list, tuple)):
            if depth > MAX_DEPTH:
                raise DefinitionError("Invalid configuration: nested more than %d levels deep" % MAX_DEPTH,
                                      file=label)
            items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
            for key, item in items:
                stack.append((item, depth + 1))
                if key is not None:
                    count += 1


def _count(value: Any, limit: int) -> int:
    """Values in ``value`` (a shared one counted each time it appears), counting stops past ``limit``."""
    count, stack = 0, [value]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            count += len(item)
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return count


def _check_expansion(documents: List[Document], compose: Optional[ComposeProject]) -> None:
    """docker-compose services and ``defaults`` are copied into every task: a big compose file and
    many small tasks multiply (refused before the copies are made)."""
    tasks = len(task_paths(documents))
    if not tasks:
        return
    copied = sum(_count(service.raw, MAX_CONFIGURATION_NODES) for service in (compose.services if compose else ()))
    copied += sum(_count(document.data.get("defaults"), MAX_CONFIGURATION_NODES) for document in documents
                  if isinstance(document.data, dict) and document.data.get("defaults") is not None)
    if tasks * copied > MAX_CONFIGURATION_NODES:
        raise DefinitionError(
            "The project expands to more than %d values once docker-compose.yml's services and the defaults are "
            "copied into each of its %d tasks" % (MAX_CONFIGURATION_NODES, tasks),
            file=CONFIGURATION_FILE, expected="fewer tasks, or smaller docker-compose services and defaults")


def _check_size(configuration: Dict[str, Any], has_file: bool) -> None:
    """Pipelines import tasks and inherit variables: refuse a configuration that grew past the bound."""
    if _count(configuration, MAX_CONFIGURATION_NODES) > MAX_CONFIGURATION_NODES:
        raise DefinitionError(
            "The project expands to more than %d values once its pipelines import their tasks and variables"
            % MAX_CONFIGURATION_NODES, file=CONFIGURATION_FILE if has_file else FLOW,
            expected="fewer pipelines, tasks or variables")


def _plain_data(value: Any) -> Any:
    """Ansible's own str/dict subclasses ⇒ plain Python data (and tuples ⇒ lists)."""
    if isinstance(value, dict):
        return {(_plain_data(key) if isinstance(key, str) else key): _plain_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_data(item) for item in value]
    if isinstance(value, str):
        return str.__str__(value)
    return value


def _file_document(source_dir: str) -> Optional[Document]:
    content = read_project_file(source_dir, CONFIGURATION_FILE)
    if content is None:
        return None
    data = task_list_as_unnamed_array(_top_level(load_yaml_bytes(content, CONFIGURATION_FILE), CONFIGURATION_FILE))
    return Document(FILE, data, user=True)


def _normalize(document: Document) -> Dict[str, Any]:
    issues = Issues(file=document.label)
    normalized = schema.root().normalize(document.data, (), issues)
    issues.raise_if_any()
    return normalized if normalized is not INVALID else {}


def _read(source_dir: str, release: model.Release, options: LoadOptions
          ) -> Tuple[List[Document], Dict[int, Dict[str, Any]], Optional[ComposeProject]]:
    """The user's documents, their normalised form (keyed by ``id(document)``) and docker-compose."""
    _check_options(options)
    if not os.path.isdir(source_dir):
        raise DefinitionError('The project directory "%s" does not exist' % source_dir, ("source_dir",), "options")
    documents = [document for document in (_flow_document(options.flow_configuration), _file_document(source_dir))
                 if document is not None]
    errors: List[DefinitionError] = []
    normalized = {}
    for document in documents:
        try:
            normalized[id(document)] = _normalize(document)
        except DefinitionErrors as error:
            errors.extend(error.errors)
        except DefinitionError as error:
            errors.append(error)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise DefinitionErrors(errors)
    return documents, normalized, read_compose(source_dir, release.code_reference.branch)


def load_documents(source_dir: str, release: model.Release, options: Optional[LoadOptions] = None
                   ) -> Tuple[List[Document], Optional[ComposeProject]]:
    """The user's sources (flow configuration, ``continuous-pipe.yml``), validated, and docker-compose."""
    documents, _normalized, compose = _read(source_dir, release, options or LoadOptions())
    return documents, compose


# --------------------------------------------------------------------------------------------------
# locating a path in the sources


class _Locator:
    """Which source a key path of the merged configuration most likely comes from."""

    def __init__(self, sources: Sequence[Tuple[str, Any]]):
        order = {FILE: 0, FLOW: 1}
        self.sources = sorted(sources, key=lambda source: order.get(source[0], 2))

    def __call__(self, path: Path) -> Optional[str]:
        best, best_length = None, -1
        for label, data in self.sources:
            length = _common_length(data, path)
            if length > best_length:
                best, best_length = label, length
        return best


def _common_length(data: Any, path: Path) -> int:
    length = 0
    for key in path:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
            data = data[key]
        else:
            break
        length += 1
    return length


# --------------------------------------------------------------------------------------------------
# merge, finalizers, finalize


def _merge(documents: List[Document], user_normalized: Dict[int, Dict[str, Any]]) -> Tuple[Dict, List]:
    """Normalise the generated documents and merge everything in order; the sources for locating paths."""
    root = schema.root()
    merged: Dict[str, Any] = {}
    sources = []
    users = [document.label for document in documents if document.user]
    for document in documents:
        normalized = user_normalized.get(id(document))
        if normalized is None:
            # a generated document only holds values taken from the user's documents: blame the last one
            label = users[-1] if document.label == GENERATED and users else document.label
            normalized = _normalize(Document(label, document.data))
        if document.label not in (GENERATED, IMAGES):
            sources.append((document.label, normalized))
        merged = root.merge(merged, normalized, (), Issues(file=document.label))
    return copy.deepcopy(merged), sources


def _substitute(configuration: Dict[str, Any], release: model.Release, options: LoadOptions, locate,
                origins: TaskOrigins) -> Tuple[Dict[str, Any], Dict[Any, Dict[str, Resolved]], Dict[str, Resolved]]:
    """``ReplaceEnvironmentVariableValues``; errors are reported on the paths the user wrote."""
    try:
        return _replace_variables(configuration, release, options, lambda path: locate(origins.user_path(path)))
    except DefinitionError as error:
        path = origins.user_path(error.path)
        raise DefinitionError(error.message, path, locate(path), error.expected)


def _replace_variables(configuration: Dict[str, Any], release: model.Release, options: LoadOptions,
                       locate) -> Tuple[Dict[str, Any], Dict[Any, Dict[str, Resolved]], Dict[str, Resolved]]:
    reference = release.code_reference
    context = VariableContext(release.flow_uuid, reference.branch, reference.sha,
                              dict(options.variables or {}), dict(options.secret_variables or {}),
                              options.missing_secrets)
    pipeline_mappings = {}
    budget = SubstitutionBudget()
    for key, pipeline in (configuration.get("pipelines") or {}).items():
        path = ("pipelines", key)
        mapping = resolve_variables(pipeline.get("variables"), path + ("variables",), context, locate)
        pipeline_mappings[key] = mapping
        configuration["pipelines"][key] = substitute_tree(pipeline, mapping, False, path, locate, budget)
    global_mapping = resolve_variables(configuration.get("variables"), ("variables",), context, locate)
    return (substitute_tree(configuration, global_mapping, True, (), locate, budget), pipeline_mappings,
            global_mapping)


def _finalize(configuration: Dict[str, Any], origins: TaskOrigins, locate, defer_references: bool = False
              ) -> Dict[str, Any]:
    issues = Issues(locate=lambda path: locate(origins.user_path(path)), defer_references=defer_references)
    finalized = schema.root().finalize(configuration, (), issues)
    errors = []
    seen = set()
    for error in issues.errors:
        if origins.default_pipeline and error.path[:1] == ("pipelines",):
            continue  # the default pipeline's tasks are the top-level tasks, already reported
        path = origins.user_path(error.path)
        key = (path, error.message)
        if key in seen:
            continue
        seen.add(key)
        expected = error.expected
        for suffix, hint in _REQUIRED_HINTS.items():
            if path[-len(suffix):] == suffix and "must be configured" in error.message:
                expected = hint
        errors.append(DefinitionError(error.message, path, locate(path), expected))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise DefinitionErrors(errors)
    return finalized


def load(source_dir: str, release: model.Release, options: Optional[LoadOptions] = None) -> LoadedConfiguration:
    """Read, enhance, merge, finalise: everything but choosing pipelines and building the model."""
    with expressions.evaluation_budget():  # what the project's expressions may cost, together
        return _load(source_dir, release, options or LoadOptions())


def _load(source_dir: str, release: model.Release, options: LoadOptions) -> LoadedConfiguration:
    documents, user_normalized, compose = _read(source_dir, release, options)
    has_file = any(document.label == FILE for document in documents)
    reference = release.code_reference
    _check_expansion(documents, compose)
    documents = enhance(documents, compose, reference.branch, reference.sha, _plain_data(options.images or {}))
    configuration, sources = _merge(documents, user_normalized)
    locate = _Locator(sources)

    merge_environment_variables(configuration)
    origins = TaskOrigins(default_pipeline=create_default_pipeline(configuration))
    import_pipeline_tasks(configuration, origins, locate)
    merge_environment_variables(configuration, pipelines=True)
    _check_size(configuration, has_file)
    configuration, pipeline_mappings, global_mapping = _substitute(configuration, release, options, locate, origins)
    order_tasks_by_key(configuration)
    configuration = _finalize(configuration, origins, locate, options.undefined_variables == "error")
    return LoadedConfiguration(configuration, documents, compose, has_file, origins, pipeline_mappings,
                               global_mapping, locate)


def load_configuration(source_dir: str, release: model.Release, options: Optional[LoadOptions] = None
                       ) -> Dict[str, Any]:
    """The merged and finalised raw configuration (variables substituted, all pipelines)."""
    loaded = load(source_dir, release, options)
    configuration = plain(loaded.configuration)
    configuration["pipelines"] = [_listed(pipeline) for pipeline in (configuration.get("pipelines") or {}).values()]
    return configuration


def tide_configurations(source_dir: str, release: model.Release, options: Optional[LoadOptions] = None
                        ) -> List[Dict[str, Any]]:
    """The configuration of each tide ContinuousPipe would create: the pipelines whose condition holds."""
    options = options or LoadOptions()
    with expressions.evaluation_budget():
        loaded = load(source_dir, release, options)
        selected = selected_pipelines(loaded.configuration, release, options.changed_files, loaded.locator)
    return [_listed(plain(pipeline)) for _key, pipeline in selected]


def _listed(pipeline: Any) -> Any:
    if isinstance(pipeline, dict) and isinstance(pipeline.get("tasks"), dict):
        keys = list(pipeline["tasks"])
        if keys == list(range(len(keys))):
            pipeline = dict(pipeline, tasks=list(pipeline["tasks"].values()))
    return pipeline


def load_project(source_dir: str, release: model.Release, options: Optional[LoadOptions] = None) -> model.Project:
    """Load the project in ``source_dir`` for ``release``: the pipelines whose condition holds, as model objects."""
    with expressions.evaluation_budget():
        return _load_project(source_dir, release, options or LoadOptions())


def _load_project(source_dir: str, release: model.Release, options: LoadOptions) -> model.Project:
    with yaml_policy(options.duplicate_keys) as warnings:
        loaded = load(source_dir, release, options)
    selected = selected_pipelines(loaded.configuration, release, options.changed_files, loaded.locator)
    context = BuildContext(release=release, locate=loaded.locator, origins=loaded.origins,
                           pipeline_mappings=loaded.pipeline_mappings, global_mapping=loaded.global_mapping,
                           check_undefined=options.undefined_variables == "error", has_file=loaded.has_file,
                           secrets_in_plain_fields=options.secrets_in_plain_fields,
                           allow_untagged_images=bool(options.allow_untagged_images),
                           allow_host_access=bool(options.allow_host_access))
    project = build_project(context, selected, loaded.files)
    return dataclasses.replace(project, warnings=tuple(warnings) + project.warnings) if warnings else project
