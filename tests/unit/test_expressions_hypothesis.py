# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests: the expression engine only ever fails with ExpressionError; names stay valid."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import expressions, naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.expressions import ExpressionError

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))

CONTEXT = expressions.tide_context(
    "00000000-0000-0000-0000-000000000000", "feature/x", "sha",
    tasks={"d": expressions.deploy_task_context(None),
           "e": expressions.deploy_task_context({"web": {"created": True, "updated": False, "deleted": False}})})
CONTEXT.update({"n": 3, "f": 1.5, "s": "12", "l": [1, "a", None, [2]], "h": {"a": 1, "1": 2}, "t": True, "z": None})
FUNCTIONS = dict(expressions.C1_FUNCTIONS)
FUNCTIONS["has_changes_for_files"] = expressions.has_changes_for_files_function(["a/b.txt"])

TOKENS = [
    "1", "0", "2.5", "007", "9223372036854775808", "-", "+", "*", "/", "%", "**", "~", "..", "==", "===",
    "!=", "!==", "<", ">", "<=", ">=", "in", "not in", "not", "!", "and", "or", "&&", "||", "|", "^", "&",
    "matches", "?", ":", "(", ")", "[", "]", "{", "}", ",", ".", "n", "f", "s", "l", "h", "t", "z", "true",
    "null", "'a'", '"/^a/i"', '"#x#"', "'0'", "''", "code_reference", ".branch", "[0]", "['a']", "slugify(",
    "hash_long_domain_prefix(", "has_changes_for_files(", "tasks.d.services.x.created", "tasks.e.services",
    '"\\x41"', "'1.5'", "' 1'", "[1,2]", "{a: 1}", "-1", "é", "'~(a)~'", "'/[[:alpha:]]+/u'", "'INF'",
]
REGEX_CHARACTERS = list("ab()[]{}?*+|\\^$.-:=!<>'#PkgxQEdwsz0129ui,& \n") + ["[:alpha:]", "(?i)", "(?<n>", "\\k<n>"]


@SETTINGS
@given(st.text(max_size=80))
def test_parse_random_text_only_raises_expression_errors(text):
    try:
        expression = expressions.parse(text)
    except ExpressionError as error:
        assert error.expression == text
        assert error.position is None or 0 <= error.position <= len(text)
    else:
        assert isinstance(expression.names, tuple)


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=14), st.sampled_from([" ", ""]))
def test_evaluate_token_soup_only_raises_expression_errors(tokens, separator):
    source = separator.join(tokens)
    try:
        expressions.evaluate(source, CONTEXT, FUNCTIONS)
    except ExpressionError:
        pass


@SETTINGS
@given(st.lists(st.sampled_from(REGEX_CHARACTERS), max_size=16).map("".join),
       st.text(alphabet="imsxuADUSXJe", max_size=3), st.sampled_from(["/", "#", "~", "{"]))
def test_matches_random_patterns_only_raises_expression_errors(body, modifiers, delimiter):
    closing = "}" if delimiter == "{" else delimiter
    try:
        result = expressions.evaluate("subject matches pattern",
                                      {"subject": "ab(c)", "pattern": delimiter + body + closing + modifiers})
    except ExpressionError:
        pass
    else:
        assert result in (0, 1)


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 63), 2 ** 63 - 1),
                    st.floats(allow_nan=False), st.text(max_size=5),
                    st.sampled_from(["0", "1", "1.0", " 1", "1e1", "abc", "", "-0", ".5"]))


@SETTINGS
@given(SCALARS, SCALARS)
def test_php_equality_properties(left, right):
    assert expressions.loose_equals(left, right) == expressions.loose_equals(right, left)
    if expressions.identical(left, right):
        assert expressions.loose_equals(left, right)
    assert expressions.loose_equals(left, left)
    assert isinstance(expressions.php_string(left), str)


@SETTINGS
@given(st.text(max_size=40))
def test_slugify_output_is_a_clean_slug(text):
    slug = naming.slugify(text)
    assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in slug)
    assert not slug.startswith("-") and not slug.endswith("-") and "--" not in slug
    assert naming.slugify(slug) == slug


@SETTINGS
@given(st.text(max_size=120))
def test_default_environment_names_are_dns_labels(branch):
    name = naming.environment_name("00000000-0000-0000-0000-000000000000", branch)
    assert len(name) <= 63
    assert naming.is_dns1123_label(name)


@SETTINGS
@given(st.text(max_size=120), st.integers(min_value=11, max_value=64))
def test_hash_long_domain_prefix_respects_the_length(prefix, max_len):
    assert len(naming.hash_long_domain_prefix(prefix, max_len)) <= max_len
