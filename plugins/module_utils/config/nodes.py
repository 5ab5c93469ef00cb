# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small re-implementation of the Symfony Config component (3.4) that ContinuousPipe's schema used.

Each configuration file is *normalised* against a tree of nodes, the normalised documents are
*merged* left to right, and the merged result is *finalised* (required keys, defaults, validation
closures). The observable rules of CP come from these three passes, so they are kept:

normalise
    key normalisation (``app-deploy`` ⇒ ``app_deploy`` unless disabled or ``app_deploy`` is
    present), ``before`` closures (CP's ``beforeNormalization``), the null/true/false equivalents
    (``web: ~`` ⇒ ``{enabled: true}``), the type check of scalar/boolean/integer nodes, and
    unknown keys (``Unrecognized option "por" under "…". Did you mean "ports"?``).
merge (docs/behaviour.md §2.4)
    scalars: right side wins; fixed-children maps: child by child; keyed maps (``tasks``,
    ``services``…): key by key; :class:`KeyIndexedNode` (``pipelines``): element *i* into element
    *i*; :class:`VariablesNode`: by ``(name, condition)``, in place; other lists: appended, or
    replaced when ``deep_merge=False`` (``ports``, ``command``).
finalise
    missing required keys, defaults, enum values, ``validators`` (CP's ``validate()`` closures,
    which run *after* ``${VAR}`` substitution).

Differences with Symfony, on purpose: every problem of a document is collected (not only the first),
messages name the key path separately (``DefinitionError.path``), and a list given where a mapping
is expected is reported as such instead of as unknown keys ``"0, 1"``. Values are plain Python data:
mappings are dicts, list nodes are lists, keyed nodes are dicts.
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import (
    DefinitionError,
    DefinitionErrors,
    format_path,
)

__all__ = [
    "ArrayNode", "BooleanNode", "EnumNode", "Invalid", "INVALID", "IntegerNode", "Issues",
    "KeyIndexedNode", "Node", "PrototypedNode", "ScalarNode", "VariableNode", "VariablesNode",
    "describe_value",
]

Path = Tuple[Any, ...]


class _Sentinel:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: Returned by ``normalize``/``finalize`` for a value that produced an error (and is dropped).
INVALID = _Sentinel("INVALID")
_MISSING = _Sentinel("MISSING")


class Invalid(Exception):
    """Raised by type checks, closures and validators; the node turns it into an issue at its path."""

    def __init__(self, message: str, expected: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.expected = expected


class Issues:
    """Collects the problems of one pass, all attributed to ``file`` (or to ``locate(path)``)."""

    def __init__(self, file: Optional[str] = None, locate: Optional[Callable[[Path], Optional[str]]] = None,
                 defer_references: bool = False):
        self.file = file
        self.locate = locate
        self.errors: List[DefinitionError] = []
        #: a value still holding an undefined ``${NAME}`` is not validated: the builder reports the
        #: undefined variable (with every other one) instead of an invalid value
        self.defer_references = defer_references

    def add(self, message: str, path: Path, expected: Optional[str] = None, file: Optional[str] = None) -> None:
        if file is None:
            file = self.locate(tuple(path)) if self.locate else self.file
        self.errors.append(DefinitionError(message, tuple(path), file, expected))

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise DefinitionErrors(self.errors)


def describe_value(value: Any) -> str:
    """A short human description of a YAML value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean (%s)" % ("true" if value else "false")
    if isinstance(value, int):
        return "an integer (%d)" % value
    if isinstance(value, float):
        return "a number (%r)" % value
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return 'a string ("%s")' % shown
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a %s" % type(value).__name__


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _normalize_keys(value: Dict) -> Dict:
    """Symfony ``ArrayNode::preNormalize``: ``a-b`` ⇒ ``a_b`` unless the key has a ``_`` or ``a_b`` exists."""
    out = {}
    for key, item in value.items():
        if isinstance(key, str) and "-" in key and "_" not in key:
            renamed = key.replace("-", "_")
            if renamed not in value:
                out[renamed] = item
                continue
        out[key] = item
    return out


class Node:
    """Base node: the normalise / merge / finalise protocol and the options every node has."""

    kind = "value"

    def __init__(self, required: bool = False, default: Any = _MISSING,
                 before: Sequence[Callable[[Any], Any]] = (), validators: Sequence[Callable[[Any], Any]] = (),
                 equivalents: Optional[Dict[Any, Any]] = None):
        self.required = required
        self.default = default
        self.before = list(before)
        self.validators = list(validators)
        self.equivalents = dict(equivalents or {})

    # -- defaults -------------------------------------------------------------------------------
    def has_default(self) -> bool:
        return self.default is not _MISSING

    def default_value(self) -> Any:
        return _copy(self.default)

    # -- normalise ------------------------------------------------------------------------------
    def normalize(self, value: Any, path: Path, issues: Issues) -> Any:
        try:
            value = self.pre_normalize(value)
            for closure in self.before:
                value = closure(value)
            value = self.equivalent(value)
            self.check_type(value)
        except Invalid as error:
            issues.add(error.message, path, error.expected)
            return INVALID
        return self.normalize_value(value, path, issues)

    def pre_normalize(self, value: Any) -> Any:
        return value

    def equivalent(self, value: Any) -> Any:
        for source, target in self.equivalents.items():
            if value is source:
                return _copy(target)
        return value

    def check_type(self, value: Any) -> None:
        """Raise :class:`Invalid` when ``value`` has the wrong type for this node."""

    def normalize_value(self, value: Any, path: Path, issues: Issues) -> Any:
        return value

    # -- merge ----------------------------------------------------------------------------------
    def merge(self, left: Any, right: Any, path: Path, issues: Issues) -> Any:
        return right

    # -- finalise -------------------------------------------------------------------------------
    def finalize(self, value: Any, path: Path, issues: Issues) -> Any:
        try:
            self.check_type(value)
        except Invalid as error:
            issues.add(error.message, path, error.expected)
            return INVALID
        undefined = _undefined_names(value)
        if undefined and issues.defer_references:
            return value
        value = self.finalize_value(value, path, issues)
        if value is INVALID:
            return INVALID
        for validator in self.validators:
            try:
                value = validator(value)
            except Invalid as error:
                message = error.message
                if undefined:
                    message += " (the undefined variable%s %s %s kept verbatim, as undefined_variables is keep)" % (
                        "s" if len(undefined) > 1 else "", ", ".join('"%s"' % name for name in undefined),
                        "are" if len(undefined) > 1 else "is")
                issues.add(message, path, error.expected)
                return INVALID
        return value

    def finalize_value(self, value: Any, path: Path, issues: Issues) -> Any:
        return value


def _undefined_names(value: Any) -> List[str]:
    """Names of the ``${NAME}`` references left in a string value (after substitution: undefined ones)."""
    if not isinstance(value, str) or "${" not in value:
        return []
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.variables import (
        unresolved_references,
    )
    return list(dict.fromkeys(name for _path, name in unresolved_references(value)))


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


class VariableNode(Node):
    """Any value (Symfony ``variableNode``)."""


class ScalarNode(Node):
    """A string, number, boolean or null (Symfony ``scalarNode``)."""

    kind = "scalar"

    def check_type(self, value: Any) -> None:
        if not _is_scalar(value):
            raise Invalid("Invalid type: got %s" % describe_value(value), "a string, number or boolean")


class BooleanNode(ScalarNode):
    """``true``/``false`` only; null means true (Symfony ``booleanNode``)."""

    kind = "boolean"

    def __init__(self, **kwargs):
        kwargs.setdefault("equivalents", {None: True})
        super().__init__(**kwargs)

    def check_type(self, value: Any) -> None:
        if not isinstance(value, bool):
            hint = "true or false"
            if isinstance(value, str) and value.lower() in ("yes", "no", "on", "off"):
                hint += " (yes/no/on/off are strings in this YAML dialect)"
            raise Invalid("Invalid type: got %s" % describe_value(value), hint)


class IntegerNode(ScalarNode):
    """An integer, checked when the file is read, so ``${VAR}`` is not allowed (Symfony ``integerNode``)."""

    kind = "integer"

    def __init__(self, hint: Optional[str] = None, **kwargs):
        super().__init__(**kwargs)
        self.hint = hint

    def check_type(self, value: Any) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            expected = "an integer"
            if isinstance(value, str):
                expected += " (a quoted value is a string" + (
                    "; variables cannot be used here" if "${" in value else "") + ")"
            if self.hint:
                expected += "; " + self.hint
            raise Invalid("Invalid type: got %s" % describe_value(value), expected)


class EnumNode(ScalarNode):
    """One of ``values`` (compared strictly, when the configuration is finalised)."""

    kind = "enum"

    def __init__(self, values: Sequence[Any], **kwargs):
        super().__init__(**kwargs)
        self.values = list(values)

    def finalize_value(self, value: Any, path: Path, issues: Issues) -> Any:
        if not any(value == allowed and type(value) is type(allowed) for allowed in self.values):
            issues.add("The value %s is not allowed" % describe_value(value), path,
                       "one of " + ", ".join('"%s"' % v for v in self.values))
            return INVALID
        return value


class _Container(Node):
    """Shared behaviour of the array-like nodes."""

    kind = "array"

    def __init__(self, normalize_keys: bool = True, deep_merge: bool = True, **kwargs):
        kwargs.setdefault("equivalents", {None: {}, True: {}})
        super().__init__(**kwargs)
        self.normalize_keys = normalize_keys
        self.deep_merge = deep_merge

    def pre_normalize(self, value: Any) -> Any:
        if self.normalize_keys and isinstance(value, dict):
            return _normalize_keys(value)
        return value

    def check_type(self, value: Any) -> None:
        if not isinstance(value, (dict, list)):
            raise Invalid("Invalid type: got %s" % describe_value(value), self.expected_form())

    def expected_form(self) -> str:
        return "a mapping"


class ArrayNode(_Container):
    """A mapping with fixed children (Symfony ``arrayNode()->children()``)."""

    def __init__(self, children: Optional[Dict[str, Node]] = None, add_defaults: bool = False,
                 can_be_enabled: bool = False, ignore_extra: bool = False, **kwargs):
        if can_be_enabled:
            kwargs.setdefault("equivalents", {None: {"enabled": True}, True: {"enabled": True},
                                              False: {"enabled": False}})
            kwargs["before"] = [_enable_by_default] + list(kwargs.get("before", ()))
            add_defaults = True
        super().__init__(**kwargs)
        self.children: Dict[str, Node] = dict(children or {})
        if can_be_enabled:
            self.children.setdefault("enabled", BooleanNode(default=False))
        self.add_defaults = add_defaults
        self.ignore_extra = ignore_extra

    def has_default(self) -> bool:
        return self.add_defaults or self.default is not _MISSING

    def default_value(self) -> Any:
        if self.default is not _MISSING:
            return _copy(self.default)
        return {name: child.default_value() for name, child in self.children.items() if child.has_default()}

    def normalize_value(self, value: Any, path: Path, issues: Issues) -> Any:
        if isinstance(value, list):
            if value:
                issues.add("Invalid type: got a list", path, "a mapping")
                return INVALID
            value = {}
        out = {}
        unknown = []
        for key, item in value.items():
            child = self.children.get(key) if isinstance(key, str) else None
            if child is None:
                unknown.append(key)
                continue
            normalized = child.normalize(item, path + (key,), issues)
            if normalized is not INVALID:
                out[key] = normalized
        if unknown and not self.ignore_extra:
            for key in unknown:
                issues.add(unrecognized_option(key, path, self.children), path + (key,))
        elif unknown:
            for key in unknown:
                out[key] = value[key]
        return out

    def merge(self, left: Any, right: Any, path: Path, issues: Issues) -> Any:
        if not self.deep_merge or not isinstance(left, dict) or not isinstance(right, dict):
            return right
        out = dict(left)
        for key, item in right.items():
            child = self.children.get(key)
            if key not in out or child is None:
                out[key] = item
            else:
                out[key] = child.merge(out[key], item, path + (key,), issues)
        return out

    def finalize_value(self, value: Any, path: Path, issues: Issues) -> Any:
        if not isinstance(value, dict):
            return value
        out = dict(value)
        for name, child in self.children.items():
            if name not in out:
                if child.required:
                    issues.add('The child node "%s" must be configured' % name, path + (name,))
                elif child.has_default():
                    out[name] = child.default_value()
                continue
            finalized = child.finalize(out[name], path + (name,), issues)
            if finalized is INVALID:
                del out[name]
            else:
                out[name] = finalized
        return out


def _enable_by_default(value: Any) -> Any:
    """``canBeEnabled()``: a mapping without ``enabled`` (or with ``enabled: ~``) is enabled."""
    if isinstance(value, dict) and value.get("enabled") is None:
        value = dict(value)
        value["enabled"] = True
    return value


def unrecognized_option(key: Any, path: Path, children: Dict[str, Node]) -> str:
    """``Unrecognized option "por" under "a.b". Did you mean "ports"?`` (or the available options)."""
    where = 'under "%s"' % format_path(path) if path else "at the top level"
    message = 'Unrecognized option "%s" %s.' % (key, where)
    names = sorted(name for name in children)
    close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
    if close:
        return message + ' Did you mean "%s"?' % close[0]
    if names:
        return message + " Available options are %s." % ", ".join('"%s"' % name for name in names)
    return message + " No option is allowed here."


class PrototypedNode(_Container):
    """A list (``key_attribute=None``) or a keyed map of values of one shape (Symfony ``prototype()``).

    List nodes accept a mapping too (its keys are dropped, as Symfony appends such entries on
    merge). Keyed nodes (``useAttributeAsKey``) accept a list of mappings holding ``key_attribute``.
    """

    def __init__(self, prototype: Node, key_attribute: Optional[str] = None, min_elements: int = 0,
                 **kwargs):
        super().__init__(**kwargs)
        self.prototype = prototype
        self.key_attribute = key_attribute
        self.min_elements = min_elements

    @property
    def keyed(self) -> bool:
        return self.key_attribute is not None

    def expected_form(self) -> str:
        return "a mapping" if self.keyed else "a list"

    def has_default(self) -> bool:
        return True

    def default_value(self) -> Any:
        if self.default is not _MISSING:
            return _copy(self.default)
        return {} if self.keyed else []

    def normalize_value(self, value: Any, path: Path, issues: Issues) -> Any:
        if self.keyed:
            return self._normalize_keyed(value, path, issues)
        items = value.items() if isinstance(value, dict) else enumerate(value)
        out = []
        for key, item in items:
            normalized = self.prototype.normalize(item, path + (key,), issues)
            if normalized is not INVALID:
                out.append(normalized)
        return out

    def _normalize_keyed(self, value: Any, path: Path, issues: Issues) -> Dict:
        if isinstance(value, list):
            value = self._key_list(value)
        out = {}
        for key, item in value.items():
            normalized = self.prototype.normalize(item, path + (key,), issues)
            if normalized is not INVALID:
                out[key] = normalized
        return out

    def _key_list(self, items: List) -> Dict:
        out = {}
        for index, item in enumerate(items):
            key = index
            if isinstance(item, dict) and _is_scalar(item.get(self.key_attribute)) \
                    and item.get(self.key_attribute) is not None:
                key = item[self.key_attribute]
                item = {k: v for k, v in item.items() if k != self.key_attribute}
            out[key] = item
        return out

    def merge(self, left: Any, right: Any, path: Path, issues: Issues) -> Any:
        if not self.deep_merge:
            return right
        if not self.keyed:
            return list(left) + list(right)
        out = dict(left)
        for key, item in right.items():
            out[key] = self.prototype.merge(out[key], item, path + (key,), issues) if key in out else item
        return out

    def finalize_value(self, value: Any, path: Path, issues: Issues) -> Any:
        if self.keyed:
            out = {}
            for key, item in value.items():
                finalized = self.prototype.finalize(item, path + (key,), issues)
                if finalized is not INVALID:
                    out[key] = finalized
        else:
            out = []
            for index, item in enumerate(value):
                finalized = self.prototype.finalize(item, path + (index,), issues)
                if finalized is not INVALID:
                    out.append(finalized)
        if len(out) < self.min_elements:
            issues.add("should have at least %d element(s) defined" % self.min_elements, path)
        return out


class KeyIndexedNode(PrototypedNode):
    """``pipelines`` and ``pipelines[].tasks``: merged by position (``KeyIndexedArrayNode``).

    The value is a dict from index (or name) to entry, so that element *i* of a later file
    deep-merges into element *i* of an earlier one.
    """

    def __init__(self, prototype: Node, **kwargs):
        super().__init__(prototype, key_attribute="", **kwargs)

    def expected_form(self) -> str:
        return "a list"

    def _key_list(self, items: List) -> Dict:
        return dict(enumerate(items))


class VariablesNode(PrototypedNode):
    """Lists of ``{name, value, condition, …}`` merged by ``(name, condition)`` (``VariablesArrayNode``)."""

    def merge(self, left: Any, right: Any, path: Path, issues: Issues) -> Any:
        out = list(left)
        for item in right:
            index = _find_variable(out, item)
            if index is None:
                out.append(item)
            else:
                out[index] = self.prototype.merge(out[index], item, path + (index,), issues)
        return out


def _find_variable(variables: List, variable: Any) -> Optional[int]:
    """Index of the entry with the same name and the same condition (strictly compared)."""
    if not isinstance(variable, dict):
        return None
    for index, found in enumerate(variables):
        if isinstance(found, dict) and found.get("name") == variable.get("name") \
                and found.get("condition") == variable.get("condition"):
            return index
    return None
