# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A safe re-implementation of the Symfony ExpressionLanguage (3.4) that ContinuousPipe evaluates.

ContinuousPipe (CP) evaluates ``condition``, ``expression``, ``filter``, ``environment.name`` and
``host.expression`` strings with Symfony ExpressionLanguage 3.4 on PHP 7. This module parses the
same language into a small AST (no ``eval``, no attribute access on Python objects) and evaluates
it with PHP's value semantics, so that a configuration behaves as it did in CP.

Usage::

    expr = parse("code_reference.branch matches '/^cpdev/'")   # syntax errors raised here
    expr.names                                                  # ('code_reference',)
    expr.evaluate({"code_reference": {"branch": "cpdev/x"}})    # 1
    evaluate("'app-' ~ slugify(code_reference.branch)", context, C1_FUNCTIONS)

Parsed expressions are cached by source text; compiled regular expressions are cached too.

Supported syntax (exactly Symfony 3.4's lexer and parser)
    * literals: ``'single'`` and ``"double"`` quoted strings (PHP ``stripcslashes`` escapes:
      ``\\n``, ``\\t``, ``\\x41``, ``\\101``, and ``\\`` before any other character drops the
      backslash), integers, floats (``1.5``; no exponent, no leading dot), ``true``/``TRUE``,
      ``false``/``FALSE``, ``null``/``NULL`` (Symfony knows only these two spellings; ``True`` is
      a variable name), arrays ``[a, b]`` and hashes ``{a: 1, "b": 2, 3: c, (expr): d}``;
    * variables from the context, property access ``a.b``, item access ``a["b"]`` / ``a[0]``,
      function calls ``f(x, y)`` (only the functions given to :meth:`Expression.evaluate`);
    * operators, loosest first: ``?:`` ternaries (``a ? b : c``, ``a ?: b``, ``a ? b``, only at
      the top of an expression, a parenthesis or an argument); ``or`` ``||``; ``and`` ``&&``;
      ``|``; ``^``; ``&``; ``==`` ``===`` ``!=`` ``!==`` ``<`` ``>`` ``<=`` ``>=`` ``in``
      ``not in`` ``matches``; ``..``; ``+`` ``-``; ``~``; ``*`` ``/`` ``%``; then the unary
      ``not`` ``!`` (which bind tighter than comparisons: ``not a == b`` is ``(not a) == b``);
      ``**`` (right associative); unary ``-`` ``+``. ``not``, ``and``, ``or``, ``in`` and
      ``not in`` must be followed by a space or ``(``.

PHP semantics
    * ``==``/``!=``, ``in``/``not in`` (``in_array``) and ``<``, ``>``, ``<=``, ``>=`` compare
      the PHP 7 way: numeric strings compare as numbers (``"1" == "01"``, ``"10" == "1e1"``), a
      number against a non-numeric string converts the string (``0 == "abc"`` is true), ``null``
      and booleans compare as booleans, ``null == ""``; ``===`` needs the same type.
    * truthiness (``not``, ``and``, ``or``, ``?:``): ``""``, ``"0"``, ``0``, ``0.0``, ``null``,
      ``false`` and empty arrays are false; ``"false"`` and ``"0.0"`` are true.
    * ``~`` concatenates PHP string casts: ``true`` ⇒ ``"1"``, ``false``/``null`` ⇒ ``""``, floats
      with 14 significant digits (``0.1 + 0.2`` ⇒ ``"0.3"``, ``1e20`` ⇒ ``"1.0E+20"``).
    * arithmetic converts operands to numbers (leading numeric prefix of strings, else 0), keeps
      ints while exact, ``/`` of divisible ints is an int, ``%`` truncates operands to ints and
      takes the dividend's sign, ``[a] + [b]`` is the PHP array union; ``a..b`` is PHP
      ``range()`` (``'a'..'e'`` gives letters).
    * ``matches`` is ``preg_match(right, left)``: the right operand is a PCRE with delimiters
      (``/^cpdev/``, ``#^cpdev/#``, ``~x~i``, ``{x}``, flags ``i m s x u A D U S X``), translated
      to Python ``re``; it returns ``1`` or ``0`` (an int, like PHP; filters cast ints to bool).
    * ``and``/``or`` short-circuit and return booleans; ``not`` returns a boolean.

Context values are plain ``dict`` (objects and hashes), ``list``/``tuple`` (arrays), ``str``,
``int``, ``float``, ``bool`` and ``None``, plus :class:`ContextObject` (a dict whose missing-key
error text is chosen, e.g. ``Task "x" does not exist``) and :class:`Wildcard` (answers any key,
like CP's ``WildcardObject`` for deploy tasks that have not deployed yet).

Reading a missing property (``code_reference.sha1``) raises CP's ``The key "sha1" does not
exist``; reading a missing item (``labels[3]``, ``hash["x"]``) gives ``null`` like PHP (which only
emits a notice).

Errors are :class:`ExpressionError` (with ``expression`` and ``position``, the 0-based character
offset of the offending token); syntax errors, unknown variables and unknown functions are
:class:`ExpressionSyntaxError` with Symfony's message, e.g. ``Unexpected token "name" of value
"foo" around position 7 for expression `1 + 2 foo`.`` (the number in the message is Symfony's:
1-based for tokens, counted in UTF-8 bytes). Runtime errors carry CP's texts (``The key "x" does
not exist``).

Deliberate differences from PHP 7, where PHP would only emit a warning and carry on: converting
an array to a string, ``in`` on a non-array, an invalid regular expression, a division by zero,
ranges of more than 100000 elements and more than 1000000 range elements in one evaluation raise
:class:`ExpressionError`. Property access works on
every dict, hash literals included (PHP arrays are not objects). Methods (``a.b()``) are not
supported. A ``matches`` pattern whose shape backtracks catastrophically (``/^(a+)+$/``) is refused,
and a match that takes more than ``regex_guard.MATCH_CPU_SECONDS`` of CPU time is stopped (an
ExpressionError either way; PHP gave up silently at ``pcre.backtrack_limit`` and returned false),
see :mod:`regex_guard`. PCRE features without a Python equivalent (``\\p{..}``, recursion, ``\\G``,
``\\K``...) are rejected with an ExpressionError, and subjects are matched as Unicode text (PHP
without ``/u`` matches bytes).
"""
from __future__ import annotations

import contextlib
import functools
import math
import re
import threading
import typing
import warnings
from collections.abc import Mapping
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import regex_guard
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ContinuousPipeError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.naming import (
    hash_long_domain_prefix as _naming_hash_long_domain_prefix,
    slugify as _naming_slugify,
)

__all__ = [
    "C1_FUNCTIONS",
    "NO_FUNCTIONS",
    "ContextObject",
    "Expression",
    "ExpressionError",
    "ExpressionSyntaxError",
    "Wildcard",
    "condition_context",
    "deploy_task_context",
    "evaluate",
    "flow_context",
    "has_changes_for_files_function",
    "identical",
    "loose_equals",
    "parse",
    "php_bool",
    "php_string",
    "pull_request_context",
    "tide_context",
    "to_bool_filter",
]

Functions = typing.Mapping[str, Callable[..., Any]]

# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


class ExpressionError(ContinuousPipeError):
    """An expression that cannot be parsed or evaluated.

    ``message`` is the text alone (CP's / Symfony's wording), ``expression`` the source text and
    ``position`` the 0-based character offset of the offending token, when known.
    """

    def __init__(self, message: str, expression: Optional[str] = None,
                 position: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.position = position


class ExpressionSyntaxError(ExpressionError):
    """Symfony's ``SyntaxError``: bad syntax, an unknown variable or an unknown function.

    CP reports these as ``The expression provided ("…") is not valid: <message>``.
    """

    #: variables and functions met before a syntax error: Symfony reports an unknown one first
    references: Tuple[Tuple[str, str, int], ...] = ()


def _syntax_error(message: str, source: str, position: int, token: bool = True,
                  subject: Optional[str] = None,
                  proposals: Optional[Iterable[str]] = None) -> ExpressionSyntaxError:
    """Build a SyntaxError with Symfony's message (``token``: Symfony counts token cursors from 1)."""
    normalized = _normalize_whitespace(source)
    cursor = len(normalized[:position].encode("utf-8", "surrogatepass")) + (1 if token else 0)
    text = "%s around position %d" % (message, cursor)
    if normalized and normalized != "0":
        text += " for expression `%s`" % normalized
    text += "."
    if subject is not None and proposals is not None:
        guess = None
        best = math.inf
        for proposal in proposals:
            distance = _levenshtein(subject, proposal)
            if distance < best:
                guess, best = proposal, distance
        if guess is not None and best < 3:
            text += ' Did you mean "%s"?' % guess
    return ExpressionSyntaxError(text, source, position)


def _levenshtein(text_a: str, text_b: str) -> int:
    """PHP ``levenshtein()``: computed over bytes."""
    a, b = _utf8(text_a), _utf8(text_b)
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


# --------------------------------------------------------------------------------------------
# context objects
# --------------------------------------------------------------------------------------------


class Wildcard:
    """A context object answering every key with the same value (CP's ``WildcardObject``).

    A deploy task that has not deployed (pending, skipped, failed) exposes
    ``services: Wildcard({"created": False, "updated": False, "deleted": False})``, so
    ``tasks.x.services.anything.created`` is false instead of an error. Both ``w.key`` and
    ``w["key"]`` answer ``default``.
    """

    __slots__ = ("default",)

    def __init__(self, default: Any) -> None:
        self.default = default

    def get(self, key: Any) -> Any:
        """The value of any key."""
        return self.default

    def __repr__(self) -> str:
        return "Wildcard(%r)" % (self.default,)


class ContextObject(dict):
    """A dict exposed as a PHP object whose missing keys raise a chosen message.

    ``missing`` is a template where ``{key}`` is replaced by the key: CP's ``ArrayObject`` says
    ``The key "{key}" does not exist`` (the default, for plain dicts too) when a missing property
    is read (``o.key``); its task list says ``Task "{key}" does not exist``. A missing item
    (``o["key"]``) is ``null`` as in PHP, except with a custom ``missing`` template, which then
    applies to items too. Like a PHP object it is true even when empty.
    """

    __slots__ = ("missing",)

    def __init__(self, *args: Any, missing: str = 'The key "{key}" does not exist',
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.missing = missing


_MISSING_KEY = 'The key "{key}" does not exist'


def _missing_key(container: Any, key: Any) -> ExpressionError:
    template = container.missing if isinstance(container, ContextObject) else _MISSING_KEY
    return ExpressionError(template.replace("{key}", _key_text(key)))


# --------------------------------------------------------------------------------------------
# PHP value semantics
# --------------------------------------------------------------------------------------------

_PHP_INT_MAX = 2 ** 63 - 1
_PHP_INT_MIN = -(2 ** 63)
_TWO_POW_63 = 2.0 ** 63
_TWO_POW_64 = 2.0 ** 64
_NUMERIC_STRING_RE = re.compile(
    r"[ \t\n\r\x0b\x0c]*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER_KEY_RE = re.compile(r"(?:0|-?[1-9][0-9]*)\Z")

_NULL, _BOOL, _INT, _FLOAT, _STRING, _ARRAY, _OBJECT = range(7)
_NUMBER_KINDS = (_INT, _FLOAT)
_TYPE_NAMES = {_NULL: "null", _BOOL: "boolean", _INT: "integer", _FLOAT: "float",
               _STRING: "string", _ARRAY: "array", _OBJECT: "object"}


def _kind(value: Any) -> int:
    if isinstance(value, str):
        return _STRING
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int):
        return _INT
    if isinstance(value, float):
        return _FLOAT
    if isinstance(value, (list, tuple, dict, Mapping)):
        return _ARRAY
    return _OBJECT


def _as_float(value: Union[int, float]) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _int_result(value: int) -> Union[int, float]:
    """PHP ints are 64-bit: results outside the range become floats."""
    if _PHP_INT_MIN <= value <= _PHP_INT_MAX:
        return value
    return _as_float(value)


def _parse_number(text: str) -> Union[int, float]:
    text = text.lstrip(" \t\n\r\x0b\x0c")
    if "." in text or "e" in text or "E" in text:
        return float(text)
    return _int_result(int(text))


def _numeric_string(text: str) -> Optional[Union[int, float]]:
    """The value of a PHP 7 numeric string (``" 12"``, ``"1.5"``, ``"1e3"``), else None."""
    match = _NUMERIC_STRING_RE.match(text)
    if match is None or match.end() != len(text):
        return None
    return _parse_number(match.group(0))


def _string_to_number(text: str) -> Union[int, float]:
    """PHP 7 string to number: the leading numeric part, 0 when there is none."""
    match = _NUMERIC_STRING_RE.match(text)
    return _parse_number(match.group(0)) if match else 0


def _php_float_string(value: float) -> str:
    if math.isnan(value):
        return "NAN"
    if value in (math.inf, -math.inf):
        return "INF" if value > 0 else "-INF"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    text = "%.14G" % value
    if "E" in text:
        mantissa, exponent = text.split("E")
        if "." not in mantissa:
            mantissa += ".0"
        power = int(exponent)
        return "%sE%s%d" % (mantissa, "+" if power >= 0 else "-", abs(power))
    return text


def php_string(value: Any) -> str:
    """PHP's string cast: ``True`` ⇒ ``"1"``, ``False``/``None`` ⇒ ``""``, floats PHP-style.

    Arrays and objects raise :class:`ExpressionError` (PHP would print ``Array``).
    """
    if isinstance(value, str):
        return value
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _php_float_string(value)
    if isinstance(value, (list, tuple, Mapping)):
        raise ExpressionError("Array to string conversion")
    raise ExpressionError("Object of class %s could not be converted to string" % type(value).__name__)


def php_bool(value: Any) -> bool:
    """PHP truthiness: ``""``, ``"0"``, ``0``, ``0.0``, ``None``, ``False`` and ``[]`` are false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value != "" and value != "0"
    if isinstance(value, (ContextObject, Wildcard)):
        return True
    if isinstance(value, (list, tuple, Mapping)):
        return len(value) > 0
    return True


def _key_text(key: Any) -> str:
    try:
        return php_string(key)
    except ExpressionError:
        return "Array" if isinstance(key, (list, tuple, Mapping)) else type(key).__name__


def _php_key(key: Any) -> Union[int, str]:
    """The key PHP uses for an array offset: ``"1"`` ⇒ ``1``, ``true`` ⇒ ``1``, ``null`` ⇒ ``""``."""
    if isinstance(key, str):
        if _INTEGER_KEY_RE.match(key):
            number = int(key)
            if _PHP_INT_MIN <= number <= _PHP_INT_MAX:
                return number
        return key
    if key is None:
        return ""
    if isinstance(key, bool):
        return int(key)
    if isinstance(key, int):
        return key
    if isinstance(key, float):
        return int(key) if math.isfinite(key) else 0
    raise ExpressionError("Illegal offset type")


def _pairs(array: Any) -> List[Tuple[Union[int, str], Any]]:
    if isinstance(array, Mapping):
        return [(_php_key(k), v) for k, v in array.items()]
    return list(enumerate(array))


def _from_pairs(pairs: List[Tuple[Union[int, str], Any]]) -> Union[List[Any], Dict[Any, Any]]:
    if all(isinstance(pair[0], int) and pair[0] == index for index, pair in enumerate(pairs)):
        return [pair[1] for pair in pairs]
    return dict(pairs)


def _lookup(container: Mapping, key: Any) -> Tuple[bool, Any]:
    try:
        if key in container:
            return True, container[key]
    except TypeError:
        raise ExpressionError("Illegal offset type") from None
    normalized = _php_key(key)
    for candidate in (normalized, str(normalized)):
        if candidate in container:
            return True, container[candidate]
    return False, None


def _numbers_equal(a: Union[int, float], b: Union[int, float]) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return _as_float(a) == _as_float(b)
    return a == b


def loose_equals(a: Any, b: Any) -> bool:
    """PHP 7 ``$a == $b``."""
    ka, kb = _kind(a), _kind(b)
    if ka == _NULL and kb == _NULL:
        return True
    if ka == _BOOL or kb == _BOOL:
        return php_bool(a) == php_bool(b)
    if ka == _NULL:
        return b == "" if kb == _STRING else not php_bool(b)
    if kb == _NULL:
        return a == "" if ka == _STRING else not php_bool(a)
    if ka == _STRING and kb == _STRING:
        na, nb = _numeric_string(a), _numeric_string(b)
        if na is not None and nb is not None:
            return _numbers_equal(na, nb)
        return a == b
    if ka in _NUMBER_KINDS and kb in _NUMBER_KINDS:
        return _numbers_equal(a, b)
    if ka in _NUMBER_KINDS and kb == _STRING:
        return _numbers_equal(a, _string_to_number(b))
    if ka == _STRING and kb in _NUMBER_KINDS:
        return _numbers_equal(_string_to_number(a), b)
    if ka == _ARRAY and kb == _ARRAY:
        pa, pb = _pairs(a), dict(_pairs(b))
        if len(pa) != len(pb):
            return False
        return all(k in pb and loose_equals(v, pb[k]) for k, v in pa)
    if ka == _OBJECT and kb == _OBJECT:
        return a is b or (type(a) is type(b) and a == b)
    return False


def identical(a: Any, b: Any) -> bool:
    """PHP ``$a === $b``: same type and value (arrays: same pairs in the same order)."""
    ka, kb = _kind(a), _kind(b)
    if ka != kb:
        return False
    if ka == _ARRAY:
        pa, pb = _pairs(a), _pairs(b)
        return len(pa) == len(pb) and all(
            x[0] == y[0] and type(x[0]) is type(y[0]) and identical(x[1], y[1])
            for x, y in zip(pa, pb))
    if ka == _OBJECT:
        return a is b
    return a == b


def _compare_numbers(a: Union[int, float], b: Union[int, float]) -> int:
    if isinstance(a, float) or isinstance(b, float):
        a, b = _as_float(a), _as_float(b)
    return (a > b) - (a < b)


def _compare(a: Any, b: Any) -> int:
    """PHP 7 ``$a <=> $b`` (uncomparable arrays and objects give 1, like PHP)."""
    ka, kb = _kind(a), _kind(b)
    if ka in _NUMBER_KINDS and kb in _NUMBER_KINDS:
        return _compare_numbers(a, b)
    if ka == _STRING and kb == _STRING:
        na, nb = _numeric_string(a), _numeric_string(b)
        if na is not None and nb is not None:
            return _compare_numbers(na, nb)
        return (a > b) - (a < b)
    if ka == _NULL and kb == _STRING:
        return _compare("", b)
    if ka == _STRING and kb == _NULL:
        return _compare(a, "")
    if ka in (_NULL, _BOOL) or kb in (_NULL, _BOOL):
        return int(php_bool(a)) - int(php_bool(b))
    if ka in _NUMBER_KINDS and kb == _STRING:
        return _compare_numbers(a, _string_to_number(b))
    if ka == _STRING and kb in _NUMBER_KINDS:
        return _compare_numbers(_string_to_number(a), b)
    if ka == _ARRAY and kb == _ARRAY:
        pa, pb = _pairs(a), dict(_pairs(b))
        if len(pa) != len(pb):
            return -1 if len(pa) < len(pb) else 1
        for key, value in pa:
            if key not in pb:
                return 1
            result = _compare(value, pb[key])
            if result:
                return result
        return 0
    if ka == _ARRAY:
        return 1
    if kb == _ARRAY:
        return -1
    return 0 if a is b else 1


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _less(a: Any, b: Any) -> bool:
    if _kind(a) in _NUMBER_KINDS and _kind(b) in _NUMBER_KINDS:
        return _compare_numbers(a, b) < 0 and not (_is_nan(a) or _is_nan(b))
    return _compare(a, b) < 0


def _less_or_equal(a: Any, b: Any) -> bool:
    if _kind(a) in _NUMBER_KINDS and _kind(b) in _NUMBER_KINDS:
        return _compare_numbers(a, b) <= 0 and not (_is_nan(a) or _is_nan(b))
    return _compare(a, b) <= 0


def _greater(left: Any, right: Any) -> bool:
    """PHP compiles ``$a > $b`` as ``$b < $a`` (it matters for uncomparable arrays)."""
    return _less(right, left)


def _greater_or_equal(left: Any, right: Any) -> bool:
    return _less_or_equal(right, left)


def _to_number(value: Any) -> Union[int, float]:
    kind = _kind(value)
    if kind in _NUMBER_KINDS:
        return value
    if kind == _NULL:
        return 0
    if kind == _BOOL:
        return int(value)
    if kind == _STRING:
        return _string_to_number(value)
    raise ExpressionError("Unsupported operand types")


def _to_int(value: Any) -> int:
    """PHP's integer conversion (bitwise operators, ``%``, ``range``)."""
    number = _to_number(value)
    if not isinstance(number, float):
        return number
    if not math.isfinite(number):
        return 0
    if -_TWO_POW_63 <= number < _TWO_POW_63:
        return int(number)
    if isinstance(value, str):  # numeric strings saturate (zend_dval_to_lval_cap)
        return _PHP_INT_MAX if number > 0 else _PHP_INT_MIN
    modulo = math.fmod(number, _TWO_POW_64)  # floats wrap around (zend_dval_to_lval)
    if modulo < 0:
        modulo += _TWO_POW_64
    return int(modulo - _TWO_POW_64 if modulo >= _TWO_POW_63 else modulo)


def _arithmetic(a: Any, b: Any, int_op: Callable[[int, int], int],
                float_op: Callable[[float, float], float]) -> Union[int, float]:
    x, y = _to_number(a), _to_number(b)
    if isinstance(x, int) and isinstance(y, int):
        return _int_result(int_op(x, y))
    return float_op(_as_float(x), _as_float(y))


def _add(a: Any, b: Any) -> Any:
    if _kind(a) == _ARRAY and _kind(b) == _ARRAY:
        union = dict(_pairs(a))
        for key, value in _pairs(b):
            union.setdefault(key, value)
        return _from_pairs(list(union.items()))
    return _arithmetic(a, b, lambda x, y: x + y, lambda x, y: x + y)


def _subtract(a: Any, b: Any) -> Any:
    return _arithmetic(a, b, lambda x, y: x - y, lambda x, y: x - y)


def _multiply(a: Any, b: Any) -> Any:
    return _arithmetic(a, b, lambda x, y: x * y, lambda x, y: x * y)


def _divide(a: Any, b: Any) -> Union[int, float]:
    x, y = _to_number(a), _to_number(b)
    if y == 0:
        raise ExpressionError("Division by zero")
    if isinstance(x, int) and isinstance(y, int) and x % y == 0:
        return _int_result(x // y)
    return _as_float(x) / _as_float(y)


def _modulo(a: Any, b: Any) -> int:
    x, y = _to_int(a), _to_int(b)
    if y == 0:
        raise ExpressionError("Modulo by zero")
    remainder = abs(x) % abs(y)
    return -remainder if x < 0 else remainder


def _power(a: Any, b: Any) -> Union[int, float]:
    base, exponent = _to_number(a), _to_number(b)
    if isinstance(base, int) and isinstance(exponent, int) and exponent >= 0:
        if abs(base) <= 1 or exponent * math.log2(abs(base)) < 64:
            return _int_result(base ** exponent)
        try:
            magnitude = math.pow(_as_float(abs(base)), _as_float(exponent))
        except OverflowError:
            magnitude = math.inf
        return -magnitude if base < 0 and exponent % 2 else magnitude
    x, y = _as_float(base), _as_float(exponent)
    if x == 0 and y < 0:
        return math.inf
    try:
        return math.pow(x, y)
    except OverflowError:
        return -math.inf if x < 0 and y == int(y) and int(y) % 2 else math.inf
    except ValueError:
        return math.nan


def _negate(value: Any) -> Union[int, float]:
    number = _to_number(value)
    return _int_result(-number) if isinstance(number, int) else -number


def _bitwise(a: Any, b: Any, op: Callable[[int, int], int], string_length: Callable[..., int]) -> Any:
    if isinstance(a, str) and isinstance(b, str):
        x, y = _utf8(a), _utf8(b)
        length = string_length(len(x), len(y))
        longer = x if len(x) >= len(y) else y
        data = bytes(op(x[i], y[i]) if i < min(len(x), len(y)) else longer[i] for i in range(length))
        return data.decode("utf-8", "surrogateescape")
    return op(_to_int(a), _to_int(b))


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _concat(a: Any, b: Any) -> str:
    return php_string(a) + php_string(b)


def _in(needle: Any, haystack: Any) -> bool:
    if _kind(haystack) != _ARRAY:
        raise ExpressionError("in_array() expects parameter 2 to be array, %s given"
                              % _TYPE_NAMES[_kind(haystack)])
    values = haystack.values() if isinstance(haystack, Mapping) else haystack
    return any(loose_equals(needle, value) for value in values)


_MAX_RANGE = 100000
#: Elements all the ranges of one evaluation may build together (``[0..99999, 0..99999, …]`` in a
#: 30 KB expression asked for 300 million).
_MAX_RANGE_ELEMENTS = 1000000
#: Elements the ranges of all the evaluations of one load may build together (see start_budget).
_MAX_TOTAL_RANGE_ELEMENTS = 5000000
_EVALUATION = threading.local()


@contextlib.contextmanager
def evaluation_budget():
    """Within it (in this thread) expressions take what they cost from one budget: range elements
    (``_MAX_TOTAL_RANGE_ELEMENTS``) and the CPU time of ``matches`` (``regex_guard.TOTAL_CPU_SECONDS``),
    so that thousands of conditions each just under the limits of one evaluation cannot add up to
    hours. Loading a project and rendering its tasks each run in one; nested, the outer one counts."""
    if getattr(_EVALUATION, "total_range_elements", None) is not None:
        yield
        return
    _EVALUATION.total_range_elements = _MAX_TOTAL_RANGE_ELEMENTS
    regex_guard.start_total()
    try:
        yield
    finally:
        _EVALUATION.total_range_elements = None
        regex_guard.start_total(None)


def _range(low: Any, high: Any) -> List[Any]:
    """PHP ``range($low, $high)`` with a step of 1."""
    if isinstance(low, str) and isinstance(high, str) and low and high:
        nl, nh = _numeric_string(low), _numeric_string(high)
        if isinstance(nl, float) or isinstance(nh, float):
            return _float_range(_as_float(_string_to_number(low)), _as_float(_string_to_number(high)))
        if nl is None and nh is None:
            first, last = _utf8(low)[0], _utf8(high)[0]
            step = 1 if last >= first else -1
            return [bytes([c]).decode("utf-8", "surrogateescape")
                    for c in range(first, last + step, step)]
        return _int_range(_to_int(low), _to_int(high))
    if isinstance(low, float) or isinstance(high, float):
        return _float_range(_as_float(_to_number(low)), _as_float(_to_number(high)))
    return _int_range(_to_int(low), _to_int(high))


def _check_range_size(size: float, low: Any, high: Any) -> None:
    if size > _MAX_RANGE:
        raise ExpressionError("The range %s..%s has more than %d elements"
                              % (php_string(low), php_string(high), _MAX_RANGE))
    built = getattr(_EVALUATION, "range_elements", 0) + int(size)
    _EVALUATION.range_elements = built
    if built > _MAX_RANGE_ELEMENTS:
        raise ExpressionError("The ranges of the expression have more than %d elements together"
                              % _MAX_RANGE_ELEMENTS)
    total = getattr(_EVALUATION, "total_range_elements", None)
    if total is not None:
        _EVALUATION.total_range_elements = total - int(size)
        if total - int(size) < 0:
            raise ExpressionError("The ranges of the project's expressions have more than %d elements together"
                                  % _MAX_TOTAL_RANGE_ELEMENTS)


def _int_range(low: int, high: int) -> List[int]:
    _check_range_size(abs(high - low) + 1, low, high)
    step = 1 if high >= low else -1
    return list(range(low, high + step, step))


def _float_range(low: float, high: float) -> List[float]:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ExpressionError("Invalid range supplied: start=%s end=%s"
                              % (_php_float_string(low), _php_float_string(high)))
    size = math.floor(abs(high - low) + 0.5) + 1
    _check_range_size(size, low, high)
    step = 1.0 if high >= low else -1.0
    values = []
    for i in range(int(size)):
        element = low + i * step
        if (step > 0 and element > high) or (step < 0 and element < high):
            break
        values.append(element)
    return values


# --------------------------------------------------------------------------------------------
# PCRE ("matches")
# --------------------------------------------------------------------------------------------

_HSPACE = "\\t \\xa0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000"
_VSPACE = "\\n\\x0b\\x0c\\r\\x85\\u2028\\u2029"
_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "ascii": "\\x00-\\x7f", "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "\\x21-\\x7e", "lower": "a-z",
    "print": "\\x20-\\x7e", "punct": "\\x21-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7e",
    "space": " \\t\\n\\r\\x0b\\x0c", "upper": "A-Z", "word": "\\w", "xdigit": "0-9A-Fa-f",
}
_BRACKET_DELIMITERS = {"(": ")", "[": "]", "{": "}", "<": ">"}
_PCRE_FLAG_LETTERS = "imsxAD SXUuJ\n"
_QUANTIFIER_RE = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
_INLINE_OPTIONS_RE = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])")
_GROUP_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_POSIX_SYNTAX_RE = re.compile(r"\[([.=:])([^\]]*?)\1\]")


class _RegexError(Exception):
    pass


class _Group:
    __slots__ = ("extended", "wraps")

    def __init__(self, extended: bool) -> None:
        self.extended = extended
        self.wraps: List[str] = []


class _PcreTranslator:
    """Translate a PCRE pattern body (no delimiters) into Python ``re`` syntax."""

    def __init__(self, pattern: str, extended: bool, ungreedy: bool, dollar_end_only: bool) -> None:
        self.p = pattern
        self.n = len(pattern)
        self.ungreedy = ungreedy
        self.dollar_end_only = dollar_end_only
        self.stack = [_Group(extended)]
        self.out: List[str] = []

    def translate(self) -> str:
        p, n, out = self.p, self.n, self.out
        i = 0
        while i < n:
            c = p[i]
            top = self.stack[-1]
            if c == "\\":
                text, i = self._escape(i, in_class=False)
                out.append(text)
            elif c == "[":
                text, i = self._char_class(i)
                out.append(text)
            elif top.extended and c in " \t\n\r\x0b\x0c":
                i += 1
            elif top.extended and c == "#":
                newline = p.find("\n", i)
                i = n if newline < 0 else newline + 1
            elif c == "(":
                i = self._open_group(i)
            elif c == ")":
                if len(self.stack) == 1:
                    raise _RegexError("unmatched closing parenthesis at offset %d" % i)
                group = self.stack.pop()
                out.append(")" * (len(group.wraps) + 1))
                i += 1
            elif c == "|":
                wraps = top.wraps
                out.append(")" * len(wraps) + "|" + "".join(wraps))
                i += 1
            elif c in "*+?":
                out.append(c)
                i = self._quantifier_suffix(i + 1)
            elif c == "{":
                match = _QUANTIFIER_RE.match(p, i)
                if match:
                    out.append(match.group(0))
                    i = self._quantifier_suffix(match.end())
                else:
                    out.append("\\{")
                    i += 1
            elif c == "$" and self.dollar_end_only:
                out.append("\\Z")
                i += 1
            else:
                out.append(re.escape(c) if c in "}]" else c)
                i += 1
        if len(self.stack) > 1:
            raise _RegexError("missing closing parenthesis")
        out.append(")" * len(self.stack[0].wraps))
        return "".join(out)

    def _quantifier_suffix(self, i: int) -> int:
        """After a quantifier: keep ``?`` (lazy) / ``+`` (possessive), inverting under ``/U``."""
        nxt = self.p[i] if i < self.n else ""
        if self.ungreedy:
            if nxt == "?":
                return i + 1
            if nxt == "+":
                self.out.append("+")
                return i + 1
            self.out.append("?")
            return i
        if nxt in ("?", "+"):
            self.out.append(nxt)
            return i + 1
        return i

    def _open_group(self, i: int) -> int:
        p, out, top = self.p, self.out, self.stack[-1]
        if p.startswith("(?#", i):
            end = p.find(")", i)
            if end < 0:
                raise _RegexError("missing ) after (?# comment")
            return end + 1
        if p.startswith("(*", i):
            raise _RegexError("(*VERB) and (*OPTION) items are not supported")
        if not p.startswith("(?", i):
            out.append("(")
            self.stack.append(_Group(top.extended))
            return i + 1
        rest = p[i + 2:i + 3]
        for opener in ("=", "!", "<=", "<!", ">", ":"):
            if p.startswith(opener, i + 2):
                out.append("(?" + opener)
                self.stack.append(_Group(top.extended))
                return i + 2 + len(opener)
        if rest in ("P", "<", "'"):
            return self._named(i)
        if rest == "(":
            return self._conditional(i)
        match = _INLINE_OPTIONS_RE.match(p, i)
        if match is None:
            raise _RegexError("unsupported group syntax at offset %d" % i)
        on, off, end = match.group(1), match.group(2) or "", match.group(3)
        for letter in on + off:
            if letter not in "imsxX":
                raise _RegexError("the inline option (?%s) is not supported" % letter)
        extended = top.extended
        if "x" in on:
            extended = True
        if "x" in off:
            extended = False
        on_flags = "".join(sorted(set(on) & set("ims")))
        off_flags = "".join(sorted(set(off) & set("ims")))
        opener = "(?" + on_flags + ("-" + off_flags if off_flags else "") + ":"
        out.append(opener)
        if end == ":":
            self.stack.append(_Group(extended))
        else:
            top.wraps.append(opener)
            top.extended = extended
        return match.end()

    def _named(self, i: int) -> int:
        p = self.p
        if p.startswith("(?P=", i):
            match = _GROUP_NAME_RE.match(p, i + 4)
            if match is None or not p.startswith(")", match.end()):
                raise _RegexError("bad back reference at offset %d" % i)
            self.out.append("(?P=%s)" % match.group(0))
            return match.end() + 1
        if p.startswith("(?P<", i):
            start, close = i + 4, ">"
        elif p.startswith("(?<", i):
            start, close = i + 3, ">"
        elif p.startswith("(?'", i):
            start, close = i + 3, "'"
        else:
            raise _RegexError("unsupported group syntax at offset %d" % i)
        match = _GROUP_NAME_RE.match(p, start)
        if match is None or not p.startswith(close, match.end()):
            raise _RegexError("bad group name at offset %d" % i)
        self.out.append("(?P<%s>" % match.group(0))
        self.stack.append(_Group(self.stack[-1].extended))
        return match.end() + 1

    def _conditional(self, i: int) -> int:
        p = self.p
        match = re.compile(r"\(\?\((?:([0-9]+)|<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)'|([A-Za-z_]\w*))\)").match(p, i)
        if match is None or match.group(4) in ("R", "DEFINE") or (match.group(4) or "").startswith("R"):
            raise _RegexError("unsupported conditional group at offset %d" % i)
        reference = next(g for g in match.groups() if g is not None)
        self.out.append("(?(%s)" % reference)
        self.stack.append(_Group(self.stack[-1].extended))
        return match.end()

    def _char(self, code: int) -> str:
        if code > 0x10FFFF:
            raise _RegexError("character code point value is too large")
        return re.escape(chr(code))

    def _escape(self, i: int, in_class: bool) -> Tuple[str, int]:
        p, n = self.p, self.n
        if i + 1 >= n:
            raise _RegexError("\\ at end of pattern")
        c = p[i + 1]
        j = i + 2
        if c.isdigit():
            digits = p[i + 1:i + 4]
            octal = re.match(r"[0-7]{1,3}", digits)
            if in_class or c == "0":
                if octal is None:
                    return re.escape(c), j
                return self._char(int(octal.group(0), 8)), i + 1 + len(octal.group(0))
            run = re.match(r"[0-9]{1,2}", digits).group(0)
            return "\\" + run, i + 1 + len(run)
        if c in "dDsSwWnrtfa":
            return "\\" + c, j
        if c == "e":
            return "\\x1b", j
        if c == "x":
            if p.startswith("{", j):
                end = p.find("}", j)
                digits = p[j + 1:end] if end > 0 else ""
                if not digits or not all(ch in "0123456789abcdefABCDEF" for ch in digits):
                    raise _RegexError("bad \\x{...} escape")
                return self._char(int(digits, 16)), end + 1
            match = re.compile(r"[0-9a-fA-F]{0,2}").match(p, j)
            return self._char(int(match.group(0) or "0", 16)), match.end()
        if c == "o" and p.startswith("{", j):
            end = p.find("}", j)
            digits = p[j + 1:end] if end > 0 else ""
            if not digits or not all(ch in "01234567" for ch in digits):
                raise _RegexError("bad \\o{...} escape")
            return self._char(int(digits, 8)), end + 1
        if c == "c":
            if j >= n or not (" " <= p[j] <= "~"):
                raise _RegexError("\\c must be followed by a printable ASCII character")
            return self._char(ord(p[j].upper()) ^ 0x40), j + 1
        if c == "Q":
            end = p.find("\\E", j)
            literal = p[j:] if end < 0 else p[j:end]
            text = "".join(re.escape(ch) for ch in literal)
            return text, (n if end < 0 else end + 2)
        if c == "E":
            return "", j
        if in_class:
            if c == "b":
                return "\\x08", j
            if c == "h":
                return _HSPACE, j
            if c == "v":
                return _VSPACE, j
        else:
            if c in "bBA":
                return "\\" + c, j
            if c == "z":
                return "\\Z", j
            if c == "Z":
                return "(?=\\n?\\Z)", j
            if c == "h":
                return "[" + _HSPACE + "]", j
            if c == "H":
                return "[^" + _HSPACE + "]", j
            if c == "v":
                return "[" + _VSPACE + "]", j
            if c == "V":
                return "[^" + _VSPACE + "]", j
            if c == "R":
                return "(?:\\r\\n|[" + _VSPACE + "])", j
            if c == "N" and not p.startswith("{", j):
                return "[^\\n]", j
            if c in "kg":
                return self._backreference(i)
        if c.isascii() and c.isalnum():
            raise _RegexError("the escape \\%s is not supported" % c)
        return re.escape(c), j

    def _backreference(self, i: int) -> Tuple[str, int]:
        match = re.compile(
            r"\\(?:k<([A-Za-z_]\w*)>|k'([A-Za-z_]\w*)'|k\{([A-Za-z_]\w*)\}|g\{([A-Za-z_]\w*)\}"
            r"|g\{([0-9]+)\}|g([0-9]+))").match(self.p, i)
        if match is None:
            raise _RegexError("unsupported back reference at offset %d" % i)
        name = next(g for g in match.groups() if g is not None)
        return ("\\%s" % name if name.isdigit() else "(?P=%s)" % name), match.end()

    def _char_class(self, i: int) -> Tuple[str, int]:
        p, n = self.p, self.n
        out = ["["]
        j = i + 1
        if j < n and p[j] == "^":
            out.append("^")
            j += 1
        first = True
        while True:
            if j >= n:
                raise _RegexError("missing terminating ] for character class")
            c = p[j]
            if c == "]" and not first:
                out.append("]")
                return "".join(out), j + 1
            first = False
            posix = _POSIX_SYNTAX_RE.match(p, j) if c == "[" else None
            if posix is not None:
                if posix.group(1) != ":":
                    raise _RegexError("POSIX collating elements are not supported")
                if posix.group(2) not in _POSIX_CLASSES:
                    raise _RegexError("unsupported POSIX class [:%s:]" % posix.group(2))
                out.append(_POSIX_CLASSES[posix.group(2)])
                j = posix.end()
            elif c == "\\":
                text, j = self._escape(j, in_class=True)
                out.append(text)
            elif c in "[]&~|":
                out.append("\\" + c)
                j += 1
            else:
                out.append(c)
                j += 1


@functools.lru_cache(maxsize=512)
def _compile_pcre(regex: str) -> Tuple["re.Pattern[str]", bool]:
    """Compile a PHP ``preg_*`` regular expression (with delimiters); returns (pattern, anchored)."""
    start = 0
    while start < len(regex) and regex[start] in " \t\n\r\x0b\x0c":
        start += 1
    if start >= len(regex):
        raise _RegexError("Empty regular expression")
    opening = regex[start]
    if (opening.isascii() and opening.isalnum()) or opening == "\\":
        raise _RegexError("Delimiter must not be alphanumeric or backslash")
    closing = _BRACKET_DELIMITERS.get(opening, opening)
    i, depth = start + 1, 1
    while i < len(regex):
        c = regex[i]
        if c == "\\" and i + 1 < len(regex):
            i += 2
            continue
        if c == closing:
            depth -= 1
            if depth == 0 or closing == opening:
                break
        elif c == opening and closing != opening:
            depth += 1
        i += 1
    else:
        if closing == opening:
            raise _RegexError("No ending delimiter '%s' found" % closing)
        raise _RegexError("No ending matching delimiter '%s' found" % closing)
    body, modifiers = regex[start + 1:i], regex[i + 1:]
    flags = 0
    for modifier in modifiers:
        if modifier not in _PCRE_FLAG_LETTERS:
            raise _RegexError("Unknown modifier '%s'" % modifier)
        if modifier == "J":
            raise _RegexError("the modifier 'J' is not supported")
    if "i" in modifiers:
        flags |= re.IGNORECASE
    if "m" in modifiers:
        flags |= re.MULTILINE
    if "s" in modifiers:
        flags |= re.DOTALL
    if "u" not in modifiers:
        flags |= re.ASCII
    translated = _PcreTranslator(
        body, extended="x" in modifiers, ungreedy="U" in modifiers,
        dollar_end_only="D" in modifiers and "m" not in modifiers).translate()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = re.compile(translated, flags)
    except (re.error, OverflowError, RecursionError, ValueError) as error:
        raise _RegexError("Compilation failed: %s" % error) from None
    try:
        regex_guard.check_pattern(translated, flags)
    except regex_guard.UnsafePattern as error:
        raise _RegexUnsafe(str(error)) from None
    except (re.error, RecursionError, ValueError, TypeError) as error:  # pragma: no cover - compiled above
        raise _RegexError("Compilation failed: %s" % error) from None
    return compiled, "A" in modifiers


class _RegexUnsafe(_RegexError):
    pass


def _shown_pattern(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def _matches(subject: Any, regex: Any) -> int:
    pattern_text = php_string(regex)
    try:
        pattern, anchored = _compile_pcre(pattern_text)
    except _RegexUnsafe as error:
        raise ExpressionError('The regular expression "%s" is refused: %s; write it so that each part of the '
                              'subject can be matched in one way only' % (_shown_pattern(pattern_text), error)) from None
    except _RegexError as error:
        raise ExpressionError('The regular expression "%s" is not valid: %s' % (_shown_pattern(pattern_text), error)) \
            from None
    text = php_string(subject)
    try:
        return 1 if regex_guard.search(pattern, text, anchored) else 0
    except regex_guard.RegexBudgetExceeded as error:
        raise ExpressionError('The regular expression "%s" is refused: %s' % (_shown_pattern(pattern_text),
                                                                              regex_guard.describe(error))) from None


# --------------------------------------------------------------------------------------------
# lexer
# --------------------------------------------------------------------------------------------

_EOF, _NAME, _NUMBER, _STRING_TOKEN, _OPERATOR, _PUNCTUATION = (
    "end of expression", "name", "number", "string", "operator", "punctuation")

_NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_STRING_RE = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"|\'([^\'\\]*(?:\\.[^\'\\]*)*)\'', re.S)
_OPERATOR_RE = re.compile(
    r"not in(?=[ (])|!==|not(?=[ (])|and(?=[ (])|===|>=|or(?=[ (])|<=|\*\*|\.\.|in(?=[ (])"
    r"|&&|\|\||matches|==|!=|\*|~|%|/|>|\||!|\^|&|\+|<|-")
_NAME_RE = re.compile("[a-zA-Z_\x7f-\U0010ffff][a-zA-Z0-9_\x7f-\U0010ffff]*")
_IDENTIFIER_RE = re.compile("[a-zA-Z_\x7f-\U0010ffff]")
_WHITESPACE_TABLE = str.maketrans({"\r": " ", "\n": " ", "\t": " ", "\x0b": " ", "\x0c": " "})
_CLOSING = {"(": ")", "[": "]", "{": "}"}
_SIMPLE_ESCAPES = {"n": 10, "t": 9, "r": 13, "a": 7, "v": 11, "b": 8, "f": 12}


def _normalize_whitespace(source: str) -> str:
    return source.translate(_WHITESPACE_TABLE)


def _stripcslashes(text: str) -> str:
    """PHP ``stripcslashes``: C escapes, octal and hex bytes; other backslashes are dropped."""
    if "\\" not in text:
        return text
    data = bytearray()
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "\\" or i + 1 >= n:
            data += _utf8(c)
            i += 1
            continue
        c = text[i + 1]
        i += 2
        if c in _SIMPLE_ESCAPES:
            data.append(_SIMPLE_ESCAPES[c])
        elif c == "x" and i < n and text[i] in "0123456789abcdefABCDEF":
            digits = text[i]
            if i + 1 < n and text[i + 1] in "0123456789abcdefABCDEF":
                digits += text[i + 1]
            data.append(int(digits, 16))
            i += len(digits)
        elif "0" <= c <= "7":
            digits = c
            while len(digits) < 3 and i < n and "0" <= text[i] <= "7":
                digits += text[i]
                i += 1
            data.append(int(digits, 8) & 0xFF)
        else:
            data += _utf8(c)
    return data.decode("utf-8", "surrogateescape")


class _Token:
    __slots__ = ("type", "value", "pos")

    def __init__(self, type_: str, value: Any, pos: int) -> None:
        self.type = type_
        self.value = value
        self.pos = pos

    def test(self, type_: str, value: Optional[str] = None) -> bool:
        return self.type == type_ and (value is None or self.value == value)

    def __repr__(self) -> str:
        return "_Token(%r, %r, %d)" % (self.type, self.value, self.pos)


def _tokenize(source: str) -> List[_Token]:
    expression = _normalize_whitespace(source)
    tokens: List[_Token] = []
    brackets: List[Tuple[str, int]] = []
    cursor, end = 0, len(expression)
    while cursor < end:
        char = expression[cursor]
        if char == " ":
            cursor += 1
            continue
        match = _NUMBER_RE.match(expression, cursor)
        if match:
            text = match.group(0)
            number: Union[int, float] = float(text)
            if "." not in text and number <= float(_PHP_INT_MAX):
                number = min(int(text), _PHP_INT_MAX)  # PHP's (int) saturates
            tokens.append(_Token(_NUMBER, number, cursor))
            cursor = match.end()
            continue
        if char in "([{":
            brackets.append((char, cursor))
            tokens.append(_Token(_PUNCTUATION, char, cursor))
            cursor += 1
            continue
        if char in ")]}":
            if not brackets:
                raise _syntax_error('Unexpected "%s"' % char, source, cursor, token=False)
            expected, position = brackets.pop()
            if char != _CLOSING[expected]:
                raise _syntax_error('Unclosed "%s"' % expected, source, position, token=False)
            tokens.append(_Token(_PUNCTUATION, char, cursor))
            cursor += 1
            continue
        match = _STRING_RE.match(expression, cursor)
        if match:
            tokens.append(_Token(_STRING_TOKEN, _stripcslashes(match.group(0)[1:-1]), cursor))
            cursor = match.end()
            continue
        match = _OPERATOR_RE.match(expression, cursor)
        if match:
            tokens.append(_Token(_OPERATOR, match.group(0), cursor))
            cursor = match.end()
            continue
        if char in ".,?:":
            tokens.append(_Token(_PUNCTUATION, char, cursor))
            cursor += 1
            continue
        match = _NAME_RE.match(expression, cursor)
        if match:
            tokens.append(_Token(_NAME, match.group(0), cursor))
            cursor = match.end()
            continue
        raise _syntax_error('Unexpected character "%s"' % char, source, cursor, token=False)
    tokens.append(_Token(_EOF, None, end))
    if brackets:
        expected, position = brackets.pop()
        raise _syntax_error('Unclosed "%s"' % expected, source, position, token=False)
    return tokens


# --------------------------------------------------------------------------------------------
# AST and evaluation
# --------------------------------------------------------------------------------------------


class _Env:
    __slots__ = ("values", "functions")

    def __init__(self, values: Mapping[str, Any], functions: Functions) -> None:
        self.values = values
        self.functions = functions


def _located(error: ExpressionError, position: int) -> ExpressionError:
    if error.position is None:
        error.position = position
    return error


class _Node:
    __slots__ = ("pos", "depth")

    def __init__(self, pos: int, *children: "_Node") -> None:
        self.pos = pos
        self.depth = 1 + max((child.depth for child in children), default=0)

    def ev(self, env: _Env) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class _Constant(_Node):
    __slots__ = ("value",)

    def __init__(self, value: Any, pos: int) -> None:
        super().__init__(pos)
        self.value = value

    def ev(self, env: _Env) -> Any:
        return self.value


class _Name(_Node):
    __slots__ = ("name",)

    def __init__(self, name: str, pos: int) -> None:
        super().__init__(pos)
        self.name = name

    def ev(self, env: _Env) -> Any:
        return env.values[self.name]


class _ArrayLiteral(_Node):
    __slots__ = ("items",)

    def __init__(self, items: List[_Node], pos: int) -> None:
        super().__init__(pos, *items)
        self.items = items

    def ev(self, env: _Env) -> Any:
        return [item.ev(env) for item in self.items]


class _HashLiteral(_Node):
    __slots__ = ("pairs",)

    def __init__(self, pairs: List[Tuple[_Node, _Node]], pos: int) -> None:
        super().__init__(pos, *[node for pair in pairs for node in pair])
        self.pairs = pairs

    def ev(self, env: _Env) -> Any:
        result: Dict[Union[int, str], Any] = {}
        for key, value in self.pairs:
            try:
                php_key = _php_key(key.ev(env))
            except ExpressionError as error:
                raise _located(error, key.pos)
            result[php_key] = value.ev(env)
        return _from_pairs(list(result.items()))


class _Property(_Node):
    __slots__ = ("node", "name")

    def __init__(self, node: _Node, name: str, pos: int) -> None:
        super().__init__(pos, node)
        self.node = node
        self.name = name

    def ev(self, env: _Env) -> Any:
        obj = self.node.ev(env)
        if isinstance(obj, dict) or (not isinstance(obj, Wildcard) and isinstance(obj, Mapping)):
            if self.name in obj:
                return obj[self.name]
            raise _located(_missing_key(obj, self.name), self.pos)
        if isinstance(obj, Wildcard):
            return obj.default
        raise ExpressionError("Unable to get a property on a non-object.", position=self.pos)


class _MethodCall(_Node):
    __slots__ = ("node", "name", "args")

    def __init__(self, node: _Node, name: str, args: List[_Node], pos: int) -> None:
        super().__init__(pos, node, *args)
        self.node = node
        self.name = name
        self.args = args

    def ev(self, env: _Env) -> Any:
        obj = self.node.ev(env)
        if not isinstance(obj, (Mapping, Wildcard)):
            raise ExpressionError("Unable to get a property on a non-object.", position=self.pos)
        raise ExpressionError('Unable to call method "%s" of object "%s".'
                              % (self.name, type(obj).__name__), position=self.pos)


class _Item(_Node):
    __slots__ = ("node", "key")

    def __init__(self, node: _Node, key: _Node, pos: int) -> None:
        super().__init__(pos, node, key)
        self.node = node
        self.key = key

    def ev(self, env: _Env) -> Any:
        obj = self.node.ev(env)
        key = self.key.ev(env)
        try:
            if isinstance(obj, Wildcard):
                return obj.default
            if isinstance(obj, Mapping):
                found, value = _lookup(obj, key)
                if found:
                    return value
                if isinstance(obj, ContextObject) and obj.missing != _MISSING_KEY:
                    raise _missing_key(obj, key)
                return None  # PHP: "Undefined index" notice, then null
            if isinstance(obj, (list, tuple)):
                index = _php_key(key)
                if isinstance(index, int) and 0 <= index < len(obj):
                    return obj[index]
                return None
            raise ExpressionError("Unable to get an item on a non-array.")
        except ExpressionError as error:
            raise _located(error, self.pos)


class _FunctionCall(_Node):
    __slots__ = ("name", "args")

    def __init__(self, name: str, args: List[_Node], pos: int) -> None:
        super().__init__(pos, *args)
        self.name = name
        self.args = args

    def ev(self, env: _Env) -> Any:
        function = env.functions[self.name]
        args = [arg.ev(env) for arg in self.args]
        try:
            return function(*args)
        except ExpressionError as error:
            raise _located(error, self.pos)
        except Exception as error:  # a caller-provided function failed: report it as ours
            raise ExpressionError('Error while calling the function "%s": %s' % (self.name, error),
                                  position=self.pos) from error


class _Unary(_Node):
    __slots__ = ("operator", "node")

    def __init__(self, operator: str, node: _Node, pos: int) -> None:
        super().__init__(pos, node)
        self.operator = operator
        self.node = node

    def ev(self, env: _Env) -> Any:
        value = self.node.ev(env)
        if self.operator in ("not", "!"):
            return not php_bool(value)
        if self.operator == "-":
            try:
                return _negate(value)
            except ExpressionError as error:
                raise _located(error, self.pos)
        return value


class _And(_Node):
    __slots__ = ("left", "right")

    def __init__(self, left: _Node, right: _Node, pos: int) -> None:
        super().__init__(pos, left, right)
        self.left = left
        self.right = right

    def ev(self, env: _Env) -> Any:
        return php_bool(self.left.ev(env)) and php_bool(self.right.ev(env))


class _Or(_And):
    __slots__ = ()

    def ev(self, env: _Env) -> Any:
        return php_bool(self.left.ev(env)) or php_bool(self.right.ev(env))


_BINARY_OPERATORS: Dict[str, Callable[[Any, Any], Any]] = {
    "|": lambda a, b: _bitwise(a, b, lambda x, y: x | y, max),
    "^": lambda a, b: _bitwise(a, b, lambda x, y: x ^ y, min),
    "&": lambda a, b: _bitwise(a, b, lambda x, y: x & y, min),
    "==": loose_equals,
    "===": identical,
    "!=": lambda a, b: not loose_equals(a, b),
    "!==": lambda a, b: not identical(a, b),
    "<": _less,
    ">": _greater,
    "<=": _less_or_equal,
    ">=": _greater_or_equal,
    "in": _in,
    "not in": lambda a, b: not _in(a, b),
    "matches": _matches,
    "..": _range,
    "+": _add,
    "-": _subtract,
    "~": _concat,
    "*": _multiply,
    "/": _divide,
    "%": _modulo,
    "**": _power,
}


class _Binary(_Node):
    __slots__ = ("operator", "left", "right", "function")

    def __init__(self, operator: str, left: _Node, right: _Node, pos: int) -> None:
        super().__init__(pos, left, right)
        self.operator = operator
        self.left = left
        self.right = right
        self.function = _BINARY_OPERATORS[operator]

    def ev(self, env: _Env) -> Any:
        left = self.left.ev(env)
        right = self.right.ev(env)
        try:
            return self.function(left, right)
        except ExpressionError as error:
            raise _located(error, self.pos)


class _Conditional(_Node):
    __slots__ = ("condition", "then", "otherwise")

    def __init__(self, condition: _Node, then: _Node, otherwise: _Node, pos: int) -> None:
        super().__init__(pos, condition, then, otherwise)
        self.condition = condition
        self.then = then
        self.otherwise = otherwise

    def ev(self, env: _Env) -> Any:
        if php_bool(self.condition.ev(env)):
            return self.then.ev(env)
        return self.otherwise.ev(env)


# --------------------------------------------------------------------------------------------
# parser (Symfony\Component\ExpressionLanguage\Parser, 3.4)
# --------------------------------------------------------------------------------------------

_UNARY_PRECEDENCE = {"not": 50, "!": 50, "-": 500, "+": 500}
_BINARY_PRECEDENCE = {
    "or": 10, "||": 10, "and": 15, "&&": 15, "|": 16, "^": 17, "&": 18,
    "==": 20, "===": 20, "!=": 20, "!==": 20, "<": 20, ">": 20, ">=": 20, "<=": 20,
    "not in": 20, "in": 20, "matches": 20, "..": 25, "+": 30, "-": 30, "~": 40,
    "*": 60, "/": 60, "%": 60, "**": 200,
}
_RIGHT_ASSOCIATIVE = frozenset(["**"])
_CONSTANTS = {"true": True, "TRUE": True, "false": False, "FALSE": False, "null": None, "NULL": None}
#: Deepest AST / most nested sub-expressions accepted: far beyond any real expression, well
#: within Python's recursion limit (the parser and the evaluator are recursive).
MAX_DEPTH = 200
MAX_NESTING = 100


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0
        self.current = self.tokens[0]
        self.nesting = 0
        # (kind, name, position) of every variable and function, in source order
        self.references: List[Tuple[str, str, int]] = []

    # TokenStream -----------------------------------------------------------------------------

    def _error(self, message: str, token: _Token) -> ExpressionSyntaxError:
        return _syntax_error(message, self.source, token.pos)

    def next(self) -> None:
        self.index += 1
        if self.index >= len(self.tokens):
            self.index -= 1
            raise self._error("Unexpected end of expression", self.current)
        self.current = self.tokens[self.index]

    def expect(self, type_: str, value: Optional[str] = None, message: Optional[str] = None) -> None:
        token = self.current
        if not token.test(type_, value):
            raise self._error('%sUnexpected token "%s" of value "%s" ("%s" expected%s)' % (
                message + ". " if message else "", token.type, _token_text(token), type_,
                ' with value "%s"' % value if value else ""), token)
        self.next()

    # grammar --------------------------------------------------------------------------------

    def parse(self) -> _Node:
        try:
            node = self.parse_expression()
            if self.current.type != _EOF:
                raise self._error('Unexpected token "%s" of value "%s"'
                                  % (self.current.type, _token_text(self.current)), self.current)
        except ExpressionSyntaxError as error:
            error.references = tuple(self.references)
            raise
        return node

    def _checked(self, node: _Node) -> _Node:
        if node.depth > MAX_DEPTH:
            raise _syntax_error("Expression nested too deeply (more than %d levels)" % MAX_DEPTH,
                                self.source, node.pos)
        return node

    def parse_expression(self, precedence: int = 0) -> _Node:
        if self.nesting >= MAX_NESTING:
            raise self._error("Expression nested too deeply (more than %d levels)" % MAX_NESTING,
                              self.current)
        self.nesting += 1
        expr = self._parse_expression(precedence)
        self.nesting -= 1
        return expr

    def _parse_expression(self, precedence: int) -> _Node:
        expr = self.get_primary()
        token = self.current
        while (token.type == _OPERATOR and token.value in _BINARY_PRECEDENCE
               and _BINARY_PRECEDENCE[token.value] >= precedence):
            operator = token.value
            op_precedence = _BINARY_PRECEDENCE[operator]
            self.next()
            right = self.parse_expression(
                op_precedence if operator in _RIGHT_ASSOCIATIVE else op_precedence + 1)
            if operator in ("and", "&&"):
                expr = _And(expr, right, token.pos)
            elif operator in ("or", "||"):
                expr = _Or(expr, right, token.pos)
            else:
                expr = _Binary(operator, expr, right, token.pos)
            self._checked(expr)
            token = self.current
        if precedence == 0:
            return self.parse_conditional(expr)
        return expr

    def get_primary(self) -> _Node:
        token = self.current
        if token.type == _OPERATOR and token.value in _UNARY_PRECEDENCE:
            self.next()
            operand = self.parse_expression(_UNARY_PRECEDENCE[token.value])
            return self.parse_postfix(self._checked(_Unary(token.value, operand, token.pos)))
        if token.test(_PUNCTUATION, "("):
            self.next()
            expr = self.parse_expression()
            self.expect(_PUNCTUATION, ")", "An opened parenthesis is not properly closed")
            return self.parse_postfix(expr)
        return self.parse_primary()

    def parse_conditional(self, expr: _Node) -> _Node:
        while self.current.test(_PUNCTUATION, "?"):
            position = self.current.pos
            self.next()
            if not self.current.test(_PUNCTUATION, ":"):
                then = self.parse_expression()
                if self.current.test(_PUNCTUATION, ":"):
                    self.next()
                    otherwise = self.parse_expression()
                else:
                    otherwise = _Constant(None, position)
            else:
                self.next()
                then = expr
                otherwise = self.parse_expression()
            expr = self._checked(_Conditional(expr, then, otherwise, position))
        return expr

    def parse_primary(self) -> _Node:
        token = self.current
        if token.type == _NAME:
            self.next()
            if token.value in _CONSTANTS:
                return _Constant(_CONSTANTS[token.value], token.pos)
            if self.current.value == "(":
                self.references.append(("function", token.value, token.pos))
                node: _Node = _FunctionCall(token.value, self.parse_arguments(), token.pos)
            else:
                self.references.append(("name", token.value, token.pos))
                node = _Name(token.value, token.pos)
        elif token.type in (_NUMBER, _STRING_TOKEN):
            self.next()
            return _Constant(token.value, token.pos)
        elif token.test(_PUNCTUATION, "["):
            node = self.parse_array()
        elif token.test(_PUNCTUATION, "{"):
            node = self.parse_hash()
        else:
            raise self._error('Unexpected token "%s" of value "%s"'
                              % (token.type, _token_text(token)), token)
        return self.parse_postfix(self._checked(node))

    def parse_array(self) -> _Node:
        position = self.current.pos
        self.expect(_PUNCTUATION, "[", "An array element was expected")
        items: List[_Node] = []
        while not self.current.test(_PUNCTUATION, "]"):
            if items:
                self.expect(_PUNCTUATION, ",", "An array element must be followed by a comma")
                if self.current.test(_PUNCTUATION, "]"):
                    break
            items.append(self.parse_expression())
        self.expect(_PUNCTUATION, "]", "An opened array is not properly closed")
        return _ArrayLiteral(items, position)

    def parse_hash(self) -> _Node:
        position = self.current.pos
        self.expect(_PUNCTUATION, "{", "A hash element was expected")
        pairs: List[Tuple[_Node, _Node]] = []
        while not self.current.test(_PUNCTUATION, "}"):
            if pairs:
                self.expect(_PUNCTUATION, ",", "A hash value must be followed by a comma")
                if self.current.test(_PUNCTUATION, "}"):
                    break
            current = self.current
            if current.type in (_STRING_TOKEN, _NAME, _NUMBER):
                key: _Node = _Constant(current.value, current.pos)
                self.next()
            elif current.test(_PUNCTUATION, "("):
                key = self.parse_expression()
            else:
                raise self._error(
                    'A hash key must be a quoted string, a number, a name, or an expression '
                    'enclosed in parentheses (unexpected token "%s" of value "%s"'
                    % (current.type, _token_text(current)), current)
            self.expect(_PUNCTUATION, ":", "A hash key must be followed by a colon (:)")
            pairs.append((key, self.parse_expression()))
        self.expect(_PUNCTUATION, "}", "An opened hash is not properly closed")
        return _HashLiteral(pairs, position)

    def parse_postfix(self, node: _Node) -> _Node:
        token = self.current
        while token.type == _PUNCTUATION:
            if token.value == ".":
                self.next()
                token = self.current
                self.next()
                if token.type != _NAME and (
                        token.type != _OPERATOR or not _IDENTIFIER_RE.match(token.value)):
                    raise self._error("Expected name", token)
                if self.current.test(_PUNCTUATION, "("):
                    node = _MethodCall(node, token.value, self.parse_arguments(), token.pos)
                else:
                    node = _Property(node, token.value, token.pos)
            elif token.value == "[":
                self.next()
                key = self.parse_expression()
                self.expect(_PUNCTUATION, "]")
                node = _Item(node, key, token.pos)
            else:
                break
            self._checked(node)
            token = self.current
        return node

    def parse_arguments(self) -> List[_Node]:
        args: List[_Node] = []
        self.expect(_PUNCTUATION, "(", "A list of arguments must begin with an opening parenthesis")
        while not self.current.test(_PUNCTUATION, ")"):
            if args:
                self.expect(_PUNCTUATION, ",", "Arguments must be separated by a comma")
            args.append(self.parse_expression())
        self.expect(_PUNCTUATION, ")", "A list of arguments must be closed by a parenthesis")
        return args


def _token_text(token: _Token) -> str:
    return "" if token.value is None else php_string(token.value)


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


class Expression:
    """A parsed expression: evaluate it any number of times with different contexts.

    ``names`` are the top-level variables it reads and ``functions`` the functions it calls, both
    in order of first appearance.
    """

    __slots__ = ("source", "names", "functions", "_root", "_references")

    def __init__(self, source: str, root: _Node, references: Sequence[Tuple[str, str, int]]) -> None:
        self.source = source
        self._root = root
        self._references = tuple(references)
        # .names / .functions double as the fast "is everything defined?" check of evaluate()
        self.names = tuple(dict.fromkeys(ref[1] for ref in references if ref[0] == "name"))
        self.functions = tuple(dict.fromkeys(ref[1] for ref in references if ref[0] == "function"))

    def __repr__(self) -> str:
        return "Expression(%r)" % self.source

    def validate(self, names: Optional[Iterable[str]] = None,
                 functions: Optional[Iterable[str]] = None) -> "Expression":
        """Raise Symfony's parse-time errors for unknown variables / functions (None: not checked).

        ``Variable "x" is not valid around position N for expression `…`.`` and ``The function
        "x" does not exist around position N …``, with Symfony's "Did you mean" suggestions.
        """
        _validate_references(self.source, self._references, names, functions)
        return self

    def evaluate(self, context: Optional[Mapping[str, Any]] = None,
                 functions: Optional[Functions] = None) -> Any:
        """Evaluate with ``context`` (variable name ⇒ value) and ``functions`` (name ⇒ callable).

        Functions are called with the evaluated arguments only. Unknown variables or functions
        raise :class:`ExpressionSyntaxError` (Symfony checks them while parsing), anything else
        that goes wrong :class:`ExpressionError`.
        """
        values: Mapping[str, Any] = {} if context is None else context
        callables: Functions = {} if functions is None else functions
        for name in self.names:
            if name not in values:
                self.validate(values.keys(), callables.keys())
        for name in self.functions:
            if name not in callables:
                self.validate(values.keys(), callables.keys())
        outer = getattr(_EVALUATION, "range_elements", None)
        _EVALUATION.range_elements = 0
        try:
            return self._root.ev(_Env(values, callables))
        except ExpressionError as error:
            if error.expression is None:
                error.expression = self.source
            raise
        except RecursionError:
            raise ExpressionError("Expression nested too deeply", self.source) from None
        finally:
            _EVALUATION.range_elements = outer or 0


def _validate_references(source: str, references: Iterable[Tuple[str, str, int]],
                         names: Optional[Iterable[str]], functions: Optional[Iterable[str]]) -> None:
    known_names = None if names is None else [str(name) for name in names]
    known_functions = None if functions is None else [str(name) for name in functions]
    for kind, name, position in references:
        if kind == "name" and known_names is not None and name not in known_names:
            raise _syntax_error('Variable "%s" is not valid' % name, source, position,
                                subject=name, proposals=sorted(known_names))
        if kind == "function" and known_functions is not None and name not in known_functions:
            raise _syntax_error('The function "%s" does not exist' % name, source, position,
                                subject=name, proposals=known_functions)


@functools.lru_cache(maxsize=4096)
def _parse_cached(source: str) -> Expression:
    parser = _Parser(source)
    try:
        root = parser.parse()
    except RecursionError:
        raise ExpressionSyntaxError("Expression nested too deeply", source) from None
    return Expression(source, root, parser.references)


def _source_text(source: Any) -> str:
    if isinstance(source, str):
        return source
    if source is None or isinstance(source, (bool, int, float)):
        return php_string(source)  # Symfony casts the expression to a string
    raise TypeError("An expression must be a string, not %s" % type(source).__name__)


def parse(source: str, names: Optional[Iterable[str]] = None,
          functions: Optional[Iterable[str]] = None) -> Expression:
    """Parse ``source`` (cached); raise :class:`ExpressionSyntaxError` when it is not valid.

    With ``names`` and/or ``functions``, unknown variables / functions are reported now too (as
    Symfony does at parse time), so a configuration can be validated before any tide runs.
    """
    text = _source_text(source)
    try:
        expression = _parse_cached(text)
    except ExpressionSyntaxError as error:
        # Symfony checks names while parsing: an unknown one met before the error wins.
        if names is not None or functions is not None:
            _validate_references(text, error.references, names, functions)
        raise
    if names is not None or functions is not None:
        expression.validate(names, functions)
    return expression


def evaluate(source: str, context: Optional[Mapping[str, Any]] = None,
             functions: Optional[Functions] = None) -> Any:
    """Parse (cached) and evaluate ``source``: ``ExpressionLanguage::evaluate()``."""
    values: Mapping[str, Any] = {} if context is None else context
    callables: Functions = {} if functions is None else functions
    text = _source_text(source)
    try:
        expression = _parse_cached(text)
    except ExpressionSyntaxError as error:
        _validate_references(text, error.references, values.keys(), callables.keys())
        raise
    return expression.evaluate(values, callables)


def to_bool_filter(value: Any, source: str) -> bool:
    """What CP's ``Filter::evaluates`` does with a filter's value: ints become booleans,
    anything else than a boolean is an error (``Expression "…" is not valid as it does not return
    a boolean``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    raise ExpressionError('Expression "%s" is not valid as it does not return a boolean' % source,
                          source)


# --------------------------------------------------------------------------------------------
# functions and contexts per location (docs/behaviour.md §6.6)
# --------------------------------------------------------------------------------------------

_NOT_GIVEN = object()


def _string_argument(value: Any, function: str, index: int) -> str:
    if value is _NOT_GIVEN:
        raise ExpressionError("Too few arguments to function %s()" % function)
    if _kind(value) in (_STRING, _INT, _FLOAT, _BOOL):
        return php_string(value)
    raise ExpressionError("Argument %d passed to %s() must be of the type string, %s given"
                          % (index, function, _TYPE_NAMES[_kind(value)]))


def _int_argument(value: Any, function: str, index: int) -> int:
    if value is _NOT_GIVEN:
        raise ExpressionError("Too few arguments to function %s()" % function)
    kind = _kind(value)
    if kind in (_INT, _BOOL) or (kind == _FLOAT and math.isfinite(value)):
        return int(value)
    if kind == _STRING and _NUMERIC_STRING_RE.match(value):
        return _to_int(value)
    raise ExpressionError("Argument %d passed to %s() must be of the type integer, %s given"
                          % (index, function, _TYPE_NAMES[kind]))


def _slugify_function(hostname: Any = _NOT_GIVEN, *_ignored: Any) -> str:
    """``slugify(text)`` of CP's ``DomainNameExpressions`` (cocur/slugify 1.4.1)."""
    return _naming_slugify(_string_argument(hostname, "slugify", 1))


def _hash_long_domain_prefix_function(host_prefix: Any = _NOT_GIVEN, max_length: Any = _NOT_GIVEN,
                                      *_ignored: Any) -> str:
    """``hash_long_domain_prefix(text, max_length)`` of CP's ``DomainNameExpressions``."""
    prefix = _string_argument(host_prefix, "hash_long_domain_prefix", 1)
    return _naming_hash_long_domain_prefix(prefix, _int_argument(max_length, "hash_long_domain_prefix", 2))


#: Functions of context C1 (variables' ``condition``/``expression``, ``host.expression``).
C1_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "slugify": _slugify_function,
    "hash_long_domain_prefix": _hash_long_domain_prefix_function,
}
#: Contexts C2 (service/endpoint conditions), C3 (``environment.name``), C6 (top-level filter).
NO_FUNCTIONS: Mapping[str, Callable[..., Any]] = {}


def _glob_star(match: "re.Match[str]") -> str:
    """A run of escaped ``*``: ``*`` is ``[^/]*``, two or more are ``.*`` (``***`` is ``**``)."""
    return "[^/]*" if len(match.group(0)) == 2 else ".*"


def has_changes_for_files_function(changed_files: Optional[Iterable[str]]) -> Callable[..., bool]:
    """``has_changes_for_files(glob | [globs])`` of C4/C5 over a known list of changed files.

    ``changed_files`` None means "no previous tide on the default branch": always true, as CP
    does. Globs: ``**`` matches anything, ``*`` anything but ``/``, the whole path must match.
    """
    files = None if changed_files is None else list(changed_files)

    def has_changes_for_files(globs: Any = _NOT_GIVEN, *_ignored: Any) -> bool:
        if globs is _NOT_GIVEN:
            raise ExpressionError("Too few arguments to function has_changes_for_files()")
        if files is None:
            return True
        patterns = globs.values() if isinstance(globs, Mapping) else \
            globs if isinstance(globs, (list, tuple)) else [globs]
        for glob in patterns:
            regex = "^%s$" % re.sub(r"(?:\\\*)+", _glob_star, re.escape(php_string(glob)))
            compiled = re.compile(regex)
            try:
                if any(regex_guard.search(compiled, path) for path in files):
                    return True
            except regex_guard.RegexBudgetExceeded as error:
                raise ExpressionError('has_changes_for_files("%s"): %s' % (_shown_pattern(php_string(glob)),
                                                                           regex_guard.describe(error))) from None
        return False

    return has_changes_for_files


def flow_context(flow_uuid: str, branch: str, sha: str) -> Dict[str, Any]:
    """Context C1: ``code_reference.{branch,sha}`` and ``flow.uuid``."""
    return {
        "code_reference": ContextObject(branch=branch, sha=sha),
        "flow": ContextObject(uuid=str(flow_uuid)),
    }


def condition_context(branch: str, sha: str) -> Dict[str, Any]:
    """Context C2 (deploy service and endpoint ``condition``): ``code_reference`` only."""
    return {"code_reference": ContextObject(branch=branch, sha=sha)}


def pull_request_context(number: int = 0, title: str = "",
                         labels: Iterable[str] = ()) -> ContextObject:
    """``pull_request``: ``{number: 0, title: '', labels: []}`` when the branch has no PR."""
    return ContextObject(number=number, title=title, labels=list(labels))


def deploy_task_context(services: Optional[Mapping[str, Mapping[str, bool]]] = None) -> ContextObject:
    """What a deploy task exposes as ``tasks.<id>``.

    ``services`` maps each deployed component to ``{created, updated, deleted}``; None (the task
    has not deployed successfully) answers any service with all three false.
    """
    if services is None:
        exposed: Any = Wildcard(ContextObject(created=False, updated=False, deleted=False))
    else:
        exposed = ContextObject({name: ContextObject(status) for name, status in services.items()})
    return ContextObject(services=exposed)


def tide_context(flow_uuid: str, branch: str, sha: str,
                 pull_request: Optional[Mapping[str, Any]] = None,
                 tasks: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Contexts C3, C4, C5, C6: ``code_reference``, ``flow``, ``pull_request`` and ``tasks``.

    ``tasks`` (task id ⇒ :func:`deploy_task_context` or another task's exposed object) is left out
    when None (pipeline conditions, C5); an unknown task id raises ``Task "x" does not exist``.
    """
    context = flow_context(flow_uuid, branch, sha)
    context["pull_request"] = pull_request_context() if pull_request is None \
        else ContextObject(pull_request)
    if tasks is not None:
        context["tasks"] = ContextObject(tasks, missing='Task "{key}" does not exist')
    return context
