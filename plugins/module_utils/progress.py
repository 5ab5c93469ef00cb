# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live progress of a module run: what a deploy is waiting for, what each pipeline task did.

A module that runs as its own process cannot print while it runs (Ansible reads its output once it
ends), so its progress goes nowhere and its result says what happened. When a module of this
collection runs inside the controller's Ansible process (its action plugin, for a task whose
connection is local), the plugin installs a *sink* that prints each line through Ansible's display:
it reaches ansible-playbook's output and, through ansible-runner, an AWX job's output while the
task is still running.

``reporter(prefix)`` is what the code that waits calls: a function taking one line of text, or None
when nobody listens (so that callers can skip building the lines).
"""
from __future__ import annotations

from typing import Callable, List, Optional

MASK = "********"
_global_sink: Optional[Callable[[str], None]] = None
_hidden: List[object] = []


def set_sink(sink: Optional[Callable[[str], None]]) -> Optional[Callable[[str], None]]:
    """Install ``sink`` (a function printing one line) for the whole process; return the previous one.

    Values hidden with ``hide`` are forgotten whenever the sink changes."""
    global _global_sink
    previous = _global_sink
    _global_sink = sink
    del _hidden[:]
    return previous


def hide(values) -> None:
    """Never print these values (a collection, e.g. a module's ``no_log_values``, read at each line,
    so values added to it later are hidden too)."""
    _hidden.append(values)


def sink() -> Optional[Callable[[str], None]]:
    return _global_sink


def emit(text: str) -> None:
    """Print one progress line if anyone listens, hidden values masked."""
    target = sink()
    if target is None:
        return
    for values in _hidden:
        for value in list(values):
            if isinstance(value, str) and value and value in text:
                text = text.replace(value, MASK)
    target(text)


def reporter(prefix: str = "") -> Optional[Callable[[str], None]]:
    """A function printing lines that start with ``prefix``, or None when there is no sink."""
    if sink() is None:
        return None

    def report(text: str) -> None:
        emit(prefix + text)

    return report


def format_seconds(seconds: float) -> str:
    """``4.2s``, ``53s``, ``2m05s``."""
    if seconds < 10:
        return "%.1fs" % seconds
    if seconds < 60:
        return "%ds" % seconds
    return "%dm%02ds" % (seconds // 60, seconds % 60)
