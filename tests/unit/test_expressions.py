# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Symfony ExpressionLanguage 3.4 subset ContinuousPipe evaluates (docs/behaviour.md §6.6).

Expected values and messages were checked against Symfony ExpressionLanguage v3.4.8 itself where
PHP 7 and PHP 8 agree; the PHP 7 loose comparisons (``0 == "abc"``) follow the PHP 7 manual.
"""
from __future__ import annotations

import math
import os

import pytest
import yaml

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import expressions
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.expressions import (
    C1_FUNCTIONS,
    ContextObject,
    ExpressionError,
    ExpressionSyntaxError,
    Wildcard,
    evaluate,
    parse,
)

ZERO_UUID = "00000000-0000-0000-0000-000000000000"

CONTEXT = {
    "code_reference": ContextObject(branch="cpdev/feature", sha="abc123"),
    "flow": ContextObject(uuid=ZERO_UUID),
    "pull_request": ContextObject(number=12, title="WIP: something", labels=["Ready for QA", "wip"]),
    "n": 3,
    "s": "12",
    "items": [1, "two", None],
    "hash": {"a": 1, "b-c": 2, "1": "one"},
    "nested": {"deep": {"x": [10, 20]}},
}
FUNCTIONS = dict(C1_FUNCTIONS)

CASES = [
    # literals
    ("'single'", "single"),
    ('"double"', "double"),
    (r'"a\"b"', 'a"b'),
    (r"'it\'s'", "it's"),
    (r'"tab\there"', "tab\there"),
    (r'"\x41\101"', "AA"),
    (r'"\d"', "d"),  # stripcslashes drops the backslash of unknown escapes
    ("42", 42),
    ("1.5", 1.5),
    ("007", 7),
    ("9223372036854775808", 9223372036854775807),  # PHP's (int) saturates
    ("true", True),
    ("TRUE", True),
    ("false", False),
    ("null", None),
    ("NULL", None),
    ("[1, 'a', null]", [1, "a", None]),
    ("[1, 2,]", [1, 2]),
    ("{a: 1, 'b': 2, 3: 'c'}", {"a": 1, "b": 2, 3: "c"}),
    ("{0: 'a', 1: 'b'}", ["a", "b"]),
    ("{(1 + 1): 'two', '3': 'three'}", {2: "two", 3: "three"}),
    ("[]", []),
    # access
    ("code_reference.branch", "cpdev/feature"),
    ("hash['b-c']", 2),
    ("hash[1]", "one"),
    ("items[1]", "two"),
    ("items['1']", "two"),
    ("nested.deep.x[1]", 20),
    ("[10, 20, 30][2]", 30),
    ("{a: {b: 'c'}}['a']['b']", "c"),
    ("items[5]", None),  # PHP: notice "Undefined offset", then null
    ("hash['zz']", None),
    ("pull_request['labels'][1]", "wip"),
    # arithmetic and precedence
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("10 - 2 - 3", 5),
    ("2 ** 3 ** 2", 512),
    ("-2 ** 2", 4),
    ("7 / 2", 3.5),
    ("6 / 3", 2),
    ("7 % 3", 1),
    ("-7 % 3", -1),
    ("7 % -3", 1),
    ("7.9 % 3", 1),
    ("+n", 3),
    ("-n", -3),
    ("s + 1", 13),
    ("'1.5' + 1", 2.5),
    ("9223372036854775807 + 1", 9.223372036854776e18),
    ("[1, 2] + [3, 4, 5]", [1, 2, 5]),
    ("1 ~ 2 + 3", 15),
    ("'a' ~ 'b' ~ 'c'", "abc"),
    ("'x' ~ true ~ false ~ null ~ 1.0 ~ 0.5", "x110.5"),
    ("'' ~ (0.1 + 0.2)", "0.3"),
    ("'' ~ 10 ** 20", "1.0E+20"),
    ("'' ~ (1 / 3)", "0.33333333333333"),
    ("'' ~ -1.5", "-1.5"),
    ("5 | 3", 7),
    ("5 & 3", 1),
    ("5 ^ 3", 6),
    ("1 | 2 ^ 3 & 4", 3),
    # PHP 7 loose and strict comparisons
    ("'1' == '01'", True),
    ("'10' == '1e1'", True),
    ("100 == '1e2'", True),
    ("0 == 'abc'", True),
    ("'abc' == 0", True),
    ("'1abc' == 1", True),
    ("null == false", True),
    ("null == ''", True),
    ("null == '0'", False),
    ("null == 0", True),
    ("null == []", True),
    ("'abc' == 'ABC'", False),
    ("'abc' == 'abc '", False),
    ("1 === 1", True),
    ("1 === 1.0", False),
    ("'1' === 1", False),
    ("1 == 1.0", True),
    ("[1, 2] == ['1', '2']", True),
    ("[1, 2] === ['1', '2']", False),
    ("[1, 2] == [2, 1]", False),
    ("1 != 2", True),
    ("1 !== '1'", True),
    ("'2' < '10'", True),
    ("'abc' < 'abd'", True),
    ("'a' < 'B'", False),
    ("3 >= 3", True),
    ("3 > 3", False),
    ("null < 1", True),
    ("true > false", True),
    # in / not in (in_array, loose)
    ("'wip' in pull_request.labels", True),
    ("'WIP' in pull_request.labels", False),
    ("'wip' not in pull_request.labels", False),
    ("1 in ['1', 2]", True),
    ("0 in ['a']", True),
    ("'1e1' in ['10']", True),
    ("code_reference.branch in ['master', 'develop']", False),
    ("code_reference.branch not in ['master', 'develop']", True),
    ("1 in {a: 1}", True),
    ("2 in 1..3", True),
    # matches (preg_match: 1 or 0)
    ("code_reference.branch matches '/^cpdev/'", 1),
    ("code_reference.branch matches '#^cpdev/#'", 1),
    ("code_reference.branch matches '/^CPDEV/'", 0),
    ("code_reference.branch matches '/^CPDEV/i'", 1),
    ("'feature/x' matches '/^feature\\\\/x$/'", 1),
    ('"a\\nb" matches "/^b$/m"', 1),
    ('"a\\nb" matches "/^b$/"', 0),
    ('"a\\nb" matches "/a.b/s"', 1),
    ('"a\\nb" matches "/a.b/"', 0),
    ("'ab' matches '/a b/x'", 1),
    ("'ab' matches '/a # comment\nb/x'", 1),
    ("'ab' matches '~A~i'", 1),
    ("'ab' matches '{^a}'", 1),
    ("'ab' matches '(b)'", 1),
    ("'abc' matches '/b/A'", 0),
    ("'abc' matches '/a/A'", 1),
    ('"a\\n" matches "/a$/"', 1),
    ('"a\\n" matches "/a$/D"', 0),
    ("'über' matches '/^\\\\w+$/u'", 1),
    ("'über' matches '/^\\\\w+$/'", 0),
    ("'x' matches '/a(?i)X|(?-i)x/'", 1),
    ("'2020-01' matches '/^[[:digit:]]{4}-\\\\d\\\\d$/'", 1),
    ("'a.b' matches '/^\\\\Qa.b\\\\E$/'", 1),
    ("'aa' matches '/(?<x>a)\\\\k<x>/'", 1),
    ("'aab' matches '/a+?/U'", 1),
    ("(code_reference.branch matches '/^cpdev/') ~ ''", "1"),
    ("(code_reference.branch matches '/^master/') ~ ''", "0"),
    # ranges
    ("1..4", [1, 2, 3, 4]),
    ("3..1", [3, 2, 1]),
    ("'a'..'c'", ["a", "b", "c"]),
    ("0.5..2", [0.5, 1.5]),
    # logic and truthiness
    ("true and false", False),
    ("true or false", True),
    ("true && true", True),
    ("false || 0", False),
    ("1 and 'a'", True),
    ("not true", False),
    ("!false", True),
    ("not 0", True),
    ("not ''", True),
    ("not '0'", True),
    ("not 'false'", False),
    ("not '0.0'", False),
    ("not []", True),
    ("not [0]", False),
    ("not n == 3", False),  # (not 3) == 3: unary not binds tighter than ==
    ("not (n == 3)", False),
    ("not(n == 4)", True),
    ("false and (1 / 0)", False),  # short-circuit
    ("true or (1 / 0)", True),
    # ternaries
    ("n > 2 ? 'big' : 'small'", "big"),
    ("'' ?: 'default'", "default"),
    ("'x' ?: 'default'", "x"),
    ("false ? 'yes'", None),
    ("true ? 1 : 2 ? 3 : 4", 1),
    ("false ? 1 : 2 ? 3 : 4", 3),
    ("1 + (true ? 1 : 2)", 2),
    # functions of C1
    ("slugify(code_reference.branch)", "cpdev-feature"),
    ("slugify('Über Café')", "ueber-cafe"),
    ("hash_long_domain_prefix('abc', 2)", "-900150983c"),
    ("hash_long_domain_prefix(code_reference.branch, '5')", "cpdev/f-285055d9e8"),
    ("hash_long_domain_prefix(slugify(code_reference.branch), 40)", "cpdev-feature"),
    # whitespace is normalised like Symfony
    ("code_reference.branch\n==\t'cpdev/feature'", True),
    ("not\n(false)", True),
]


@pytest.mark.parametrize("source, expected", CASES, ids=[case[0] for case in CASES])
def test_evaluate(source, expected):
    result = evaluate(source, CONTEXT, FUNCTIONS)
    if isinstance(expected, float):
        assert isinstance(result, float) and result == pytest.approx(expected)
    else:
        assert result == expected
        assert type(result) is type(expected)


ERROR_CASES = [
    # (source, syntax error?, message, position)
    ("1 + 2 foo", True, 'Unexpected token "name" of value "foo" around position 7 for expression `1 + 2 foo`.', 6),
    ("foo.bar", True, 'Variable "foo" is not valid around position 1 for expression `foo.bar`.', 0),
    ("True", True, 'Variable "True" is not valid around position 1 for expression `True`.', 0),
    ("certeo.inviqa-001.example.com", True,
     'Variable "certeo" is not valid around position 1 for expression `certeo.inviqa-001.example.com`.', 0),
    ("(1", True, 'Unclosed "(" around position 0 for expression `(1`.', 0),
    ("1)", True, 'Unexpected ")" around position 1 for expression `1)`.', 1),
    ("[1)", True, 'Unclosed "[" around position 0 for expression `[1)`.', 0),
    ("'abc", True, 'Unexpected character "\'" around position 0 for expression `\'abc`.', 0),
    ("n # 1", True, 'Unexpected character "#" around position 2 for expression `n # 1`.', 2),
    ("1 +", True, 'Unexpected token "end of expression" of value "" around position 4 for expression `1 +`.', 3),
    ("", True, 'Unexpected token "end of expression" of value "" around position 1.', 0),
    ("code_reference.", True,
     "Unexpected end of expression around position 16 for expression `code_reference.`.", 15),
    ("code_reference.5", True, "Expected name around position 16 for expression `code_reference.5`.", 15),
    ("n not  in [1]", True,
     'Unexpected token "operator" of value "not" around position 3 for expression `n not  in [1]`.', 2),
    ("[1 2]", True,
     'An array element must be followed by a comma. Unexpected token "number" of value "2" '
     '("punctuation" expected with value ",") around position 4 for expression `[1 2]`.', 3),
    ("{a 1}", True,
     'A hash key must be followed by a colon (:). Unexpected token "number" of value "1" '
     '("punctuation" expected with value ":") around position 4 for expression `{a 1}`.', 3),
    ("{[1]: 2}", True,
     'A hash key must be a quoted string, a number, a name, or an expression enclosed in parentheses '
     '(unexpected token "punctuation" of value "[" around position 2 for expression `{[1]: 2}`.', 1),
    ("slugfy(n)", True,
     'The function "slugfy" does not exist around position 1 for expression `slugfy(n)`. '
     'Did you mean "slugify"?', 0),
    ("é == 1", True, 'Variable "é" is not valid around position 1 for expression `é == 1`.', 0),
    ("'é' == foo", True, 'Variable "foo" is not valid around position 9 for expression `\'é\' == foo`.', 7),
    # runtime errors carry CP's / PHP's texts
    ("code_reference.sha1", False, 'The key "sha1" does not exist', 15),
    ("code_reference.branch.foo", False, "Unable to get a property on a non-object.", 22),
    ("code_reference.foo()", False, 'Unable to call method "foo" of object "ContextObject".', 15),
    ("n[0]", False, "Unable to get an item on a non-array.", 1),
    ("1 / 0", False, "Division by zero", 2),
    ("1 % 0", False, "Modulo by zero", 2),
    ("'a' in 'abc'", False, "in_array() expects parameter 2 to be array, string given", 4),
    ("[1] ~ 'a'", False, "Array to string conversion", 4),
    ("1..1000000", False, "The range 1..1000000 has more than 100000 elements", 1),
    ("hash_long_domain_prefix('x')", False, "Too few arguments to function hash_long_domain_prefix()", 0),
    ("slugify([1])", False, "Argument 1 passed to slugify() must be of the type string, array given", 0),
    ("hash_long_domain_prefix('x', 'y')", False,
     "Argument 2 passed to hash_long_domain_prefix() must be of the type integer, string given", 0),
]


@pytest.mark.parametrize("source, syntax, message, position", ERROR_CASES,
                         ids=[case[0] or "<empty>" for case in ERROR_CASES])
def test_errors(source, syntax, message, position):
    with pytest.raises(ExpressionError) as caught:
        evaluate(source, CONTEXT, FUNCTIONS)
    error = caught.value
    assert str(error) == message or str(error).startswith(message)
    assert error.message == str(error)
    assert isinstance(error, ExpressionSyntaxError) is syntax
    assert error.expression == source
    assert error.position == position


def test_did_you_mean_uses_sorted_names():
    with pytest.raises(ExpressionSyntaxError) as caught:
        evaluate("foo.bar", expressions.flow_context(ZERO_UUID, "master", "sha"), C1_FUNCTIONS)
    assert str(caught.value).endswith('Did you mean "flow"?')


@pytest.mark.parametrize("source, message", [
    ("'x' matches '/(/'", 'The regular expression "/(/" is not valid: missing closing parenthesis'),
    ("'x' matches '/a{2,1}/'", 'The regular expression "/a{2,1}/" is not valid: Compilation failed'),
    ("'x' matches 'abc'", 'The regular expression "abc" is not valid: Delimiter must not be alphanumeric or backslash'),
    ("'x' matches ''", 'The regular expression "" is not valid: Empty regular expression'),
    ("'x' matches '/abc'", "The regular expression \"/abc\" is not valid: No ending delimiter '/' found"),
    ("'x' matches '{abc'", "The regular expression \"{abc\" is not valid: No ending matching delimiter '}' found"),
    ("'x' matches '/a/k'", "The regular expression \"/a/k\" is not valid: Unknown modifier 'k'"),
    # one backslash is eaten by the expression string: the pattern ends at the second "/"
    ("'feature/x' matches '/^feature\\/x$/'", "The regular expression \"/^feature/x$/\" is not valid: Unknown modifier '$'"),
    ("'x' matches '/\\\\p{L}/u'", 'The regular expression "/\\p{L}/u" is not valid: the escape \\p is not supported'),
    ("'x' matches '/(?R)/'", 'The regular expression "/(?R)/" is not valid'),
    ("'x' matches '/[[:^alpha:]]/'", 'The regular expression "/[[:^alpha:]]/" is not valid'),
])
def test_invalid_regular_expressions(source, message):
    with pytest.raises(ExpressionError) as caught:
        evaluate(source)
    assert str(caught.value).startswith(message)
    assert not isinstance(caught.value, ExpressionSyntaxError)


def test_syntax_errors_are_raised_by_parse_without_context():
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse("certeo.inviqa-001.example.com")
    assert str(caught.value) == ('Unexpected token "punctuation" of value "." around position 18 '
                                 'for expression `certeo.inviqa-001.example.com`.')
    assert caught.value.position == 17
    # with the names of the context, the unknown variable met first wins (as in Symfony)
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse("certeo.inviqa-001.example.com", names=["code_reference", "flow"])
    assert str(caught.value).startswith('Variable "certeo" is not valid around position 1')


def test_parse_validates_names_and_functions_early():
    parse("code_reference.branch ~ slugify('x')", names=["code_reference"], functions=["slugify"])
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse("code_reference.branch ~ slugify('x')", names=["code_reference"], functions=[])
    assert str(caught.value).startswith('The function "slugify" does not exist around position 25')
    with pytest.raises(ExpressionSyntaxError):
        parse("tide.uuid", names=["code_reference", "flow", "pull_request", "tasks"])


def test_unknown_function_fails_even_when_not_called():
    # Symfony checks functions at parse time, before any short-circuit
    with pytest.raises(ExpressionSyntaxError):
        evaluate("false and nope()", {})


def test_nesting_limits():
    with pytest.raises(ExpressionSyntaxError, match="nested too deeply"):
        parse("(" * 150 + "1" + ")" * 150)
    with pytest.raises(ExpressionSyntaxError, match="nested too deeply"):
        parse("1" + " + 1" * 300)
    assert evaluate("(" * 50 + "1" + ")" * 50) == 1
    assert evaluate("1" + " + 1" * 150) == 151


def test_parse_is_cached_and_reusable():
    first = parse("code_reference.branch == 'master' and n > 1")
    assert parse("code_reference.branch == 'master' and n > 1") is first
    assert first.names == ("code_reference", "n")
    assert first.functions == ()
    assert first.evaluate({"code_reference": {"branch": "master"}, "n": 2}) is True
    assert first.evaluate({"code_reference": {"branch": "develop"}, "n": 2}) is False
    with_functions = parse("hash_long_domain_prefix(slugify(code_reference.branch), 20) ~ '.x'")
    assert with_functions.names == ("code_reference",)
    assert with_functions.functions == ("hash_long_domain_prefix", "slugify")


def test_regular_expressions_are_compiled_once():
    expressions._compile_pcre.cache_clear()
    expression = parse("code_reference.branch matches '#^cpdev/#'")
    for branch in ("cpdev/a", "master", "cpdev/b"):
        expression.evaluate({"code_reference": {"branch": branch}})
    info = expressions._compile_pcre.cache_info()
    assert info.misses == 1 and info.hits == 2


def test_non_string_sources_are_cast_like_php():
    assert evaluate(1) == 1
    assert evaluate(True) == 1
    with pytest.raises(ExpressionSyntaxError):
        evaluate(None)
    with pytest.raises(TypeError):
        evaluate(["x"])


# --- contexts -------------------------------------------------------------------------------

def test_wildcard_answers_every_key():
    services = Wildcard({"created": False, "updated": False, "deleted": False})
    context = {"tasks": {"deployment": {"services": services}}}
    assert evaluate("tasks.deployment.services.mysql.created", context) is False
    assert evaluate("tasks.deployment.services['any-name'].deleted", context) is False
    assert evaluate("not tasks.deployment.services.x.updated", context) is True
    assert expressions.php_bool(services) is True
    assert services.get("anything") == {"created": False, "updated": False, "deleted": False}


def test_tide_context_tasks():
    # FEAT/river/domain/tide/filtering/filter-tasks.feature
    tasks = {
        "deployment": expressions.deploy_task_context({"mysql": {"created": True, "updated": False, "deleted": False}}),
        "skipped": expressions.deploy_task_context(None),
    }
    context = expressions.tide_context(ZERO_UUID, "master", "sha", tasks=tasks)
    assert evaluate("tasks.deployment.services.mysql.created", context) is True
    assert evaluate("tasks.skipped.services.mysql.created", context) is False
    with pytest.raises(ExpressionError) as caught:
        evaluate("tasks.deployment.services.redis.created", context)
    assert str(caught.value) == 'The key "redis" does not exist'
    with pytest.raises(ExpressionError) as caught:
        evaluate("tasks.unknown.services.mysql.created", context)
    assert str(caught.value) == 'Task "unknown" does not exist'
    with pytest.raises(ExpressionError, match='Task "unknown" does not exist'):
        evaluate("tasks['unknown']", context)
    assert evaluate("tasks['deployment'].services['mysql'].created", context) is True


def test_default_contexts():
    context = expressions.tide_context(ZERO_UUID, "feature/x", "sha")
    assert set(context) == {"code_reference", "flow", "pull_request"}
    assert evaluate("pull_request.number == 0 and pull_request.title == '' and pull_request.labels == []", context)
    assert evaluate("'Ready for QA' in pull_request.labels", context) is False
    assert set(expressions.flow_context(ZERO_UUID, "b", "s")) == {"code_reference", "flow"}
    assert set(expressions.condition_context("b", "s")) == {"code_reference"}
    with pytest.raises(ExpressionSyntaxError):
        evaluate("flow.uuid", expressions.condition_context("b", "s"))
    empty = ContextObject()
    assert expressions.php_bool(empty) is True  # a PHP object, even empty
    custom = ContextObject({"a": 1}, missing='Nothing called "{key}" here')
    with pytest.raises(ExpressionError, match='Nothing called "b" here'):
        evaluate("o.b", {"o": custom})


def test_has_changes_for_files():
    changed = ["docker/base/Dockerfile", "src/app.php", "README.md"]
    functions = {"has_changes_for_files": expressions.has_changes_for_files_function(changed)}
    assert evaluate('has_changes_for_files(["docker/base/**"])', {}, functions) is True
    assert evaluate("has_changes_for_files('*.md')", {}, functions) is True
    assert evaluate("has_changes_for_files('*.php')", {}, functions) is False  # "*" stops at "/"
    assert evaluate("has_changes_for_files(['**.php', 'nope'])", {}, functions) is True
    always = {"has_changes_for_files": expressions.has_changes_for_files_function(None)}
    assert evaluate("has_changes_for_files('x')", {}, always) is True


def test_function_errors_are_wrapped():
    def broken(*_):
        raise RuntimeError("boom")
    with pytest.raises(ExpressionError) as caught:
        evaluate("1 + broken()", {}, {"broken": broken})
    assert str(caught.value) == 'Error while calling the function "broken": boom'
    assert caught.value.position == 4
    assert isinstance(caught.value.__cause__, RuntimeError)


# --- helpers ----------------------------------------------------------------------------------

def test_to_bool_filter():
    assert expressions.to_bool_filter(True, "x") is True
    assert expressions.to_bool_filter(0, "x") is False
    assert expressions.to_bool_filter(1, "x") is True
    for value in ("yes", 1.0, None, [], {}):
        with pytest.raises(ExpressionError) as caught:
            expressions.to_bool_filter(value, "code_reference.branch")
        assert str(caught.value) == ('Expression "code_reference.branch" is not valid as it does not '
                                     'return a boolean')
    source = "code_reference.branch matches '/^cpdev/'"
    assert expressions.to_bool_filter(evaluate(source, CONTEXT), source) is True


@pytest.mark.parametrize("value, expected", [
    (None, ""), (True, "1"), (False, ""), (0, "0"), (-12, "-12"), ("x", "x"),
    (1.0, "1"), (-0.0, "-0"), (0.5, "0.5"), (0.1 + 0.2, "0.3"), (1 / 3, "0.33333333333333"),
    (1e14, "1.0E+14"), (1e15, "1.0E+15"), (123456789012.5, "123456789012.5"), (1.5e-7, "1.5E-7"),
    (0.0001, "0.0001"), (1e-5, "1.0E-5"), (math.inf, "INF"), (-math.inf, "-INF"), (math.nan, "NAN"),
])
def test_php_string(value, expected):
    assert expressions.php_string(value) == expected


def test_php_string_rejects_arrays():
    with pytest.raises(ExpressionError, match="Array to string conversion"):
        expressions.php_string([1])


@pytest.mark.parametrize("value, expected", [
    (None, False), (False, False), (0, False), (0.0, False), ("", False), ("0", False), ([], False),
    ({}, False), (True, True), (1, True), (-1, True), ("0.0", True), ("false", True), (" ", True),
    ([0], True), (math.nan, True),
])
def test_php_bool(value, expected):
    assert expressions.php_bool(value) is expected


@pytest.mark.parametrize("left, right, loose, strict", [
    (1, "1", True, False), ("abc", 0, True, False), ("1e3", "1000", True, False), (None, False, True, False),
    ([], False, True, False), ("", None, True, False), (1.0, 1, True, False), ("a", "a", True, True),
    ([1, "a"], {0: 1, 1: "a"}, True, True), ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True, False),
    (" 1", "1", True, False), ("1 ", "1", False, False), ("abc", "ABC", False, False),
])
def test_loose_and_strict_equality(left, right, loose, strict):
    assert expressions.loose_equals(left, right) is loose
    assert expressions.loose_equals(right, left) is loose  # symmetric
    assert expressions.identical(left, right) is strict


# --- every expression of the real-world corpus ---------------------------------------------

# Every distinct `condition`, `expression`, `filter` and `environment.name` string of
# shared/corpus (the demo repositories and the 439 Behat fixtures of the monorepo).
CORPUS_EXPRESSIONS = [
    '"Ready for QA" in pull_request.labels',
    'code_reference.branch != "master"',
    "code_reference.branch != 'master'",
    'code_reference.branch == "feature/ABC"',
    'code_reference.branch == "master"',
    'code_reference.branch == "production"',
    "code_reference.branch == 'develop'",
    "code_reference.branch == 'master'",
    "code_reference.branch == 'production'",
    'code_reference.branch in ["develop"]',
    'code_reference.branch in ["master"]',
    'code_reference.branch in ["production", "uat", "integration"]',
    'code_reference.branch matches "#^cpdev/#"',
    'code_reference.branch matches "/^cpdev/"',
    'code_reference.branch not in ["master"] and not(code_reference.branch matches "#^cpdev/#")',
    'code_reference.branch not in ["production", "uat", "integration"]',
    "code_reference.branch not in ['develop', 'master']",
    'not(code_reference.branch matches "#^cpdev/#")',
    'not(code_reference.branch matches "/^cpdev/")',
    'pull_request.title matches "#^something#"',
    '"${CP_ENVIRONMENT}"',
    '"app-" ~ code_reference.branch',
    '"app-test-" ~ code_reference.branch',
    '"bar-" ~ code_reference.branch',
    '"demo-drupal8-" ~ code_reference.branch',
    '"documentation-" ~ code_reference.branch',
    '"foo-" ~ code_reference.branch',
    '"laravel-demo-" ~ code_reference.branch',
    '"river-" ~ code_reference.branch',
    '"sfdemo-" ~ code_reference.branch',
    '"teamup-ci"',
    '"ui-" ~ code_reference.branch',
    '"ui-ci"',
    "'abc-123-master'",
    "'query-master'",
    '"sfdemo-ssl-w.inviqa-rmiller.continuouspipe.net"',
    '"sfdemo-ssl.inviqa-rmiller.continuouspipe.net"',
    "'Ready for QA' in pull_request.labels",
    "'wip' not in pull_request.labels",
    "code_reference.branch",
    "code_reference.branch == 'master' or 'Ready for QA' in pull_request.labels",
    'code_reference.branch ~ "-12357-flex.example.com"',
    'code_reference.branch ~ "-certeo.inviqa-001.example.com"',
    'code_reference.branch ~ ".certeo.inviqa-001.example.com"',
    "code_reference.sha",
    "foo.bar",
    'has_changes_for_files(["docker/base/**"])',
    'hash_long_domain_prefix(code_reference.branch, 27) ~ "-certeo.inviqa-001.example.com"',
    'hash_long_domain_prefix(code_reference.branch, 27) ~ "-certeo.inviqa-001.httplabs.net"',
    'slugify(code_reference.branch) ~ "-certeo.inviqa-001.example.com"',
    "tasks.deployment.services.bar.created",
    "tasks.deployment.services.mysql.created",
    "tasks.infrastructure.services.database.created",
    'code_reference.branch == "master" || "Ready for QA" in pull_request.labels',
]
# "A wrong tide expression do not fail dramatically" (endpoints.feature): a bare host is not an
# expression; CP logs 'The expression provided ("certeo.inviqa-001.example.com") is not valid'.
CORPUS_INVALID = ["certeo.inviqa-001.example.com"]
# FEAT/river/domain/configuration/variables.feature uses an undefined variable on purpose.
CORPUS_UNKNOWN_NAMES = {"foo.bar"}


def _corpus_context():
    tasks = {
        "deployment": expressions.deploy_task_context({"mysql": {"created": True, "updated": False, "deleted": False},
                                                       "bar": {"created": False, "updated": True, "deleted": False}}),
        "infrastructure": expressions.deploy_task_context(None),
    }
    pull_request = {"number": 1, "title": "something new", "labels": ["Ready for QA"]}
    context = expressions.tide_context(ZERO_UUID, "cpdev/my-feature", "sha", pull_request=pull_request, tasks=tasks)
    functions = dict(C1_FUNCTIONS)
    functions["has_changes_for_files"] = expressions.has_changes_for_files_function(["docker/base/Dockerfile"])
    return context, functions


@pytest.mark.parametrize("source", CORPUS_EXPRESSIONS)
def test_corpus_expression_parses_and_evaluates(source):
    expression = parse(source)
    context, functions = _corpus_context()
    if source in CORPUS_UNKNOWN_NAMES:
        with pytest.raises(ExpressionSyntaxError, match='Variable "foo" is not valid'):
            expression.evaluate(context, functions)
    else:
        expression.evaluate(context, functions)


@pytest.mark.parametrize("source", CORPUS_INVALID)
def test_corpus_invalid_expression(source):
    context, functions = _corpus_context()
    with pytest.raises(ExpressionSyntaxError):
        evaluate(source, context, functions)


def _corpus_dir():
    configured = os.environ.get("CP_CORPUS_DIR")
    if configured:
        return configured
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, os.pardir, os.pardir, os.pardir, "shared", "corpus"))


def _walk_expressions(node, parent, found):
    if isinstance(node, dict):
        for key, value in node.items():
            key = str(key)
            if isinstance(value, str) and (key in ("condition", "expression", "filter")
                                           or (key == "name" and parent == "environment")):
                found.add(value)
            _walk_expressions(value, key, found)
    elif isinstance(node, list):
        for value in node:
            _walk_expressions(value, None, found)


def test_corpus_on_disk_has_no_other_expressions():
    """When the shared corpus is available (CP_CORPUS_DIR), its expressions are exactly the table's."""
    root = _corpus_dir()
    if not os.path.isdir(root):
        pytest.fail("the shared corpus was not found (set CP_CORPUS_DIR)")
    found = set()
    for directory, _subdirectories, files in os.walk(root):
        for name in files:
            if name.endswith((".yml", ".yaml")):
                with open(os.path.join(directory, name), encoding="utf-8") as handle:
                    try:
                        for document in yaml.safe_load_all(handle):
                            _walk_expressions(document, None, found)
                    except yaml.YAMLError:
                        continue  # the corpus holds deliberately invalid YAML
    assert found == set(CORPUS_EXPRESSIONS) | set(CORPUS_INVALID)
