# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ranges of the modules' numeric options, checked before anything is read or sent.

Ansible checks that an ``int`` option is an integer; this checks that it makes sense, so that a
``history_limit: 0`` is an error naming the option instead of quietly becoming the default.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

__all__ = ["DAY", "RANGES", "check_ranges"]

DAY = 24 * 3600

#: option ⇒ (lowest, highest) accepted value; None (not given) is always accepted.
RANGES: Dict[str, Tuple[int, int]] = {
    "wait_timeout": (1, 7 * DAY),
    "endpoint_timeout": (1, 7 * DAY),
    "timeout": (1, 7 * DAY),
    "history_limit": (1, 1000),
    "concurrency": (1, 64),
    "release": (1, 2 ** 31 - 1),
    "lock_timeout": (0, 7 * DAY),
    "progress_interval": (0, DAY),
}


def check_ranges(params: Mapping, ranges: Optional[Mapping[str, Tuple[int, int]]] = None,
                 names=None) -> None:
    """Raise DefinitionError (path = the option) for the first option of ``names`` out of its range."""
    ranges = RANGES if ranges is None else ranges
    for name in names if names is not None else ranges:
        value = params.get(name)
        if value is None or name not in ranges:
            continue
        low, high = ranges[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise DefinitionError("%s %r is out of range" % (name, value), path=(name,),
                                  expected="an integer from %d to %d" % (low, high))
