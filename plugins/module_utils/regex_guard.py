# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded regular expressions: the ``matches`` operator and ``has_changes_for_files`` globs.

A repository writes the patterns (conditions, filters, environment names), so a pattern must never
make a run hang. Python's ``re`` backtracks, and patterns such as ``/^(a+)+$/`` take exponential
time on a subject that almost matches. Two guards:

1. :func:`check_pattern`, before a pattern is used: Python's own parse tree of the (translated)
   pattern is inspected and shapes that backtrack catastrophically are refused with a message
   saying why:

   * a repeated group that itself repeats the same characters, with nothing in the group that
     the inner repetition cannot match to tell the iterations apart: ``(a+)+``, ``(\\w+\\s?)*``,
     ``(.*,)*`` (but ``(\\.[0-9]+)*`` and ``([a-z]+-)*`` are fine: ``.``/``-`` delimit them);
   * a repeated alternation whose branches can start with the same character (once Python has
     factored their common prefix out) or several of which match nothing: ``(a|aa)*``,
     ``(a|a)*`` (but ``(feature/|fix/)+`` is fine: ``e`` and ``i`` tell them apart);
   * four or more unbounded repetitions in a row that can all match the same characters, with
     nothing between them that they cannot match: ``.*.*.*.*x`` (polynomial time of that degree).

2. :func:`search`, while matching: in the main thread of a POSIX process (where every module,
   filter and inventory plugin of this collection evaluates expressions), the match runs under a
   CPU-time budget (``ITIMER_VIRTUAL``; Python's regex engine checks for signals while it
   backtracks) and a :class:`RegexBudgetExceeded` is raised when it is spent. The timer and the
   ``SIGVTALRM`` handler in place are restored afterwards; when another part of the process already
   uses that timer, or outside the main thread, only the first guard applies. Once a load of a
   project started it (:func:`start_total`), all the matches share a total of
   :data:`TOTAL_CPU_SECONDS`, so that many slow patterns cannot add up either.

Both are errors the callers report with the key path of the expression.
"""
from __future__ import annotations

import re
import signal
import threading
import time
from typing import Any, List, Optional

try:  # Python >= 3.11
    from re import _constants as _sre  # pylint: disable=no-name-in-module
    from re import _parser as _sre_parse  # pylint: disable=no-name-in-module
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants as _sre  # pylint: disable=deprecated-module
    import sre_parse as _sre_parse  # pylint: disable=deprecated-module

__all__ = ["MATCH_CPU_SECONDS", "RegexBudgetExceeded", "UnsafePattern", "check_pattern", "search"]

#: CPU time one match may take (real patterns take microseconds).
MATCH_CPU_SECONDS = 0.5
#: CPU time all the matches of one project load may take together (see :func:`start_total`).
TOTAL_CPU_SECONDS = 5.0
#: Unbounded repetitions in a row, matching the same characters, that are still accepted.
MAX_ADJACENT_UNBOUNDED = 3


class UnsafePattern(Exception):
    """A pattern whose shape can backtrack catastrophically (the message says which part)."""


class RegexBudgetExceeded(Exception):
    """A match ran out of its CPU-time budget (``total``: the budget of all the matches of a load)."""

    def __init__(self, total: bool = False):
        super().__init__("total" if total else "match")
        self.total = total


# --------------------------------------------------------------------------------------------------
# characters an atom can match, over a sample alphabet

_SAMPLE = frozenset([chr(code) for code in range(128)] + list("\u00a0\u00e9\u00df\u0130\u017f\u212a\u2028\u4e2d"))
_MAXREPEAT = _sre.MAXREPEAT
_REPEATS = tuple(getattr(_sre, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
                 if hasattr(_sre, name))


def _category(category, char: str, ascii_only: bool) -> bool:
    name = str(category).upper()
    negate = "NOT_" in name
    if "DIGIT" in name:
        result = "0" <= char <= "9" if ascii_only else char.isdigit()
    elif "SPACE" in name:
        result = char in " \t\n\r\x0b\x0c" if ascii_only else char.isspace()
    elif "WORD" in name:
        result = char == "_" or (char.isalnum() and (not ascii_only or char.isascii()))
    elif "LINEBREAK" in name:
        result = char == "\n"
    else:  # pragma: no cover - every category sre knows is above
        result = True
    return result != negate


class _Analyzer:
    def __init__(self, flags: int):
        self.ignore_case = bool(flags & re.IGNORECASE)
        self.dotall = bool(flags & re.DOTALL)
        self.ascii_only = bool(flags & re.ASCII)

    def _with_case(self, chars: set) -> frozenset:
        if not self.ignore_case:
            return frozenset(chars)
        out = set(chars)
        for char in chars:
            out.add(char.lower())
            out.add(char.upper())
        return frozenset(out)

    def _class(self, items) -> frozenset:
        literals = {chr(av) for op, av in items if op is _sre.LITERAL}
        universe = _SAMPLE | literals
        negate = any(op is _sre.NEGATE for op, _av in items)

        def member(char: str) -> bool:
            for op, av in items:
                if op is _sre.LITERAL and char == chr(av):
                    return True
                if op is _sre.RANGE and av[0] <= ord(char) <= av[1]:
                    return True
                if op is _sre.CATEGORY and _category(av, char, self.ascii_only):
                    return True
            return False

        chars = set(self._with_case({char for char in universe if member(char)}))
        return frozenset(universe - chars) if negate else frozenset(chars)

    def atom_chars(self, op, av) -> Optional[frozenset]:
        """The characters a one-character atom matches, or None when ``op`` is not such an atom."""
        if op is _sre.LITERAL:
            return self._with_case({chr(av)})
        if op is _sre.NOT_LITERAL:
            return frozenset(_SAMPLE - self._with_case({chr(av)}))
        if op is _sre.ANY:
            return _SAMPLE if self.dotall else frozenset(_SAMPLE - {"\n"})
        if op is _sre.IN:
            return self._class(av)
        return None

    # -- what a subpattern can consume --------------------------------------------------------
    def chars(self, pattern) -> frozenset:
        """Every character ``pattern`` can consume (an over-approximation)."""
        out = set()
        for op, av in pattern:
            atom = self.atom_chars(op, av)
            if atom is not None:
                out |= atom
            elif op in _REPEATS:
                out |= self.chars(av[2])
            elif op is _sre.SUBPATTERN:
                out |= self.chars(av[-1])
            elif op is _sre.BRANCH:
                for branch in av[1]:
                    out |= self.chars(branch)
            elif op is getattr(_sre, "ATOMIC_GROUP", None):
                out |= self.chars(av)
            elif op is _sre.GROUPREF_EXISTS:
                out |= self.chars(av[1])
                if av[2] is not None:
                    out |= self.chars(av[2])
            elif op is _sre.GROUPREF:
                out |= _SAMPLE
        return frozenset(out)

    def nullable(self, pattern) -> bool:
        for op, av in pattern:
            if self.atom_chars(op, av) is not None or op is _sre.GROUPREF:
                return False
            if op in _REPEATS and av[0] > 0 and not self.nullable(av[2]):
                return False
            if op is _sre.SUBPATTERN and not self.nullable(av[-1]):
                return False
            if op is _sre.BRANCH and not any(self.nullable(branch) for branch in av[1]):
                return False
        return True

    def first(self, pattern) -> frozenset:
        """Characters a match of ``pattern`` can start with (an over-approximation)."""
        out = set()
        for op, av in pattern:
            atom = self.atom_chars(op, av)
            if atom is not None:
                out |= atom
                return frozenset(out)
            if op in _REPEATS:
                out |= self.first(av[2])
                if av[0] > 0 and not self.nullable(av[2]):
                    return frozenset(out)
            elif op is _sre.SUBPATTERN:
                out |= self.first(av[-1])
                if not self.nullable(av[-1]):
                    return frozenset(out)
            elif op is _sre.BRANCH:
                for branch in av[1]:
                    out |= self.first(branch)
                if not any(self.nullable(branch) for branch in av[1]):
                    return frozenset(out)
            elif op is _sre.GROUPREF:
                return _SAMPLE
        return frozenset(out)

    # -- the checks ---------------------------------------------------------------------------
    def check(self, pattern) -> None:
        self._check_sequence(pattern)
        for op, av in pattern:
            if op in _REPEATS:
                if av[1] > 1 or av[1] == _MAXREPEAT:
                    self._check_repeat(av[2])
                self.check(av[2])
            elif op is _sre.SUBPATTERN:
                self.check(av[-1])
            elif op is _sre.BRANCH:
                for branch in av[1]:
                    self.check(branch)
            elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
                self.check(av[1])
            elif op is getattr(_sre, "ATOMIC_GROUP", None):
                self.check(av)
            elif op is _sre.GROUPREF_EXISTS:
                self.check(av[1])
                if av[2] is not None:
                    self.check(av[2])

    def _mandatory_atoms(self, pattern) -> List[frozenset]:
        """Character sets of the one-character atoms every match of ``pattern`` goes through,
        outside any repetition (in the sequence itself or in a group that is not optional)."""
        out = []
        for op, av in pattern:
            atom = self.atom_chars(op, av)
            if atom is not None:
                out.append(atom)
            elif op is _sre.SUBPATTERN:
                out.extend(self._mandatory_atoms(av[-1]))
            elif op in _REPEATS and av[0] >= 1 and av[1] == 1:
                out.extend(self._mandatory_atoms(av[2]))
        return out

    def _inner_repeats(self, pattern) -> List[Any]:
        """Repetitions (max > 1) inside ``pattern``, at any depth (not inside lookarounds)."""
        out = []
        for op, av in pattern:
            if op in _REPEATS:
                if (av[1] > 1 or av[1] == _MAXREPEAT) and not self.nullable(av[2]):
                    out.append(av[2])
                out.extend(self._inner_repeats(av[2]))
            elif op is _sre.SUBPATTERN:
                out.extend(self._inner_repeats(av[-1]))
            elif op is _sre.BRANCH:
                for branch in av[1]:
                    out.extend(self._inner_repeats(branch))
            elif op is getattr(_sre, "ATOMIC_GROUP", None):
                out.extend(self._inner_repeats(av))
        return out

    def _delimited(self, body, inner_chars: frozenset) -> bool:
        """Whether every iteration of ``body`` must consume a character ``inner_chars`` lacks."""
        return any(not (atom & inner_chars) for atom in self._mandatory_atoms(body))

    def _branches(self, pattern) -> List[Any]:
        """Alternations inside ``pattern`` outside any repetition (those are checked on their own)."""
        out = []
        for op, av in pattern:
            if op is _sre.BRANCH:
                out.append(av[1])
                for branch in av[1]:
                    out.extend(self._branches(branch))
            elif op is _sre.SUBPATTERN:
                out.extend(self._branches(av[-1]))
            elif op is getattr(_sre, "ATOMIC_GROUP", None):
                out.extend(self._branches(av))
        return out

    def _check_repeat(self, body) -> None:
        if self.nullable(body):
            raise UnsafePattern("a repeated part can match nothing, so it can repeat in countless ways")
        for inner in self._inner_repeats(body):
            if not self._delimited(body, self.chars(inner)):
                raise UnsafePattern("a repeated group itself repeats the same characters (like (a+)+), "
                                    "which can take exponential time")
        follow = self.first(body)
        for branches in self._branches(body):
            if sum(1 for branch in branches if self.nullable(branch)) > 1:
                raise UnsafePattern("a repeated alternation has several branches that match nothing")
            firsts = [self.first(branch) | (follow if self.nullable(branch) else frozenset()) for branch in branches]
            for one in range(len(branches)):
                for other in range(one + 1, len(branches)):
                    if firsts[one] & firsts[other]:
                        raise UnsafePattern("a repeated alternation has branches that can start alike "
                                            "(like (a|aa)*), which can take exponential time")

    def _check_sequence(self, pattern) -> None:
        run: Optional[frozenset] = None
        count = 0
        for op, av in pattern:
            if op in _REPEATS and av[1] == _MAXREPEAT:
                chars = self.chars(av[2])
                if run is not None and chars & run:
                    run, count = run & chars, count + 1
                else:
                    run, count = chars, 1
                if count > MAX_ADJACENT_UNBOUNDED:
                    raise UnsafePattern("%d or more unbounded repetitions in a row can match the same text "
                                        "(like .*.*.*.*), which takes polynomial time of that degree"
                                        % (MAX_ADJACENT_UNBOUNDED + 1))
                continue
            atom = self.atom_chars(op, av)
            if atom is not None and run is not None and not (atom & run):
                run, count = None, 0
            elif atom is None and op not in (_sre.AT,) and run is not None:
                mandatory = self._mandatory_atoms([(op, av)])
                if any(not (chars & run) for chars in mandatory):
                    run, count = None, 0


def check_pattern(pattern: str, flags: int = 0) -> None:
    """Raise :class:`UnsafePattern` when ``pattern`` (Python ``re`` syntax) can backtrack catastrophically."""
    parsed = _sre_parse.parse(pattern, flags)
    analyzer = _Analyzer(flags | parsed.state.flags)
    analyzer.check(parsed)


# --------------------------------------------------------------------------------------------------
# matching under a CPU-time budget

_STATE = threading.local()


def start_total(seconds: Optional[float] = TOTAL_CPU_SECONDS) -> None:
    """From now on (in this thread) every match takes its CPU time from a budget of ``seconds``,
    so that many patterns each just under :data:`MATCH_CPU_SECONDS` cannot add up to hours; None
    turns that off. A module's load of a project starts it."""
    _STATE.total = seconds


def _on_timer(_signum, _frame):
    if getattr(_STATE, "armed", False):
        _STATE.armed = False
        raise RegexBudgetExceeded()


def _can_time() -> bool:
    return (hasattr(signal, "setitimer") and hasattr(signal, "SIGVTALRM")
            and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_VIRTUAL) == (0.0, 0.0))


def search(compiled, subject: str, anchored: bool = False, budget: float = MATCH_CPU_SECONDS) -> bool:
    """``compiled.match``/``search`` of ``subject`` within ``budget`` CPU seconds where that can be enforced
    (and within what is left of the total started by :func:`start_total`)."""
    total = getattr(_STATE, "total", None)
    if total is None:
        return _search(compiled, subject, anchored, budget)
    if total <= 0:
        raise RegexBudgetExceeded(total=True)
    started = time.process_time()
    try:
        return _search(compiled, subject, anchored, min(budget, total))
    except RegexBudgetExceeded:
        raise RegexBudgetExceeded(total=total < budget) from None
    finally:
        _STATE.total = total - (time.process_time() - started)


def _search(compiled, subject: str, anchored: bool, budget: float) -> bool:
    method = compiled.match if anchored else compiled.search
    if not _can_time():
        return method(subject) is not None
    previous = signal.signal(signal.SIGVTALRM, _on_timer)
    try:
        _STATE.armed = True
        signal.setitimer(signal.ITIMER_VIRTUAL, budget)
        try:
            found = method(subject)
        finally:
            _STATE.armed = False
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
    finally:
        signal.signal(signal.SIGVTALRM, previous if previous is not None else signal.SIG_DFL)
    return found is not None


def describe(error: BaseException) -> str:
    if isinstance(error, RegexBudgetExceeded) and error.total:
        return "the regular expressions of the project took more than %s s of CPU time together" % TOTAL_CPU_SECONDS
    if isinstance(error, RegexBudgetExceeded):
        return "matching it took more than %s s of CPU time (it backtracks catastrophically on this subject)" \
            % MATCH_CPU_SECONDS
    return str(error)
