# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy-time variables in container environments (docs/behaviour.md §6.5).

ContinuousPipe resolved ``${VAR}`` when loading the configuration and left unknown names verbatim;
a few names are only known while deploying and were handled in two places:

* River (``ReplaceDeployedEndpointsVariables``): ``SERVICE_<E>_PUBLIC_ENDPOINT`` of earlier deploy
  tasks are added as env vars and, with ``__TASK_<ID>_TARGET_ENVIRONMENT_NAME``, substituted inside
  env values. Here: ``TranslateOptions.deploy_variables``.
* Pipe (``InjectPublicEndpointsAsVariable``): once the public endpoints of this deployment have an
  address, ``SERVICE_<E>_PUBLIC_ENDPOINT`` and ``ENDPOINT_<E>_PUBLIC_ENDPOINT`` are appended to
  every component's env, then ``str_replace('${NAME}', value)`` runs over all env values with all
  the component's env vars as the mapping. Here: ``TranslateOptions.public_endpoints``.

Names that are still unknown stay verbatim: the apply stage translates again once it knows the
addresses. Substitution is a single pass of literal ``${NAME}`` (no ``?:`` fallback at this stage),
only inside env values, never in other fields.

Deviations, both forced by server-side apply (which treats ``env`` as a map keyed by ``name``):

* duplicate names are collapsed, keeping the first position and the **last** value (what the
  container saw anyway: Kubernetes resolves duplicates to the last entry);
* a variable of an earlier deploy task is added only when the service does not define that name
  (River's variables never overrode a service's own), while this deployment's endpoint variables
  override (Pipe appended them last).

A value that takes in a secret value through substitution becomes secret itself, so that a secret
never ends up inline in a pod template.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model, naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.plans import Context

_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
#: Longest env value substitution may make, and most it may add to one container's environment (a
#: value referenced many times must not grow without bound; the load stage has the same bounds).
MAX_SUBSTITUTED_CHARS = 1024 * 1024
MAX_ADDED_CHARS = 16 * 1024 * 1024
_DEPLOYED_ENDPOINT = re.compile(r"^SERVICE_[^a-z]+_PUBLIC_ENDPOINT$")


@dataclass(frozen=True)
class ResolvedEnv:
    """One env var of a container after deploy-time substitution; ``index`` is its position in the
    service's ``environment`` (None for injected variables), for error paths."""

    name: str
    value: str
    secret: bool = False
    index: object = None


def endpoint_variables(endpoint_name: str) -> Tuple[str, str]:
    """``SERVICE_<E>_PUBLIC_ENDPOINT`` and ``ENDPOINT_<E>_PUBLIC_ENDPOINT`` for an endpoint."""
    return (naming.service_public_endpoint_variable(endpoint_name),
            naming.endpoint_public_endpoint_variable(endpoint_name))


def injected_variables(ctx: Context) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
    """(added only when missing, added overriding): the env vars every container of the deployment gets."""
    earlier = [(name, str(value)) for name, value in ctx.options.deploy_variables.items()
               if _DEPLOYED_ENDPOINT.match(name)]
    current = []
    for endpoint_name, address in ctx.options.public_endpoints.items():
        for name in endpoint_variables(endpoint_name):
            current.append((name, str(address)))
    return earlier, current


def _collapse(entries: List[ResolvedEnv]) -> List[ResolvedEnv]:
    """Keep the first position of each name with the last definition's value."""
    last: Dict[str, ResolvedEnv] = {}
    order: List[str] = []
    for entry in entries:
        if entry.name not in last:
            order.append(entry.name)
            last[entry.name] = entry
        else:
            first = last[entry.name]
            index = first.index if first.index is not None else entry.index
            last[entry.name] = ResolvedEnv(entry.name, entry.value, entry.secret, index)
    return [last[name] for name in order]


class TooLong(ValueError):
    """Substitution would make a value, or a container's environment, too long."""


def substitute(value: str, mapping: Dict[str, Tuple[str, bool]], budget: Optional[List[int]] = None
               ) -> Tuple[str, bool]:
    """Replace each known ``${NAME}`` once; unknown names stay. Returns (value, took a secret in).

    The result is at most ``MAX_SUBSTITUTED_CHARS`` long and what it adds is taken from ``budget``
    (``[characters left]``); TooLong is raised before a longer string is built.
    """
    secret = False
    length = len(value)

    def replace(match):
        nonlocal secret, length
        found = mapping.get(match.group(1))
        if found is None:
            return match.group(0)
        secret = secret or found[1]
        length += len(found[0]) - len(match.group(0))
        if length > MAX_SUBSTITUTED_CHARS:
            raise TooLong("substituting variables makes this value longer than %d characters" % MAX_SUBSTITUTED_CHARS)
        return found[0]

    result = _REFERENCE.sub(replace, value)
    if budget is not None:
        budget[0] -= max(0, len(result) - len(value))
        if budget[0] < 0:
            raise TooLong("substituting variables makes the environment more than %d characters longer"
                          % MAX_ADDED_CHARS)
    return result, secret


def resolve_environment(service: model.Service, ctx: Context) -> List[ResolvedEnv]:
    """The env of a service's container: its own variables, the injected ones, substituted (§6.5)."""
    entries = [ResolvedEnv(var.name, "" if var.value is None else str(var.value), bool(var.secret), index)
               for index, var in enumerate(service.environment)]
    own = {entry.name for entry in entries}
    earlier, current = injected_variables(ctx)
    entries += [ResolvedEnv(name, value) for name, value in earlier if name not in own]
    entries += [ResolvedEnv(name, value) for name, value in current]
    entries = _collapse(entries)

    mapping: Dict[str, Tuple[str, bool]] = {
        name: (str(value), False) for name, value in ctx.options.deploy_variables.items()}
    mapping.update({entry.name: (entry.value, entry.secret) for entry in entries})

    resolved = []
    budget = [MAX_ADDED_CHARS]
    for entry in entries:
        try:
            value, took_secret = substitute(entry.value, mapping, budget)
        except TooLong as error:
            where = ctx.service_path(service) + (
                ("specification", "environment_variables", entry.index, "value") if entry.index is not None else ())
            raise DefinitionError(str(error), where, expected="a variable referenced fewer times, or a shorter value")
        resolved.append(ResolvedEnv(entry.name, value, entry.secret or took_secret, entry.index))
    return resolved
