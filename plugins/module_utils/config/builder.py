# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finalised configuration ⇒ :mod:`model` objects, for one release.

What ContinuousPipe decided when a tide was created is decided here (``ComponentFactory``,
``*Configurator``, ``TideFactory``):

* deploy services with a false ``condition`` (context C2: ``code_reference.branch/sha``, no
  functions) or ``enabled: false`` are skipped (``condition`` wins over ``enabled``);
* endpoints with a false ``condition`` are dropped;
* ingress hosts: ``host_suffix`` ⇒ ``hash_long_domain_prefix(slugify(branch), 64 - len) ~ suffix``
  (at most 53 characters), else ``host.expression`` in context C1 (must return a string); the same
  for ``cloud_flare_zone`` (``record_suffix``/``host`` ⇒ ``hostname``) and ``httplabs``
  (⇒ ``incoming``);
* image = ``[repository/]image[:tag]``; environment values cast to strings the PHP way;
* task ``filter.expression`` and ``environment.name`` stay expressions (evaluated while the pipeline
  runs) but their syntax, variables and functions are checked now.

Safe-by-default differences with ContinuousPipe (for the migration guide):

* ``accessibility.from_cluster``/``from_external`` accept booleans, 0/1 and the strings
  ``true``/``false``/``1``/``0``/empty; ContinuousPipe used PHP truthiness (``"false"`` was true);
  anything else is an error;
* ``condition``, ``expression``, ``encrypted_value`` and ``as_environment_variable`` on a service's
  ``environment_variables`` entry are errors (ContinuousPipe accepted and ignored them);
* a probe ``port`` may be a port name (ContinuousPipe cast names to 0); probe numbers and
  ``number_of_replicas`` must be integers or strings of digits (PHP cast anything else to 0);
* a deploy service without an image is an error naming it (ContinuousPipe failed later, in the
  cluster); a pipeline without tasks is an error (ContinuousPipe's messages).
* Extension ``pod: <service>``: the service runs as an extra container in the pod of another
  service of the same task. The owner must exist, be deployed (not skipped), and not join a pod
  itself (so no chains or cycles). The joining service may not have endpoints, replicas,
  ``scalability.enabled: false``, ``from_external`` or a ``locked``/``attached``/``reset``
  strategy (they belong to the pod's owner); its ports are exposed by the owner's Services; its
  probes are container probes and are allowed.

A secret variable's value (or part of it) in a field of a deploy service or run task that is not
stored in a Secret (an image tag, a command, an exec probe, a host, an annotation, a volume path…)
is an error naming the key path, or a warning with ``secrets_in_plain_fields="warn"`` (the project
then lists the values in ``exposed_secrets`` so that rendered files mask them). Secrets belong in
environment variable values and TLS certificates (stored in Secrets); conditions and the vendor
credentials of endpoints are never written to the cluster.

An empty image tag is an error unless ``allow_untagged_images`` (ContinuousPipe deployed the
registry's ``latest``): a deploy service's ``source.tag`` that is empty once variables are
substituted, and a built image without a tag, whose default tag is the commit SHA (``sha`` empty).

Unresolved ``${VAR}`` (``undefined_variables="error"``) are reported only in what is deployed or
run: tasks of the selected pipelines, services and endpoints that are not skipped, and pipeline
variables exposed with ``as_environment_variable``.
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import expressions, model, naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.php import php_bool, php_string
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.manifests import MASK
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.pipelines import TaskOrigins
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.variables import (
    Resolved,
    SubstitutionBudget,
    deploy_time_name,
    is_secret,
    plain,
    substitute,
    undefined_variable_error,
    unresolved_references,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import (
    DefinitionError,
    DefinitionErrors,
    format_path,
)

__all__ = ["BuildContext", "build_project"]

Path = Tuple[Any, ...]

#: Names of contexts C3 (``environment.name``) and C4 (task filters).
TIDE_NAMES = ("code_reference", "flow", "pull_request", "tasks")
FILTER_FUNCTIONS = ("has_changes_for_files",)
PROBE_TYPES = ("http", "tcp", "exec")
_DIGITS_RE = re.compile(r"^\s*[-+]?[0-9]+\s*$")
_STRICT_BOOLEANS = {"true": True, "1": True, "false": False, "0": False, "": False}


@dataclass
class BuildContext:
    """Everything the builder needs besides the configuration."""

    release: model.Release
    locate: Callable[[Path], Optional[str]]
    origins: TaskOrigins
    pipeline_mappings: Mapping[Any, Mapping[str, Resolved]]
    global_mapping: Mapping[str, Resolved]
    check_undefined: bool = True
    has_file: bool = True
    #: ``error`` or ``warn``: a secret variable's value in a field that is not stored in a Secret
    secrets_in_plain_fields: str = "error"
    #: an empty image tag (no commit SHA for a built image, ``tag: ""``) deploys ``latest`` instead of failing
    allow_untagged_images: bool = False
    #: privileged containers and hostPath volumes (the node itself) are accepted from the repository
    allow_host_access: bool = False


class _Builder:
    def __init__(self, context: BuildContext):
        self.context = context
        self.errors: List[DefinitionError] = []
        self.warnings: List[str] = []
        self.exposed: List[str] = []
        self.budget = SubstitutionBudget()
        reference = context.release.code_reference
        self.branch = reference.branch
        self.sha = reference.sha
        self.mapping: Mapping[str, Resolved] = context.global_mapping

    # -- errors -------------------------------------------------------------------------------
    def error(self, message: str, path: Path, expected: Optional[str] = None) -> None:
        user_path = self.context.origins.user_path(tuple(path))
        self.errors.append(DefinitionError(message, user_path, self.context.locate(user_path), expected))

    def check_undefined(self, value: Any, path: Path) -> None:
        if not self.context.check_undefined:
            return
        for where, name in unresolved_references(value, path):
            if deploy_time_name(name) and _is_environment_value(where):
                continue
            user_path = self.context.origins.user_path(where)
            self.errors.append(undefined_variable_error(user_path, name, self.mapping,
                                                        self.context.locate(user_path)))

    def check_secrets(self, value: Any, path: Path, allowed: Callable[[Path], bool]) -> None:
        """A secret variable's value where it would be written in clear (not in a Secret): an error,
        or with ``secrets_in_plain_fields: warn`` a warning (and the value is masked in rendered files)."""
        for relative, text in _secret_strings(value, ()):
            if allowed(relative):
                continue
            where = self.context.origins.user_path(tuple(path) + relative)
            file = self.context.locate(where)
            if self.context.secrets_in_plain_fields == "warn":
                self.warnings.append(
                    "%s: the value of a secret variable is written in clear here, in the cluster (this field is "
                    "not stored in a Secret); it is masked in rendered files"
                    % ": ".join(part for part in (file, format_path(where)) if part))
                self.exposed.extend(self.secret_values_in(text))
            else:
                self.errors.append(DefinitionError(
                    "the value of a secret variable would be written in clear here, in the cluster and in rendered "
                    "files (this field is not stored in a Secret)", where, file,
                    expected="secret variables only in environment variable values and TLS certificates, or "
                             "secrets_in_plain_fields: warn"))

    def secret_values_in(self, text: str) -> List[str]:
        values = []
        for mapping in [self.context.global_mapping] + list(self.context.pipeline_mappings.values()):
            for resolved in mapping.values():
                if resolved.secret:
                    try:
                        secret = php_string(resolved.value)
                    except expressions.ExpressionError:
                        continue
                    if secret and secret in text:
                        values.append(secret)
        return values

    # -- project ------------------------------------------------------------------------------
    def project(self, selected: Sequence[Tuple[Any, Dict[str, Any]]], files: Tuple[str, ...]) -> model.Project:
        pipelines = [self.pipeline(key, pipeline) for key, pipeline in selected]
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise DefinitionErrors(_unique(self.errors))
        return model.Project(release=self.context.release, pipelines=tuple(pipelines), files=files,
                             warnings=tuple(dict.fromkeys(self.warnings)),
                             exposed_secrets=tuple(sorted(set(self.exposed), key=len, reverse=True)))

    def pipeline(self, key: Any, pipeline: Dict[str, Any]) -> model.Pipeline:
        path = ("pipelines", key)
        self.mapping = self.context.pipeline_mappings.get(key, self.context.global_mapping)
        tasks = pipeline.get("tasks") or {}
        if not tasks:
            message = ("You need to configure tasks to be run for the tide." if self.context.has_file
                       else "No `continuous-pipe.yml` file was found in the code repository.")
            self.errors.append(DefinitionError(message, () if self.context.origins.default_pipeline else path,
                                               self.context.locate(path) if self.context.has_file else None))
        built = []
        for task_key, task in tasks.items():
            built_task = self.task(path + ("tasks", task_key), task_key, task)
            if built_task is not None:
                built.append(built_task)
        variables = self.variables(path)
        exposed = [variable for variable in variables if variable.as_environment_variable]
        return model.Pipeline(name=php_string(pipeline.get("name")),
                              tasks=tuple(expose_variables(task, exposed) for task in built),
                              variables=variables)

    def variables(self, path: Path) -> Tuple[model.Variable, ...]:
        """The pipeline's variables whose condition holds (values substituted like the configuration)."""
        variables = []
        for index, resolved in enumerate(self.mapping.values()):
            if resolved.entry is None:
                continue  # given only as an option: not a variable of the configuration
            exposed = tuple(php_string(item) for item in (resolved.entry.get("as_environment_variable") or ()))
            try:
                value = self.variable_value(resolved, path + ("variables", index, "value"))
            except DefinitionError as error:
                self.errors.append(DefinitionError(error.message, self.context.origins.user_path(error.path),
                                                   self.context.locate(self.context.origins.user_path(error.path)),
                                                   error.expected))
                continue
            except expressions.ExpressionError:
                self.error('The variable "%s" holds a list or a mapping, not a value' % resolved.name,
                           path + ("variables",))
                continue
            if exposed:
                self.check_undefined(value, path + ("variables", index, "value"))
            variables.append(model.Variable(name=resolved.name, value=plain(value),
                                            secret=resolved.secret or is_secret(value),
                                            as_environment_variable=exposed))
        return tuple(variables)

    def variable_value(self, resolved: Resolved, path: Path = ()) -> str:
        """A plain ``value`` went through both substitution passes, like every string of the configuration."""
        value = php_string(resolved.value)
        entry = resolved.entry or {}
        if resolved.secret or "encrypted_value" in entry or entry.get("expression") is not None \
                or not isinstance(resolved.value, str):
            return value
        value = substitute(value, self.mapping, False, path, budget=self.budget)
        return substitute(value, self.context.global_mapping, True, path, budget=self.budget)

    # -- tasks --------------------------------------------------------------------------------
    def task(self, path: Path, key: Any, task: Any) -> Optional[model.Task]:
        if not isinstance(task, dict):
            self.error("Invalid task", path, "a mapping with one task type")
            return None
        kinds = [name for name in task if name not in ("filter", "identifier", "imports")]
        if len(kinds) != 1:
            self.error('Unable to get the type of the task "%s"' % key if not kinds
                       else 'Ambiguous type for the task "%s": found %s' % (key, ", ".join(kinds)), path,
                       "one of build, deploy, run, wait, manual_approval, web_hook, delete")
            return None
        kind = kinds[0]
        identifier = php_string(task.get("identifier") if task.get("identifier") is not None else key)
        task_filter = self.filter(task.get("filter"), path + ("filter", "expression"))
        body = task[kind] if isinstance(task[kind], dict) else {}
        where = path + (kind,)
        if kind == "deploy":
            return self.deploy(where, identifier, task_filter, body)
        if kind == "run":
            return self.run(where, identifier, task_filter, body)
        self.check_undefined(body, where)
        if kind == "build":
            self.check_build_tags(body, where)
        return model.OtherTask(identifier=identifier, filter=task_filter, kind=kind, configuration=plain(body))

    def untagged(self, path: Path, why: str) -> None:
        if not self.context.allow_untagged_images:
            self.error("the image would be deployed untagged (the registry's latest): %s" % why, path,
                       "a tag, the sha option (the commit being deployed), or allow_untagged_images: true")

    def check_build_tags(self, body: Dict[str, Any], path: Path) -> None:
        """A built image needs a tag; the default one is the commit SHA (``sha``), so without it the
        image would be pushed and deployed as ``latest``."""
        services = body.get("services")
        for name, service in (services.items() if isinstance(services, dict) else ()):
            if not isinstance(service, dict):
                continue
            steps = service.get("steps")
            places = [((name,), service)] + [((name, "steps", key), step) for key, step in (
                steps.items() if isinstance(steps, dict) else ()) if isinstance(step, dict)]
            for where, place in places:
                if php_bool(place.get("image")) and self.string(place.get("tag")) == "":
                    why = "its default tag is the commit SHA and the sha option is empty" if not self.sha \
                        else "its tag is empty"
                    self.untagged(path + ("services",) + where + ("tag",), why)

    def filter(self, task_filter: Any, path: Path) -> Optional[str]:
        if not isinstance(task_filter, dict) or task_filter.get("expression") is None:
            return None
        self.check_undefined(task_filter["expression"], path)
        return self.expression(task_filter["expression"], path, TIDE_NAMES, FILTER_FUNCTIONS)

    def expression(self, source: Any, path: Path, names: Sequence[str], functions: Sequence[str]) -> Optional[str]:
        """Check the syntax, variables and functions of an expression evaluated later; return it."""
        text = plain(php_string(source))
        try:
            expressions.parse(text, names=names, functions=functions)
        except expressions.ExpressionError as error:
            self.error('The expression provided ("%s") is not valid: %s' % (text, error.message), path)
        return text

    def environment_name(self, body: Dict[str, Any], path: Path) -> Optional[str]:
        environment = body.get("environment")
        name = environment.get("name") if isinstance(environment, dict) else None
        if name is None:
            return None
        where = path + ("environment", "name")
        self.check_undefined(name, where)
        return self.expression(name, where, TIDE_NAMES, ())

    def deploy(self, path: Path, identifier: str, task_filter: Optional[str], body: Dict[str, Any]) -> model.DeployTask:
        self.check_undefined({key: body.get(key) for key in ("cluster",)}, path)
        self.check_secrets({"environment": body.get("environment")}, path, _never)
        services = body.get("services") or {}
        kept = {}
        for name, service in services.items():
            if isinstance(service, dict) and not self.skipped(service, path + ("services", name)):
                kept[name] = service
                self.check_secrets(service, path + ("services", name), _secret_allowed_in_service)
        self.check_pods(path + ("services",), services, kept)
        built = [self.service(php_string(name), service, path + ("services", name)) for name, service in kept.items()]
        return model.DeployTask(identifier=identifier, filter=task_filter, cluster=self.string(body.get("cluster")),
                                environment_name=self.environment_name(body, path), services=tuple(built))

    def run(self, path: Path, identifier: str, task_filter: Optional[str], body: Dict[str, Any]) -> model.RunTask:
        self.check_undefined({key: value for key, value in body.items() if key != "environment"}, path)
        self.check_secrets(body, path, _secret_allowed_in_run)
        image = body.get("image") or {}
        name = image.get("name") if isinstance(image, dict) else None
        if not php_bool(name):
            self.error("The run task has no image", path + ("image", "name"),
                       "an image name, or from_service naming a service built by a build task (or given in the "
                       "images option)")
        return model.RunTask(
            identifier=identifier, filter=task_filter, cluster=self.string(body.get("cluster")),
            environment_name=self.environment_name(body, path), image=self.string(name),
            commands=tuple(self.string(command) for command in body.get("commands") or ()),
            environment=tuple(model.EnvVar(name=self.string(item.get("name")), value=self.string(item.get("value")),
                                           secret=is_secret(item.get("value")) or is_secret(item.get("name")))
                              for item in body.get("environment_variables") or () if isinstance(item, dict)),
            volumes=self.volumes(body.get("volumes"), path + ("volumes",)),
            volume_mounts=self.volume_mounts(body.get("volume_mounts")))

    # -- deploy services ----------------------------------------------------------------------
    def skipped(self, service: Dict[str, Any], path: Path) -> bool:
        if service.get("condition") is not None:
            return not php_bool(self.condition(service["condition"], path + ("condition",)))
        return service.get("enabled") is False

    def condition(self, source: Any, path: Path) -> Any:
        """A service or endpoint condition, in context C2."""
        self.check_undefined(source, path)
        context = expressions.condition_context(self.branch, self.sha)
        try:
            return expressions.evaluate(source, context, expressions.NO_FUNCTIONS)
        except expressions.ExpressionSyntaxError as error:
            self.error('The expression provided ("%s") is not valid: %s' % (source, error.message), path)
        except (expressions.ExpressionError, TypeError) as error:
            self.error(str(error), path)
        return True

    def check_pods(self, path: Path, services: Dict[Any, Any], kept: Dict[Any, Any]) -> None:
        for name, service in kept.items():
            owner = service.get("pod")
            if owner is None:
                continue
            where = path + (name, "pod")
            owner = php_string(owner)
            if owner == php_string(name):
                self.error("A service cannot join its own pod", where, "the name of another service of this task")
            elif owner not in services:
                self.error('There is no service "%s" in this deploy task' % owner, where,
                           "one of " + ", ".join('"%s"' % other for other in services if other != name))
            elif owner not in kept:
                self.error('The service "%s" is not deployed for this branch (its condition is false or it is '
                           'disabled)' % owner, where, "the same condition on both services")
            elif kept[owner].get("pod") is not None:
                self.error('The service "%s" itself joins the pod of "%s"' % (owner, kept[owner]["pod"]), where,
                           "the name of a service that owns its pod")
            own = _pod_owner_settings(service)
            if own:
                self.error("A service that joins the pod of another service cannot set %s: they belong to the "
                           "pod's owner" % ", ".join(own), path + (name,))

    def service(self, name: str, service: Dict[str, Any], path: Path) -> model.Service:
        self.check_undefined({key: value for key, value in service.items() if key != "endpoints"}, path)
        specification = service.get("specification") or {}
        where = path + ("specification",)
        accessibility = specification.get("accessibility") or {}
        scalability = specification.get("scalability") or {}
        runtime_policy = specification.get("runtime_policy")
        reverse_proxy = ((service.get("extensions") or {}).get("reverse_proxy") or {}).get("domain_names") or ()
        command = specification.get("command") or ()
        return model.Service(
            name=name,
            identifier=naming.component_identifier(name),
            image=self.image(specification.get("source") or {}, where + ("source",)),
            command=tuple(self.string(part) for part in command) or None,
            environment=self.environment(specification.get("environment_variables") or (),
                                         where + ("environment_variables",)),
            ports=tuple(model.Port(identifier=self.string(port.get("identifier")), port=port.get("port"),
                                   protocol=port.get("protocol") or "TCP")
                        for port in specification.get("ports") or ()),
            volumes=self.volumes(specification.get("volumes"), where + ("volumes",)),
            volume_mounts=self.volume_mounts(specification.get("volume_mounts")),
            resources=self.resources(specification),
            privileged=self.privileged(runtime_policy, where + ("runtime_policy", "privileged")),
            from_cluster=self.boolean(accessibility.get("from_cluster", True), where + ("accessibility", "from_cluster")),
            from_external=self.boolean(accessibility.get("from_external", False),
                                       where + ("accessibility", "from_external")),
            scalable=scalability.get("enabled", True) is not False,
            replicas=self.integer(scalability.get("number_of_replicas"), where + ("scalability", "number_of_replicas")),
            endpoints=self.endpoints(service.get("endpoints") or (), path + ("endpoints",)),
            strategy=self.strategy(service.get("deployment_strategy") or {}, path + ("deployment_strategy",)),
            reverse_proxy_domains=tuple(self.string(domain) for domain in reverse_proxy),
            pod=self.string(service["pod"]) if service.get("pod") is not None else None,
        )

    def image(self, source: Dict[str, Any], path: Path) -> Optional[str]:
        image = source.get("image")
        if not php_bool(image):
            self.error("The service has no image", path + ("image",),
                       "specification.source.image, an image in docker-compose.yml, a build task building a "
                       "service of the same name, or the images option")
            return None
        reference = self.string(image)
        if php_bool(source.get("repository")):
            reference = "%s/%s" % (self.string(source["repository"]), reference)
        if source.get("tag") is not None:
            if self.string(source["tag"]) != "":
                reference = "%s:%s" % (reference, self.string(source["tag"]))
            else:
                self.untagged(path + ("tag",), "its tag is empty")
        return reference

    def environment(self, variables: Sequence[Any], path: Path) -> Tuple[model.EnvVar, ...]:
        out = []
        for index, variable in enumerate(variables):
            if not isinstance(variable, dict):
                continue
            unsupported = [key for key in ("condition", "expression", "encrypted_value", "as_environment_variable")
                           if variable.get(key) not in (None, [])]
            if unsupported:
                self.error("`%s` is not supported on a service's environment variable (ContinuousPipe ignored it)"
                           % "`, `".join(unsupported), path + (index,),
                           "name and value only; use a top-level variable with a condition and ${NAME}")
            value = variable.get("value")
            out.append(model.EnvVar(name=self.string(variable.get("name")), value=self.string(value),
                                    secret=is_secret(value) or is_secret(variable.get("name"))))
        return tuple(out)

    def host_access(self, path: Path, what: str, expected: str, compose_key: str) -> None:
        """A privileged container or a hostPath volume: whoever can push a branch would get the node
        (its files, its devices, the other pods on it), so it is refused unless the operator allows it."""
        if self.context.allow_host_access:
            return
        located = self.context.locate(self.context.origins.user_path(tuple(path))) or ""
        if "compose" in os.path.basename(located):
            # made from docker-compose.yml: name the key the user wrote there
            service = next((path[index + 1] for index in range(len(path) - 1) if path[index] == "services"), "?")
            what = "%s (services.%s.%s in %s)" % (what, service, compose_key, os.path.basename(located))
        self.error("%s would give the container the node itself (its files, its devices, the other pods on "
                   "it), and whoever can push a branch writes this file: refused unless the deploy allows "
                   "host access" % what, path,
                   "%s, or the option allow_host_access: true (the deploy role's deploy_allow_host_access) "
                   "for a repository trusted with the node" % expected)

    def privileged(self, runtime_policy: Any, path: Path) -> Optional[bool]:
        if not isinstance(runtime_policy, dict):
            return None
        privileged = runtime_policy.get("privileged")
        if privileged is True:
            self.host_access(path, "a privileged container", "privileged: false", "privileged")
        return privileged

    def volumes(self, volumes: Any, path: Path) -> Tuple[model.Volume, ...]:
        out = []
        for index, volume in enumerate(volumes or ()):
            if not isinstance(volume, dict):
                continue
            kind = self.string(volume.get("type") or "persistent")
            if kind == "hostPath":
                self.host_access(path + (index, "type"), "a hostPath volume",
                                 "a persistent or emptyDirectory volume", "volumes, an absolute host path")
            out.append(model.Volume(
                name=self.string(volume.get("name")), type=kind,
                path=self.optional_string(volume.get("path")), capacity=self.optional_string(volume.get("capacity")),
                storage_class=self.optional_string(volume.get("storage_class"))))
        return tuple(out)

    def volume_mounts(self, mounts: Any) -> Tuple[model.VolumeMount, ...]:
        return tuple(model.VolumeMount(name=self.string(mount.get("name")),
                                       mount_path=self.string(mount.get("mount_path")),
                                       read_only=mount.get("read_only") is True)
                     for mount in mounts or () if isinstance(mount, dict))

    def resources(self, specification: Dict[str, Any]) -> Optional[model.Resources]:
        resources = specification.get("resources")
        if not isinstance(resources, dict):
            return None

        def quantities(name: str) -> Dict[str, str]:
            values = resources.get(name) or {}
            return {key: self.string(value) for key, value in values.items() if value is not None}
        return model.Resources(requests=quantities("requests"), limits=quantities("limits"))

    def strategy(self, strategy: Dict[str, Any], path: Path) -> model.Strategy:
        return model.Strategy(
            locked=strategy.get("locked") is True, attached=strategy.get("attached") is True,
            reset=strategy.get("reset") is True,
            readiness_probe=self.probe(strategy.get("readiness_probe"), path + ("readiness_probe",)),
            liveness_probe=self.probe(strategy.get("liveness_probe"), path + ("liveness_probe",)))

    def probe(self, probe: Any, path: Path) -> Optional[model.Probe]:
        if not isinstance(probe, dict):
            return None
        probe_type = self.string(probe.get("type") or "http")
        if probe_type not in PROBE_TYPES:
            self.error('Unknown probe type "%s"' % probe_type, path + ("type",), "http, tcp or exec")
        port = probe.get("port")
        return model.Probe(
            type=probe_type, port=plain(port), path=self.optional_string(probe.get("path")),
            host=self.optional_string(probe.get("host")), scheme=self.optional_string(probe.get("scheme")),
            command=tuple(self.string(part) for part in probe.get("command") or ()),
            initial_delay_seconds=self.integer(probe.get("initial_delay_seconds"), path + ("initial_delay_seconds",)),
            timeout_seconds=probe.get("timeout_seconds"), period_seconds=probe.get("period_seconds"),
            success_threshold=probe.get("success_threshold"), failure_threshold=probe.get("failure_threshold"))

    # -- endpoints ----------------------------------------------------------------------------
    def endpoints(self, endpoints: Sequence[Any], path: Path) -> Tuple[model.Endpoint, ...]:
        out = []
        for index, endpoint in enumerate(endpoints):
            where = path + (index,)
            if not isinstance(endpoint, dict):
                continue
            if endpoint.get("condition") is not None and \
                    not php_bool(self.condition(endpoint["condition"], where + ("condition",))):
                continue
            self.check_undefined(endpoint, where)
            out.append(model.Endpoint(
                name=self.string(endpoint.get("name")),
                type=self.optional_string(endpoint.get("type")),
                annotations={self.string(key): self.string(value)
                             for key, value in (endpoint.get("annotations") or {}).items()},
                ingress=self.ingress(endpoint.get("ingress"), where + ("ingress",)),
                ssl_certificates=tuple(model.TlsCertificate(name=self.string(cert.get("name")),
                                                            cert=self.string(cert.get("cert")),
                                                            key=self.string(cert.get("key")))
                                       for cert in endpoint.get("ssl_certificates") or () if isinstance(cert, dict)),
                cloud_flare_zone=self.cloud_flare_zone(endpoint, where),
                httplabs=self.httplabs(endpoint.get("httplabs"), where + ("httplabs",)),
            ))
        return tuple(out)

    def ingress(self, ingress: Any, path: Path) -> Optional[model.Ingress]:
        if not isinstance(ingress, dict):
            return None
        host = self.host(ingress, "host_suffix", path, "ingress host_suffix")
        if ingress.get("host_suffix") is None and self.host_expression(ingress) is None:
            self.error("The ingress needs a host_suffix or a host expression", path,
                       "ingress.host_suffix or ingress.host")
        return model.Ingress(class_name=self.optional_string(ingress.get("class")),
                             hosts=(host,) if host is not None else (),
                             path=self.optional_string(ingress.get("path")),
                             group=self.optional_string(ingress.get("group")),
                             address=self.optional_string(ingress.get("address")))

    def cloud_flare_zone(self, endpoint: Dict[str, Any], path: Path) -> Optional[Dict[str, Any]]:
        zone = endpoint.get("cloud_flare_zone")
        if not isinstance(zone, dict):
            return None
        where = path + ("cloud_flare_zone",)
        if zone.get("record_suffix") is None and self.host_expression(zone) is None \
                and endpoint.get("ingress") is None:
            self.error("The cloud_flare_zone needs a record_suffix or a host expression", where,
                       "cloud_flare_zone.record_suffix, cloud_flare_zone.host.expression or an ingress")
        out = plain(dict(zone), mask=MASK)
        hostname = self.host(zone, "record_suffix", where, "cloud_flare_zone record_suffix")
        if hostname is not None:
            out["hostname"] = hostname
        return out

    def httplabs(self, httplabs: Any, path: Path) -> Optional[Dict[str, Any]]:
        if not isinstance(httplabs, dict):
            return None
        out = plain(dict(httplabs), mask=MASK)
        incoming = self.host(httplabs, "record_suffix", path, "httplabs record_suffix")
        if incoming is not None:
            out["incoming"] = incoming
        return out

    @staticmethod
    def host_expression(configuration: Dict[str, Any]) -> Optional[Any]:
        host = configuration.get("host")
        return host.get("expression") if isinstance(host, dict) else None

    def host(self, configuration: Dict[str, Any], suffix_key: str, path: Path, what: str) -> Optional[str]:
        """The host name given by a suffix (wins) or a ``host.expression`` (context C1)."""
        suffix = configuration.get(suffix_key)
        if suffix is not None:
            try:
                return naming.host_from_suffix(self.branch, self.string(suffix), what)
            except naming.NamingError as error:
                self.error(str(error), path + (suffix_key,))
                return None
        source = self.host_expression(configuration)
        if source is None:
            return None
        where = path + ("host", "expression")
        context = expressions.flow_context(self.context.release.flow_uuid, self.branch, self.sha)
        try:
            host = expressions.evaluate(source, context, expressions.C1_FUNCTIONS)
        except expressions.ExpressionSyntaxError as error:
            self.error('The expression provided ("%s") is not valid: %s' % (source, error.message), where,
                       "an expression; quote literal host names, e.g. '\"app.example.com\"', or use `host: name`")
            return None
        except (expressions.ExpressionError, TypeError) as error:
            self.error(str(error), where)
            return None
        if not isinstance(host, str):
            self.error("Generate hostname is not a string: %s" % host, where, "an expression returning a string")
            return None
        return host

    # -- scalars ------------------------------------------------------------------------------
    @staticmethod
    def string(value: Any) -> str:
        try:
            return plain(php_string(value))
        except expressions.ExpressionError:
            return ""

    def optional_string(self, value: Any) -> Optional[str]:
        return None if value is None else self.string(value)

    def integer(self, value: Any, path: Path) -> Optional[int]:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, str) and _DIGITS_RE.match(value):
            return int(value)
        self.error("Invalid value: %s" % _shown(value), path, "an integer")
        return None

    def boolean(self, value: Any, path: Path) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _STRICT_BOOLEANS:
            return _STRICT_BOOLEANS[value.strip().lower()]
        if value is None:
            return False
        self.error("Invalid value: %s" % _shown(value), path, "true or false")
        return False


def _secret_strings(value: Any, path: Path):
    """``(path, text)`` of every string of ``value`` holding (part of) a secret variable's value."""
    if isinstance(value, str):
        if is_secret(value):
            yield path, str.__str__(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _secret_strings(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secret_strings(item, path + (index,))


def _never(_path: Path) -> bool:
    return False


def _is_env_entry(path: Path, prefix: Path) -> bool:
    """``<prefix>[i].value``: stored in a Secret when secret (the name is in the pod spec, and is the
    Secret's key)."""
    return len(path) == len(prefix) + 2 and path[:len(prefix)] == prefix and path[-1] == "value"


def _secret_allowed_in_service(path: Path) -> bool:
    """Where a deploy service may hold a secret: env values (Secret), TLS certificates (Secret),
    conditions (evaluated, never written) and the vendor credentials of endpoints (never written,
    masked in results)."""
    if _is_env_entry(path, ("specification", "environment_variables")) or path[:1] == ("condition",):
        return True
    if len(path) >= 3 and path[0] == "endpoints":
        if path[2] == "condition":
            return True
        if path[2] == "ssl_certificates" and len(path) == 5 and path[4] in ("cert", "key"):
            return True
        if path[2] in ("cloud_flare_zone", "httplabs") and (len(path) < 4 or path[3] not in ("record_suffix", "host")):
            return True
    return False


def _secret_allowed_in_run(path: Path) -> bool:
    """Env values (a Secret) and ``cluster`` (which cluster the task goes to, never written)."""
    return _is_env_entry(path, ("environment_variables",)) or path[:1] == ("cluster",)


def _shown(value: Any) -> str:
    return '"%s"' % value if isinstance(value, str) else repr(value)


def _is_environment_value(path: Path) -> bool:
    """``…environment_variables[i].value`` (deploy and run) or a pipeline variable's value."""
    return len(path) >= 3 and path[-1] == "value" and isinstance(path[-2], int) \
        and path[-3] in ("environment_variables", "variables")


def _pod_owner_settings(service: Dict[str, Any]) -> List[str]:
    settings = []
    specification = service.get("specification") or {}
    scalability = specification.get("scalability") or {}
    strategy = service.get("deployment_strategy") or {}
    if service.get("endpoints"):
        settings.append("endpoints")
    if scalability.get("number_of_replicas") is not None:
        settings.append("scalability.number_of_replicas")
    if scalability.get("enabled") is False:
        settings.append("scalability.enabled")
    from_external = (specification.get("accessibility") or {}).get("from_external")
    if php_bool(from_external) and str(from_external).strip().lower() != "false":
        settings.append("accessibility.from_external")
    for key in ("locked", "attached", "reset"):
        if strategy.get(key) is True:
            settings.append("deployment_strategy.%s" % key)
    return settings


def _unique(errors: List[DefinitionError]) -> List[DefinitionError]:
    seen = set()
    out = []
    for error in errors:
        key = (error.file, error.path, error.message)
        if key not in seen:
            seen.add(key)
            out.append(error)
    return out


def _with_exposed(environment, component: str, exposed) -> tuple:
    """``environment`` plus the exposed variables meant for ``component`` it does not define itself."""
    names = {variable.name for variable in environment}
    added = []
    for variable in exposed:
        targets = variable.as_environment_variable
        if variable.name in names or not ("*" in targets or component in targets):
            continue
        names.add(variable.name)
        added.append(model.EnvVar(name=variable.name, value=variable.value, secret=variable.secret))
    return tuple(environment) + tuple(added)


def expose_variables(task: model.Task, exposed) -> model.Task:
    """Variables with ``as_environment_variable`` become env vars of the deploy services (all, or the
    named components) and of run tasks, unless the service sets the same name itself (docs/behaviour.md §6.3)."""
    if not exposed:
        return task
    if isinstance(task, model.DeployTask):
        services = tuple(
            dataclasses.replace(service, environment=_with_exposed(service.environment, service.identifier, exposed))
            for service in task.services)
        return dataclasses.replace(task, services=services)
    if isinstance(task, model.RunTask):
        component = naming.run_pod_name(task.identifier)
        return dataclasses.replace(task, environment=_with_exposed(task.environment, component, exposed))
    return task


def build_project(context: BuildContext, selected: Sequence[Tuple[Any, Dict[str, Any]]],
                  files: Tuple[str, ...]) -> model.Project:
    """The :class:`model.Project` of the selected pipelines (raises DefinitionError(s))."""
    return _Builder(context).project(selected, files)
