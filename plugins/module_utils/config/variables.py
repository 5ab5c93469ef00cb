# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Variables: resolution and ``${VAR}`` substitution (docs/behaviour.md §6.1–§6.4).

Resolution (``ReplaceEnvironmentVariableValues``): variables are read in order; an entry whose
``condition`` (context C1) is false is skipped; its value is the secret value of an
``encrypted_value`` variable, else its ``expression`` evaluated in C1 (functions ``slugify`` and
``hash_long_domain_prefix``), else ``value``; a later entry of the same name wins.

Substitution: every string scalar of the configuration (never keys), with
``/\\$\\{([a-z0-9_]+)(\\?:([^}]*))?\\}/i``, the value cast to a string the PHP way (``true`` ⇒
``"1"``, ``null`` ⇒ ``""``). First each pipeline with its own variables and no ``?:`` fallbacks,
then the whole configuration (pipelines included) with the top-level variables and fallbacks. Each
pass is a single pass, so inside pipelines (which is what is deployed) a reference found in a
variable's value is replaced by the second pass, but not a third level (``A: ${B}``, ``B: ${C}``:
``${A}`` gives ``${C}``).

Additions of this collection:

* ``LoadOptions.variables`` (plain) and ``LoadOptions.secret_variables`` override the variables of
  the same name (secret ones last); an ``encrypted_value`` variable takes its value from
  ``secret_variables`` (there is no ContinuousPipe key to decrypt it), and is an error without one.
* Secret taint: a string that received any part of a secret variable's value is a
  :class:`SecretStr`; the builder marks the environment variables it ends up in as secret.
* Undefined variables (``undefined_variables="error"``, the default) are reported by
  :func:`unresolved_references` with their key path, except ``\\${X}`` (escaped) and the names
  substituted at deploy time inside environment values (``SERVICE_<E>_PUBLIC_ENDPOINT``,
  ``ENDPOINT_<E>_PUBLIC_ENDPOINT``, ``__TASK_<ID>_TARGET_ENVIRONMENT_NAME``), which stay verbatim.
  ContinuousPipe left every unknown ``${X}`` verbatim; ``undefined_variables="keep"`` does too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import expressions
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.php import php_bool, php_string
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

__all__ = ["MAX_ADDED_CHARS", "MAX_SUBSTITUTED_CHARS", "REFERENCE_RE", "Resolved", "SecretStr", "SubstitutionBudget",
           "VariableContext", "deploy_time_name", "is_secret", "plain", "resolve_variables", "substitute", "substitute_tree", "undefined_variable_error",
           "unresolved_references"]

Path = Tuple[Any, ...]

#: Longest value ``${NAME}`` substitution may make (a variable repeated many times is a "billion
#: laughs" of its own: a 540 KB file asked for 18 GB).
MAX_SUBSTITUTED_CHARS = 1024 * 1024
#: Most characters substitution may add to a whole configuration (every value together).
MAX_ADDED_CHARS = 16 * 1024 * 1024

#: ``ReplaceEnvironmentVariableValues``' regular expression.
REFERENCE_RE = re.compile(r"\$\{(?P<variable>[a-z0-9_]+)(?P<fallback>\?:(?P<default>[^}]*))?\}", re.IGNORECASE)
_DEPLOY_TIME_RE = re.compile(
    r"^(?:(?:SERVICE|ENDPOINT)_[A-Z0-9_]+_PUBLIC_ENDPOINT|__TASK_[A-Z0-9_]+_TARGET_ENVIRONMENT_NAME)$")


# What an encrypted value that was not given stands for where no value is needed.
MISSING_SECRET = "********"


class SecretStr(str):
    """A string that holds (part of) the value of a secret variable."""

    __slots__ = ()


def plain(value: Any, mask: Optional[str] = None) -> Any:
    """``value`` with every :class:`SecretStr` turned back into ``str`` (for the model), or replaced
    by ``mask`` where the model keeps data only to report it (vendor blocks of endpoints)."""
    if isinstance(value, SecretStr):
        return str.__str__(value) if mask is None else mask
    if isinstance(value, dict):
        return {key: plain(item, mask) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item, mask) for item in value]
    return value


def is_secret(value: Any) -> bool:
    return isinstance(value, SecretStr)


def deploy_time_name(name: str) -> bool:
    """Names only known while deploying, substituted inside environment variable values."""
    return _DEPLOY_TIME_RE.match(name) is not None


@dataclass(frozen=True)
class Resolved:
    """The value of one variable, whether it is secret, and the entry it came from (if any)."""

    name: str
    value: Any
    secret: bool = False
    entry: Optional[Mapping[str, Any]] = None


@dataclass
class VariableContext:
    """What resolving variables needs: context C1 and the values given by Ansible."""

    flow_uuid: str
    branch: str
    sha: str
    variables: Dict[str, Any] = field(default_factory=dict)
    secret_variables: Dict[str, Any] = field(default_factory=dict)
    # "error": an encrypted_value without its secret_variables value is an error; "mask": it stands
    # for a masked value (modules that only read names: teardown, pipeline_info).
    missing_secrets: str = "error"

    def c1(self) -> Dict[str, Any]:
        return expressions.flow_context(self.flow_uuid, self.branch, self.sha)


def _evaluate(source: Any, context: VariableContext, path: Path, locate: Callable[[Path], Optional[str]]) -> Any:
    try:
        return expressions.evaluate(source, context.c1(), expressions.C1_FUNCTIONS)
    except expressions.ExpressionSyntaxError as error:
        raise DefinitionError('The expression provided ("%s") is not valid: %s' % (source, error.message),
                              path, locate(path))
    except (expressions.ExpressionError, TypeError) as error:
        raise DefinitionError('The expression provided ("%s") cannot be evaluated: %s' % (source, error),
                              path, locate(path))


def resolve_variables(entries: Any, path: Path, context: VariableContext,
                      locate: Callable[[Path], Optional[str]]) -> Dict[str, Resolved]:
    """The name ⇒ value mapping of a ``variables`` list (last matching entry wins), then the overrides."""
    mapping: Dict[str, Resolved] = {}
    for index, item in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(item, dict):
            continue
        where = path + (index,)
        name = php_string(item.get("name"))
        if item.get("condition") is not None and not php_bool(
                _evaluate(item["condition"], context, where + ("condition",), locate)):
            continue
        secret = False
        if "encrypted_value" in item:
            if name not in context.secret_variables and context.missing_secrets == "mask":
                mapping[name] = Resolved(name, SecretStr(MISSING_SECRET), True, item)
                continue
            if name not in context.secret_variables:
                raise DefinitionError(
                    'Unable to decrypt the value of the variable "%s": encrypted values are not decrypted by this '
                    'collection, give the value of "%s" in secret_variables' % (name, name),
                    where + ("encrypted_value",), locate(where))
            value, secret = context.secret_variables[name], True
        elif item.get("expression") is not None:
            value = _evaluate(item["expression"], context, where + ("expression",), locate)
        elif "value" in item:
            value = item["value"]
        else:
            raise DefinitionError('Unable to read the value of the variable "%s"' % name, where, locate(where),
                                  expected="a value, an expression or an encrypted_value")
        mapping[name] = Resolved(name, value, secret, item)
    for name, value in context.variables.items():
        previous = mapping.get(str(name))
        mapping[str(name)] = Resolved(str(name), value, False, previous.entry if previous else None)
    for name, value in context.secret_variables.items():
        previous = mapping.get(str(name))
        mapping[str(name)] = Resolved(str(name), value, True, previous.entry if previous else None)
    return mapping


class SubstitutionBudget:
    """What substitution may still add to a configuration (``MAX_ADDED_CHARS``), shared by its values."""

    def __init__(self, remaining: int = MAX_ADDED_CHARS):
        self.remaining = remaining


def _too_long(message: str, path: Path, locate) -> DefinitionError:
    return DefinitionError(message, path, locate(path) if locate else None,
                           expected="a variable referenced fewer times, or a shorter value")


def substitute(text: str, mapping: Mapping[str, Resolved], apply_defaults: bool, path: Path = (),
               locate: Optional[Callable[[Path], Optional[str]]] = None,
               budget: Optional[SubstitutionBudget] = None) -> str:
    """Replace the ``${NAME}`` / ``${NAME?:default}`` references of one string (single pass).

    The result is at most ``MAX_SUBSTITUTED_CHARS`` long, and what it adds is taken from ``budget``
    (DefinitionErrors naming ``path`` otherwise), checked before the string is built.
    """
    if "${" not in text:
        return text
    secret = [isinstance(text, SecretStr)]
    length = [len(text)]

    def replace(match: "re.Match[str]") -> str:
        name = match.group("variable")
        if name in mapping:
            resolved = mapping[name]
            secret[0] = secret[0] or resolved.secret
            try:
                return php_string(resolved.value)
            except expressions.ExpressionError:
                raise DefinitionError(
                    'The variable "%s" holds %s, it cannot be inserted in a string'
                    % (name, "a list" if isinstance(resolved.value, list) else "a mapping"),
                    path, locate(path) if locate else None)
        if apply_defaults and match.group("fallback") is not None:
            return match.group("default")
        return match.group(0)

    def bounded(match: "re.Match[str]") -> str:
        replacement = replace(match)
        length[0] += len(replacement) - len(match.group(0))
        if length[0] > MAX_SUBSTITUTED_CHARS:
            raise _too_long("substituting variables makes this value longer than %d characters" % MAX_SUBSTITUTED_CHARS,
                            path, locate)
        return replacement

    result = REFERENCE_RE.sub(bounded, text)
    if budget is not None:
        budget.remaining -= max(0, len(result) - len(text))
        if budget.remaining < 0:
            raise _too_long("substituting variables makes the configuration more than %d characters longer"
                            % MAX_ADDED_CHARS, path, locate)
    return SecretStr(result) if secret[0] else result


def substitute_tree(value: Any, mapping: Mapping[str, Resolved], apply_defaults: bool, path: Path = (),
                    locate: Optional[Callable[[Path], Optional[str]]] = None,
                    budget: Optional[SubstitutionBudget] = None) -> Any:
    """:func:`substitute` in every string of a nested structure (values only, like ``array_walk_recursive``)."""
    budget = SubstitutionBudget() if budget is None else budget
    if isinstance(value, str):
        return substitute(value, mapping, apply_defaults, path, locate, budget)
    if isinstance(value, dict):
        return {key: substitute_tree(item, mapping, apply_defaults, path + (key,), locate, budget)
                for key, item in value.items()}
    if isinstance(value, list):
        return [substitute_tree(item, mapping, apply_defaults, path + (index,), locate, budget)
                for index, item in enumerate(value)]
    return value


def unresolved_references(value: Any, path: Path = (), deploy_time_allowed: bool = False
                          ) -> Iterator[Tuple[Path, str]]:
    """``(path, name)`` of every ``${NAME}`` left in the strings of ``value``.

    Escaped references (``\\${NAME}``) are ignored; deploy-time names are ignored where
    ``deploy_time_allowed`` (environment variable values).
    """
    if isinstance(value, str):
        if "${" not in value:
            return
        for match in REFERENCE_RE.finditer(value):
            name = match.group("variable")
            if match.start() > 0 and value[match.start() - 1] == "\\":
                continue
            if deploy_time_allowed and deploy_time_name(name):
                continue
            yield path, name
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from unresolved_references(item, path + (key,), deploy_time_allowed)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unresolved_references(item, path + (index,), deploy_time_allowed)


def undefined_variable_error(path: Path, name: str, mapping: Mapping[str, Resolved],
                             file: Optional[str]) -> DefinitionError:
    """The error for a ``${NAME}`` left after substitution."""
    if name in mapping:
        message = ('the variable "%s" is not substituted here: its reference came from the value of another '
                   'variable, and references are only replaced twice (with the pipeline\'s variables, then with the '
                   'top-level ones)' % name)
    elif deploy_time_name(name):
        message = ('the variable "%s" is only known while deploying and is only substituted inside '
                   'environment variable values' % name)
    else:
        message = 'undefined variable "%s"' % name
        expected = "a variable of that name (variables, or the variables / secret_variables options), " \
                   "a fallback ${%s?:default}, or undefined_variables=keep" % name
        return DefinitionError(message, path, file, expected=expected)
    return DefinitionError(message, path, file)
