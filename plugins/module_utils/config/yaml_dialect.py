# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML the way ContinuousPipe read it (Symfony Yaml 3.4), on top of PyYAML's safe loader.

Differences with plain ``yaml.safe_load`` that change what a ``continuous-pipe.yml`` means:

* ``yes``/``no``/``on``/``off`` (any case) are **strings**; only ``true``/``false`` (any case) are
  booleans and ``null``/``~``/empty are null (Symfony's YAML-1.2-like core schema).
* Sexagesimal numbers (``80:80`` ⇒ 4880 in YAML 1.1) and ``1_000`` are strings; a plain scalar of
  digits with a leading ``0`` is octal, like Symfony's ``octdec``.
* A merge key whose value is an alias **of a sequence** (``environment_variables: {<<: *ENV}``
  where ``&ENV`` is a list of ``{name, value}``) yields the sequence itself: Symfony does
  ``$data += $sequence`` (PHP array union), PyYAML would merge the list items into one mapping.
  ``<<: [*a, *b]`` and ``<<: *mapping`` keep their usual YAML meaning.
* Key order is kept (Python dicts are ordered).

Safe-by-default differences with Symfony 3.4 (documented for the migration guide):

* duplicate keys in one mapping are an error (Symfony 3.4 kept the first one with a deprecation
  notice);
* a sequence merge key combined with other keys in the same mapping is an error (Symfony would
  build a PHP array mixing list indexes and names);
* timestamps stay strings (Symfony 3.4 turned ``2017-01-01`` into a Unix timestamp integer);
* several YAML documents in one file are an error.

Every failure is a :class:`DefinitionError` naming the file, with the line and column in the
message (``YAML seems invalid: … at line 3, column 9``), never a PyYAML exception.

Bounds (the files come from any branch of any repository): a document of at most
:data:`MAX_DOCUMENT_CHARS` characters, nested at most :data:`MAX_DEPTH` levels, expanding to at most
:data:`MAX_NODES` nodes once every alias and merge key is followed (a "billion laughs" or a merge-key
bomb is refused while it is read, in linear time), no alias of a node inside itself. Integers beyond
64 bits stay strings (as Symfony does); ``!!int``/``!!float`` on text that is not a number, and the
``!!set``, ``!!omap``, ``!!pairs`` tags, are errors. Real files are far below the bounds (the largest
``continuous-pipe.yml`` known is 6 KB, 13 levels, 440 nodes).
"""
from __future__ import annotations

import contextlib
import re
import threading

try:
    import yaml
    from yaml.composer import Composer, ComposerError
    from yaml.constructor import ConstructorError, SafeConstructor
    from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.resolver import BaseResolver
    from yaml.scanner import Scanner
except ImportError:  # pragma: no cover - PyYAML is a dependency of ansible-core, but not of every target
    yaml = None

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

__all__ = ["MAX_DEPTH", "MAX_DOCUMENT_CHARS", "MAX_NODES", "load_yaml", "load_yaml_bytes", "yaml_policy"]

#: Deepest nesting of mappings and sequences in one document.
MAX_DEPTH = 100
#: Most nodes of one document, every alias and merge key followed (counting what they repeat).
MAX_NODES = 250000  # about what 1 MiB of flow-style YAML can hold without aliases
#: Longest document read, in characters (project files are also capped in bytes, ``files.MAX_FILE_BYTES``).
MAX_DOCUMENT_CHARS = 1024 * 1024
_PHP_INT_MAX = 2 ** 63 - 1

_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


if yaml is not None:  # the loader classes derive from PyYAML's

    class _Resolver(BaseResolver):
        """Implicit tags of Symfony Yaml 3.4 plain scalars (no yes/no booleans, no timestamps)."""

    _Resolver.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$"), list("tTfF"))
    _Resolver.add_implicit_resolver(
        "tag:yaml.org,2002:null", re.compile(r"^(?:~|[Nn][Uu][Ll][Ll]|)$"), ["~", "n", "N", ""])
    _Resolver.add_implicit_resolver("tag:yaml.org,2002:int", _INT_RE, list("-+0123456789"))
    _Resolver.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_RE, list("-+0123456789."))
    _Resolver.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])

    class _AliasedSequence(SequenceNode):
        """A sequence node reached through an alias (``*name``), so ``<<: *name`` can be told apart."""

        def __init__(self, target: SequenceNode):
            super().__init__(target.tag, target.value, target.start_mark, target.end_mark, target.flow_style)
            self.target = target

    class _Composer(Composer):
        """PyYAML's composer, bounded: depth, expanded size, no recursive alias (see the module doc).

        Every composed node gets a ``weight``: the number of nodes it stands for once aliases and
        merge keys are expanded. It is computed bottom-up while composing, so a document whose
        expansion would be exponential is refused after reading it once.
        """

        def __init__(self):
            super().__init__()
            self._depth = 0

        def compose_node(self, parent, index):
            if self.check_event(AliasEvent):
                event = self.peek_event()
                target = self.anchors.get(event.anchor)
                if target is not None and getattr(target, "weight", None) is None:
                    raise ComposerError(None, None, "found an alias (*%s) inside the node it refers to" % event.anchor,
                                        event.start_mark)
                node = super().compose_node(parent, index)
                if isinstance(node, SequenceNode) and not isinstance(node, _AliasedSequence):
                    aliased = _AliasedSequence(node)
                    aliased.weight = node.weight
                    return aliased
                return node
            collection = self.check_event(MappingStartEvent, SequenceStartEvent)
            if collection:
                self._depth += 1
                if self._depth > MAX_DEPTH:
                    raise ComposerError(None, None, "the document is nested more than %d levels deep" % MAX_DEPTH,
                                        self.peek_event().start_mark)
            try:
                node = super().compose_node(parent, index)
            finally:
                if collection:
                    self._depth -= 1
            if isinstance(node, ScalarNode):
                node.weight = 1
            elif isinstance(node, MappingNode):
                node.weight = 1 + sum(key.weight + value.weight for key, value in node.value)
            else:
                node.weight = 1 + sum(item.weight for item in node.value)
            if node.weight > MAX_NODES:
                raise ComposerError(None, None, "the document expands to more than %d nodes once its aliases (*name) "
                                    "and merge keys (<<) are followed" % MAX_NODES, node.start_mark)
            return node

    class _Constructor(SafeConstructor):
        """Safe constructor with Symfony's scalars, sequence merges and duplicate-key detection."""

        def construct_yaml_bool(self, node):
            return self.construct_scalar(node).lower() == "true"

        def construct_yaml_int(self, node):
            text = self.construct_scalar(node)
            if not _INT_RE.match(text):
                raise ConstructorError(None, None, "%s is not an integer" % _quoted(text), node.start_mark)
            if text.lower().startswith("0x"):
                value = int(text, 16)  # Symfony: hexdec(), a float beyond 64 bits
                return value if value <= _PHP_INT_MAX else float(value) if len(text) < 300 else float("inf")
            sign, digits = (-1, text[1:]) if text[0] in "+-" else (1, text)
            if text[0] == "+":
                sign = 1
            if len(digits) > 1 and digits[0] == "0":
                # Symfony: octdec() ignores non-octal digits (a float beyond 64 bits)
                octal = "".join(ch for ch in digits if ch in "01234567") or "0"
                value = int(octal, 8)
                if value > _PHP_INT_MAX:
                    return sign * (float(value) if len(octal) < 300 else float("inf"))
                return sign * value
            if len(digits) > 19 or int(digits) > _PHP_INT_MAX:
                return text  # Symfony: an integer that PHP cannot hold stays a string
            return sign * int(digits)

        def construct_yaml_float(self, node):
            text = self.construct_scalar(node).lower()
            if not _FLOAT_RE.match(text) and not _INT_RE.match(text):
                raise ConstructorError(None, None, "%s is not a number" % _quoted(text), node.start_mark)
            if text.endswith("inf"):
                return float("-inf") if text.startswith("-") else float("inf")
            if text.endswith("nan"):
                return float("nan")
            if text.startswith(("0x", "+0x", "-0x")):
                return float(self.construct_yaml_int(node))
            return float(text)

        def construct_yaml_binary(self, node):
            value = super().construct_yaml_binary(node)
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                raise ConstructorError(None, None, "the !!binary value is not UTF-8 text", node.start_mark)

        def construct_unsupported(self, node):
            raise ConstructorError(None, None, "the tag %s is not supported" % node.tag.replace("tag:yaml.org,2002:", "!!"),
                                   node.start_mark)

        def construct_yaml_timestamp(self, node):  # pragma: no cover - never resolved implicitly
            return self.construct_scalar(node)

        def construct_yaml_map(self, node):
            if not isinstance(node, MappingNode):
                raise ConstructorError(None, None, "expected a mapping node, but found %s" % node.id, node.start_mark)
            sequence = _sequence_merge(node)
            if sequence is not None:
                data = []
                yield data
                data.extend(self.construct_sequence(sequence, deep=True))
                return
            data = {}
            yield data
            data.update(self.construct_mapping(node, deep=True))

        def construct_mapping(self, node, deep=False):
            if not isinstance(node, MappingNode):
                raise ConstructorError(None, None, "expected a mapping node, but found %s" % node.id,
                                       node.start_mark)
            _check_duplicates(self, node)
            self.flatten_mapping(node)
            mapping = {}
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    hash(key)
                except TypeError:
                    raise ConstructorError("while constructing a mapping", node.start_mark,
                                           "found an unhashable key (a mapping or a list)", key_node.start_mark)
                mapping[_php_key(key)] = self.construct_object(value_node, deep=deep)
            return mapping

    _Constructor.add_constructor("tag:yaml.org,2002:bool", _Constructor.construct_yaml_bool)
    _Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)
    _Constructor.add_constructor("tag:yaml.org,2002:float", _Constructor.construct_yaml_float)
    _Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)
    _Constructor.add_constructor("tag:yaml.org,2002:map", _Constructor.construct_yaml_map)
    _Constructor.add_constructor("tag:yaml.org,2002:binary", _Constructor.construct_yaml_binary)
    for _tag in ("set", "omap", "pairs"):
        _Constructor.add_constructor("tag:yaml.org,2002:" + _tag, _Constructor.construct_unsupported)

    def _quoted(text: str) -> str:
        return '"%s"' % (text if len(text) <= 40 else text[:37] + "...")

    def _php_key(key):
        """A mapping key as PHP would store it: ints stay ints, integral strings become ints."""
        if isinstance(key, bool):
            return "1" if key else ""
        if key is None:
            return ""
        if isinstance(key, float):
            return int(key) if key.is_integer() else str(key)
        if isinstance(key, str) and re.match(r"^(?:0|-?[1-9][0-9]{0,17})$", key):
            return int(key)
        return key

    def _is_merge_key(node) -> bool:
        return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:merge"

    def _sequence_merge(node: MappingNode):
        """The aliased sequence of ``{<<: *sequence}``, or None when the mapping is an ordinary one."""
        merges = [value for key, value in node.value if _is_merge_key(key)]
        sequences = [value for value in merges if isinstance(value, _AliasedSequence)]
        if not sequences:
            return None
        if len(node.value) != 1:
            raise ConstructorError(
                "while constructing a mapping", node.start_mark,
                "a merge key (<<) whose value is an alias of a sequence cannot be combined with other keys",
                node.start_mark)
        return sequences[0].target

    def _check_duplicates(constructor: _Constructor, node: MappingNode) -> None:
        """Duplicate keys: Symfony Yaml 3.4 kept the first and dropped the others with a
        deprecation notice; so do we (with a warning), unless the policy is ``error``."""
        seen = {}
        kept = []
        for key_node, value_node in node.value:
            if _is_merge_key(key_node) or not isinstance(key_node, ScalarNode):
                kept.append((key_node, value_node))
                continue
            key = _php_key(constructor.construct_object(key_node))
            if key in seen:
                if _SETTINGS.duplicate_keys == "error":
                    raise ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        'found duplicate key "%s" (first defined at line %d)' % (key, seen[key].line + 1),
                        key_node.start_mark)
                _SETTINGS.warnings.append(
                    '%s: line %d: duplicate key "%s" ignored; the first one (line %d) is used, as ContinuousPipe '
                    'did. Remove one of them (or set duplicate_keys: error to refuse such files).'
                    % (_SETTINGS.file, key_node.start_mark.line + 1, key, seen[key].line + 1))
                continue
            seen[key] = key_node.start_mark
            kept.append((key_node, value_node))
        node.value = kept

    class _Loader(Reader, Scanner, Parser, _Composer, _Constructor, _Resolver):
        """Pure-Python loader."""

        def __init__(self, stream):
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            _Composer.__init__(self)
            _Constructor.__init__(self)
            _Resolver.__init__(self)

    try:  # libyaml's event parser when PyYAML was built with it (10x faster), composed in Python
        from yaml._yaml import CParser as _CParser

        class _FastLoader(_Composer, _CParser, _Constructor, _Resolver):
            """libyaml events, Python composer (bounded, and for the aliased-sequence merge key) and constructor.

            libyaml's own composer is not used: it recurses in C, and a deeply nested document
            overflows the C stack (a segmentation fault, not an exception).
            """

            def __init__(self, stream):
                _CParser.__init__(self, stream)
                _Composer.__init__(self)
                _Constructor.__init__(self)
                _Resolver.__init__(self)

            def get_single_node(self):
                return _Composer.get_single_node(self)

            def get_node(self):
                return _Composer.get_node(self)

            def check_node(self):
                return _Composer.check_node(self)

    except ImportError:  # pragma: no cover - PyYAML without libyaml
        _FastLoader = None


def _describe(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        parts = [part for part in (error.context, error.problem) if part]
        text = ", ".join(parts) or "invalid YAML"
        mark = error.problem_mark or error.context_mark
        if mark is not None:
            text += " at line %d, column %d" % (mark.line + 1, mark.column + 1)
        return text
    return str(error)


class _Settings(threading.local):
    """Per-thread loading policy and the warnings collected while loading (see ``yaml_policy``)."""

    def __init__(self):
        self.duplicate_keys = "first"
        self.warnings = []
        self.file = ""


_SETTINGS = _Settings()


@contextlib.contextmanager
def yaml_policy(duplicate_keys: str = "first"):
    """Load YAML under a duplicate-key policy (``first`` or ``error``); yields the warnings list."""
    previous = (_SETTINGS.duplicate_keys, _SETTINGS.warnings)
    _SETTINGS.duplicate_keys, _SETTINGS.warnings = duplicate_keys, []
    try:
        yield _SETTINGS.warnings
    finally:
        _SETTINGS.duplicate_keys, _SETTINGS.warnings = previous


def load_yaml(text, file: str):
    """Parse one YAML document as Symfony Yaml 3.4 would; raise DefinitionError naming ``file``."""
    if yaml is None:  # pragma: no cover
        raise DefinitionError("PyYAML is needed to read YAML files (pip install PyYAML)", file=file)
    if not isinstance(text, str):
        raise DefinitionError("Invalid type: got %s" % type(text).__name__, file=file, expected="YAML text")
    if len(text) > MAX_DOCUMENT_CHARS:
        raise DefinitionError("YAML seems invalid: the document is too large (%d characters, at most %d are read)"
                              % (len(text), MAX_DOCUMENT_CHARS), file=file)
    _SETTINGS.file = file
    loader = _Loader(text) if _FastLoader is None else _FastLoader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as error:
        raise DefinitionError("YAML seems invalid: %s" % _describe(error), file=file)
    except RecursionError:
        raise DefinitionError("YAML seems invalid: the document is nested too deeply (merge keys or aliases)",
                              file=file)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, OverflowError) as error:
        # PyYAML's own checks do not cover every shape of node a hostile document can build
        raise DefinitionError("YAML seems invalid: %s" % error, file=file)
    finally:
        loader.dispose()


def load_yaml_bytes(data: bytes, file: str):
    """Decode (UTF-8, an optional BOM) and parse; a DefinitionError naming ``file``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DefinitionError("YAML seems invalid: the file is not UTF-8 (byte %d)" % error.start, file=file)
    return load_yaml(text, file)
