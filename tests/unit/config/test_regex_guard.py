# -*- coding: utf-8 -*-
"""Issue 10: ``matches`` (and ``has_changes_for_files`` globs) run with a bounded cost.

Catastrophic shapes are refused before matching; anything else runs under a CPU-time budget. The
errors name the key path of the expression.
"""
from __future__ import annotations

import re
import signal
import threading
import time

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import expressions, regex_guard
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

ACCEPTED = [
    r"^cpdev/", r"^(feature|hotfix)/.+$", r"^(release|hotfix)/[0-9]+(\.[0-9]+)*$", r"^([a-z]+-)*[a-z]+$",
    r"^\d{1,3}(\.\d{1,3}){3}$", r"(\w+\s)*x", r"^.*foo.*bar.*$", r"^[a-z0-9-]+$", r"^(?:master|develop|release/.*)$",
    r"^PR-\d+$", r"(?i)^wip", r"^(a|b)+$", r"^(ab|cd)*$", r"^(\w|-)+$", r"^([^/]+/)*[^/]+\.yml$", r"^(\d+\.)+\d+$",
    r"^v?\d+\.\d+\.\d+(-[a-z0-9.]+)?$", r"^(a|ab)*$", r"^(\w|\d)+$", r"^(feature/|fix/)+$",
]
REFUSED = [
    (r"^(a+)+$", "repeats the same characters"), (r"^(a*)*$", "can match nothing"),
    (r"(\w+\s?)*$", "repeats the same characters"), (r"^(.*,)*$", "repeats the same characters"),
    (r"^(a|aa)*$", "branches that can start alike"), (r"^(a|a)*$", "several branches that match nothing"),
    (r".*.*.*.*x", "4 or more unbounded repetitions"), (r"^(a{1,3})+$", "repeats the same characters"),
    (r"^(a?)*$", "can match nothing"), (r"^(a+){10}$", "repeats the same characters"),
    (r"(x+x+)+y", "repeats the same characters"), (r"^(([a-z])+.)+[A-Z]([a-z])+$", "repeats the same characters"),
]


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_ordinary_patterns_are_accepted_and_stay_fast_on_adversarial_subjects(pattern):
    regex_guard.check_pattern(pattern)
    compiled = re.compile(pattern)
    alphabet = sorted(set(re.sub(r"\\.|[^a-z0-9./ -]", "", pattern)) | {"a", "1", ".", "-", "/", " ", "!"})
    start = time.process_time()
    for char in alphabet:
        for tail in ("!", "", "\n", "A"):
            compiled.search(char * 1000 + tail)
            compiled.search((char + "a") * 500 + tail)
            compiled.search((char + "1.") * 333 + tail)
    assert time.process_time() - start < 5  # linear or quadratic, never exponential


@pytest.mark.parametrize("pattern, reason", REFUSED)
def test_catastrophic_shapes_are_refused(pattern, reason):
    with pytest.raises(regex_guard.UnsafePattern, match=re.escape(reason)):
        regex_guard.check_pattern(pattern)


def test_the_corpus_patterns_still_match():
    context = {"code_reference": {"branch": "cpdev/x"}}
    assert expressions.evaluate('code_reference.branch matches "#^cpdev/#"', context) == 1
    assert expressions.evaluate('not(code_reference.branch matches "/^cpdev/")', context) is False


def test_a_refused_pattern_is_an_error_naming_the_key_path(project):
    project.write("continuous-pipe.yml", """
        tasks:
          d:
            deploy:
              cluster: c
              services:
                web:
                  condition: 'code_reference.branch matches "/^(a+)+$/"'
                  specification: {source: {image: nginx, tag: "1"}}
        """)
    start = time.monotonic()
    with pytest.raises(DefinitionError) as raised:
        project.load(branch="a" * 40 + "!")
    assert time.monotonic() - start < 1
    assert raised.value.path == ("tasks", "d", "deploy", "services", "web", "condition")
    assert "is refused" in str(raised.value) and raised.value.file == "continuous-pipe.yml"


def test_a_match_over_its_cpu_budget_is_an_error_and_the_timer_is_restored(project):
    project.write("continuous-pipe.yml", """
        pipelines:
          - name: P
            condition: 'code_reference.branch matches "/^.*.*.*x$/"'
            tasks: [d]
        tasks:
          d: {deploy: {cluster: c, services: {web: {specification: {source: {image: nginx, tag: "1"}}}}}}
        """)
    before = signal.getsignal(signal.SIGVTALRM)
    start = time.process_time()
    with pytest.raises(DefinitionError) as raised:
        project.load(branch="a" * 3000)
    assert time.process_time() - start < regex_guard.MATCH_CPU_SECONDS + 1
    assert raised.value.path == ("pipelines", 0, "condition")
    assert "CPU time" in str(raised.value)
    assert signal.getsignal(signal.SIGVTALRM) == before
    assert signal.getitimer(signal.ITIMER_VIRTUAL) == (0.0, 0.0)


def test_outside_the_main_thread_matching_still_works():
    results = []
    thread = threading.Thread(target=lambda: results.append(
        expressions.evaluate("'cpdev/x' matches '/^cpdev/'", {})))
    thread.start()
    thread.join()
    assert results == [1]


def test_a_timer_already_in_use_is_left_alone():
    signal.setitimer(signal.ITIMER_VIRTUAL, 100)
    try:
        assert expressions.evaluate("'cpdev/x' matches '/^cpdev/'", {}) == 1
        assert signal.getitimer(signal.ITIMER_VIRTUAL)[0] > 90
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)


def test_globs_cannot_hang():
    function = expressions.has_changes_for_files_function(["a" * 3000])
    start = time.process_time()
    with pytest.raises(expressions.ExpressionError, match="CPU time"):
        function("**a**a**a**a**a**a**b")
    assert time.process_time() - start < regex_guard.MATCH_CPU_SECONDS + 1
    assert expressions.has_changes_for_files_function(["src/a/b.php"])("src/**.php") is True
    assert expressions.has_changes_for_files_function(["src/a/b.php"])("src/*.php") is False
    assert expressions.has_changes_for_files_function(["src/a/b.php"])("src/***") is True


def _many_conditions(project, condition, count):
    services = "".join("      s%d: {condition: '%s', specification: {source: {image: a, tag: '1'}}}\n" % (index, condition)
                       for index in range(count))
    project.write("continuous-pipe.yml", "tasks:\n  d:\n   deploy:\n    cluster: c\n    services:\n" + services)


def test_many_slow_patterns_share_one_budget(project):
    """Each match is stopped at 0.5 s; 300 of them would still take 150 s without a total per load."""
    _many_conditions(project, 'code_reference.branch matches "/^.*.*.*x$/"', 300)
    start = time.process_time()
    with pytest.raises(DefinitionError) as raised:
        project.load(branch="a" * 3000)
    assert time.process_time() - start < regex_guard.TOTAL_CPU_SECONDS + 3
    assert "together" in str(raised.value)
    assert signal.getitimer(signal.ITIMER_VIRTUAL) == (0.0, 0.0)


def test_many_ranges_share_one_budget(project):
    """``[0..99999, …]`` in a condition builds up to a million elements; thousands of conditions share 5 million."""
    _many_conditions(project, "1 in [" + ", ".join(["0..99999"] * 9) + "]", 300)
    with pytest.raises(DefinitionError, match="elements together"):
        project.load()
    with pytest.raises(expressions.ExpressionError, match="more than 1000000 elements together"):
        expressions.evaluate("[" + ", ".join(["0..99999"] * 11) + "]", {})
