# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``docker-compose.yml`` as default configuration of ``build`` and ``deploy`` tasks (docs/behaviour.md §5).

Reading (``MergedProjectParser`` + ``V2CompatibilityParser``): ``docker-compose.yml`` at the root of
the project, then ``docker-compose.<branch>.yml`` (raw branch name) replaced over it with PHP's
``array_replace_recursive`` (maps *and lists* merged by key/index). A document with a ``version``
other than 1 takes its services from ``services:``; entries that are not mappings are ignored.
Other compose files (``docker-compose.override.yml``…) are ignored.

Per service, for a deploy task (``DockerComposeConfigurationAsDefault``):

=============================================  ==========================================================
compose                                        deploy ``services.<name>``
=============================================  ==========================================================
``image`` (else label                          ``specification.source.image``
``com.continuouspipe.image-name``)
label ``com.continuouspipe.visibility``        ``specification.accessibility.from_external`` = ``== public``
label ``com.continuouspipe.update``            ``locked`` (⇒ ``deployment_strategy.locked``) = ``== lock``
``privileged: true``                           ``specification.runtime_policy.privileged: true``
``command``                                    ``specification.command`` (a string is one element)
``environment`` (map, or list of ``K=V``)      ``specification.environment_variables`` (bare ``K`` ignored)
``expose``                                     ``specification.ports`` ``{identifier: <svc[:15-len]><port>, port}``
``volumes`` ``/abs/host:/container``           a ``hostPath`` volume ``<svc>-volume-<index>`` and its mount
=============================================  ==========================================================

and for a build task, for services with a truthy ``build``: ``build_directory`` (``build`` or
``build.context``), ``docker_file_path`` (``dockerfile`` or ``build.dockerfile``) and ``image``.

Safe-by-default differences with ContinuousPipe:

* a ``docker-compose.yml`` that is not valid YAML, is not a mapping, or has ``version: 2/3`` but no
  ``services`` is an error naming the file (ContinuousPipe logged it and went on without defaults);
* an ``expose`` entry given as a quoted number (``"80"``) is accepted as the port 80 (ContinuousPipe
  passed the string on and failed with "Expected int"); any other non-numeric entry
  (``"8000-8010"``, ``"80/udp"``) is an error naming ``services.<name>.expose[i]``;
* a branch file whose name would leave the project directory (``..``) is not read; the files are
  read only when they are regular files inside the project directory, links resolved (``files``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.php import (
    array_replace_recursive,
    php_bool,
    php_int,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.files import read_project_file
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.yaml_dialect import load_yaml_bytes
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

__all__ = ["COMPOSE_FILE", "ComposeProject", "ComposeService", "read_compose", "branch_file_name"]

COMPOSE_FILE = "docker-compose.yml"
IMAGE_LABEL = "com.continuouspipe.image-name"
VISIBILITY_LABEL = "com.continuouspipe.visibility"
UPDATE_LABEL = "com.continuouspipe.update"


@dataclass(frozen=True)
class ComposeService:
    """One docker-compose service: its name, raw mapping, and where it is (for error paths)."""

    name: str
    raw: Dict[str, Any]
    path: Tuple[Any, ...]
    file: str

    # -- what the enhancers need ------------------------------------------------------------
    @property
    def labels(self) -> Dict[str, Any]:
        labels = self.raw.get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def image(self) -> Optional[Any]:
        """``image``, else the ``com.continuouspipe.image-name`` label (``ComponentTransformer``)."""
        image = self.raw.get("image")
        if image is None:
            image = self.labels.get(IMAGE_LABEL)
        return image

    @property
    def has_to_be_built(self) -> bool:
        return php_bool(self.raw.get("build"))

    def build_defaults(self) -> Dict[str, Any]:
        """The build task service defaults of a service that has to be built."""
        build = self.raw.get("build")
        directory = build if isinstance(build, str) else (
            build.get("context", "") if isinstance(build, dict) else "")
        if "dockerfile" in self.raw:
            dockerfile = self.raw["dockerfile"]
        elif isinstance(build, dict) and "dockerfile" in build:
            dockerfile = build["dockerfile"]
        else:
            dockerfile = ""
        defaults = {"build_directory": directory, "docker_file_path": dockerfile}
        if php_bool(self.image):
            defaults["image"] = self.image
        return defaults

    def deploy_defaults(self) -> Dict[str, Any]:
        """The deploy task service defaults (always with ``ports``/``environment_variables``/volumes lists)."""
        specification: Dict[str, Any] = {
            "ports": [], "environment_variables": [], "volumes": [], "volume_mounts": []}
        configuration: Dict[str, Any] = {"specification": specification}
        if php_bool(self.image):
            specification["source"] = {"image": self.image}
        update = self.labels.get(UPDATE_LABEL)
        if php_bool(update):
            configuration["locked"] = update == "lock"
        visibility = self.labels.get(VISIBILITY_LABEL)
        if php_bool(visibility):
            specification["accessibility"] = {"from_external": visibility == "public"}
        if php_bool(self.raw.get("privileged")):
            specification["runtime_policy"] = {"privileged": True}
        command = self.raw.get("command")
        if php_bool(command):
            specification["command"] = command if isinstance(command, list) else [command]
        specification["environment_variables"] = [
            {"name": name, "value": value} for name, value in self.environment_variables()]
        specification["ports"] = [
            {"identifier": naming.port_identifier(self.name, port), "port": port} for port in self.exposed_ports()]
        for index, host_path, mount_path in self.host_volumes():
            name = "%s-volume-%s" % (self.name, index)
            specification["volumes"].append({"type": "hostPath", "path": host_path, "name": name})
            specification["volume_mounts"].append({"name": name, "mount_path": mount_path})
        return configuration

    def environment_variables(self) -> List[Tuple[Any, Any]]:
        environment = self.raw.get("environment")
        if not isinstance(environment, (dict, list)):
            return []
        items = environment.items() if isinstance(environment, dict) else enumerate(environment)
        variables = []
        for name, value in items:
            if isinstance(name, int):
                if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                    continue
                parts = str(value).split("=", 1)
                if len(parts) == 1:
                    continue  # a variable passed through from the host: ignored
                name, value = parts
            variables.append((name, value))
        return variables

    def exposed_ports(self) -> List[int]:
        exposed = self.raw.get("expose")
        if exposed is None:
            return []
        if not isinstance(exposed, list):
            raise DefinitionError("Invalid type: `expose` must be a list of port numbers", self.path + ("expose",),
                                  self.file)
        ports = []
        for index, port in enumerate(exposed):
            if isinstance(port, str) and port.strip().isdigit():
                port = int(port.strip())
            if not isinstance(port, int) or isinstance(port, bool):
                raise DefinitionError(
                    "Invalid exposed port %r" % (port,), self.path + ("expose", index), self.file,
                    expected="a port number (ranges and protocols are not supported)")
            ports.append(port)
        return ports

    def host_volumes(self) -> List[Tuple[int, str, str]]:
        """``(index, host path, mount path)`` of the ``/absolute:/container`` volumes."""
        volumes = self.raw.get("volumes")
        if not isinstance(volumes, list):
            return []
        mounts = []
        for index, definition in enumerate(volumes):
            if not isinstance(definition, str):
                continue
            parts = definition.split(":")
            if not parts[0].startswith("/") or len(parts) != 2:
                continue
            mounts.append((index, parts[0], parts[1]))
        return mounts


@dataclass(frozen=True)
class ComposeProject:
    """The services of ``docker-compose.yml`` (+ the branch file), in file order."""

    services: Tuple[ComposeService, ...] = ()
    files: Tuple[str, ...] = field(default_factory=tuple)

    def service(self, name: str) -> Optional[ComposeService]:
        for service in self.services:
            if service.name == name:
                return service
        return None


def branch_file_name(branch: str) -> str:
    """``docker-compose.<branch>.yml`` with the raw (not slugified) branch name."""
    return "docker-compose.%s.yml" % branch


def read_compose(source_dir: str, branch: Optional[str]) -> Optional[ComposeProject]:
    """Read the project's compose files; None when there is no ``docker-compose.yml``."""
    base = read_project_file(source_dir, COMPOSE_FILE)
    if base is None:
        return None
    parsed = _mapping(base, COMPOSE_FILE)
    files = [COMPOSE_FILE]
    branch_file, branch_parsed = None, {}
    if branch:
        name = branch_file_name(branch)
        content = read_project_file(source_dir, name)
        if content is not None:
            branch_file, branch_parsed = name, _mapping(content, name)
            files.append(name)
            parsed = array_replace_recursive(parsed, branch_parsed)
    services, prefix = _services_of(parsed, branch_file)
    found = []
    for name, raw in services.items():
        if isinstance(raw, dict):
            file = branch_file if _defines(branch_parsed, prefix + (name,)) else COMPOSE_FILE
            found.append(ComposeService(str(name), raw, prefix + (name,), file))
    return ComposeProject(tuple(found), tuple(files))


def _mapping(content: bytes, file: str) -> Dict[Any, Any]:
    parsed = load_yaml_bytes(content, file)
    if not isinstance(parsed, dict):
        raise DefinitionError("The Docker Compose file is invalid: expected a mapping of services, got %s"
                              % ("an empty document" if parsed is None else type(parsed).__name__), file=file)
    return parsed


def _services_of(parsed: Dict[Any, Any], branch_file: Optional[str]) -> Tuple[Dict[Any, Any], Tuple[Any, ...]]:
    if "version" not in parsed or php_int(parsed["version"]) == 1:
        return parsed, ()
    services = parsed.get("services")
    if "services" not in parsed:
        raise DefinitionError("The Docker Compose file is invalid: version %s files need a `services` key"
                              % parsed["version"], ("version",), COMPOSE_FILE)
    if services is None:
        return {}, ("services",)
    if not isinstance(services, dict):
        raise DefinitionError("The Docker Compose file is invalid: `services` must be a mapping",
                              ("services",), branch_file or COMPOSE_FILE)
    return services, ("services",)


def _defines(data: Any, path: Tuple[Any, ...]) -> bool:
    """Whether the branch file's document defines the service at ``path``."""
    if not data:
        return False
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True
