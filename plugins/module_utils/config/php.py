# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The few PHP array functions whose behaviour ContinuousPipe's configuration depends on.

``php_string`` and ``php_bool`` (casts) come from :mod:`expressions`; this module adds
``array_replace_recursive`` (docker-compose branch files), ``array_merge_recursive`` (the
``defaults`` of several configuration sources), ``empty()`` and the ``(int)`` cast.
"""
from __future__ import annotations

import math
import re
from typing import Any

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.expressions import (  # noqa: F401
    php_bool,
    php_string,
)

__all__ = ["array_merge_recursive", "array_replace_recursive", "php_bool", "php_empty", "php_int",
           "php_string"]


def _as_dict(value: Any) -> dict:
    return dict(enumerate(value)) if isinstance(value, list) else dict(value)


def array_replace_recursive(base: Any, replacement: Any) -> Any:
    """PHP ``array_replace_recursive``: maps and lists are merged by key/index, the rest replaced."""
    if isinstance(base, list) and isinstance(replacement, list):
        out = list(base)
        for index, item in enumerate(replacement):
            if index < len(out):
                out[index] = _replace(out[index], item)
            else:
                out.append(item)
        return out
    out = _as_dict(base)
    for key, item in _as_dict(replacement).items():
        out[key] = _replace(out[key], item) if key in out else item
    return out


def _replace(base: Any, replacement: Any) -> Any:
    if isinstance(base, (dict, list)) and isinstance(replacement, (dict, list)):
        return array_replace_recursive(base, replacement)
    return replacement


def array_merge_recursive(left: Any, right: Any) -> Any:
    """PHP ``array_merge_recursive`` of two maps: string keys present on both sides are merged
    recursively, two scalars becoming a list of both; integer keys are appended."""
    out = _as_dict(left)
    appended = [item for key, item in out.items() if isinstance(key, int)]
    out = {key: item for key, item in out.items() if not isinstance(key, int)}
    for key, item in _as_dict(right).items():
        if isinstance(key, int):
            appended.append(item)
        elif key in out:
            out[key] = _merge_values(out[key], item)
        else:
            out[key] = item
    for index, item in enumerate(appended):
        out[index] = item
    return out


def _merge_values(left: Any, right: Any) -> Any:
    if isinstance(left, (dict, list)) and isinstance(right, (dict, list)):
        return array_merge_recursive(left, right)
    left_items = list(left) if isinstance(left, list) else [left]
    right_items = list(right) if isinstance(right, list) else [right]
    return left_items + right_items


def php_empty(value: Any) -> bool:
    """PHP ``empty()``: null, false, 0, "", "0" and empty arrays."""
    return not php_bool(value)


def php_int(value: Any) -> int:
    """PHP ``(int)`` cast of a scalar: leading digits of a string, 0 when there are none."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return 0 if math.isnan(value) or math.isinf(value) else int(value)
    if isinstance(value, str):
        match = re.match(r"^\s*([-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)", value)
        if not match:
            return 0
        try:
            return int(float(match.group(1))) if any(c in match.group(1) for c in ".eE") else int(match.group(1))
        except (OverflowError, ValueError):
            return 0
    return 0
