# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Python's cyclic garbage collector paused while large trees of plain data are built.

Loading, translating and dumping thousands of services allocate millions of dicts, lists and strings
that never form cycles; the collector still walks them, more often as the heap grows (with it, a
3,000-service project took ~1.5 times the CPU to load and translate). ``paused()`` disables it for
such a phase and enables it again after (nothing is lost: it runs later if anything is cyclic).
Only for bounded CPU phases, never around waiting.
"""
from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def paused():
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
