# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors that carry the place they come from.

Every stage of the pipeline (load → translate → apply) reports bad input as a ``DefinitionError``
naming the file and the key path (``tasks.deployment.deploy.services.web.specification.ports[0]``)
and the expected form. Modules turn these into ``fail_json`` with no traceback.
"""
from __future__ import annotations


def format_path(path) -> str:
    """Render a key path (a sequence of str keys and int indexes) as ``a.b[0].c``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += "[%d]" % part
        elif out:
            out += "." + str(part)
        else:
            out = str(part)
    return out


class ContinuousPipeError(Exception):
    """Base class of every error this collection raises on purpose."""


class DefinitionError(ContinuousPipeError):
    """Bad input: a definition that cannot be loaded, resolved or translated.

    ``path`` is a tuple of keys and list indexes from the document root; ``file`` the file the
    value came from when known (a merged value may come from several files: the one that set it).
    """

    def __init__(self, message, path=(), file=None, expected=None):
        self.message = message
        self.path = tuple(path)
        self.file = file
        self.expected = expected
        super().__init__(self.describe())

    @property
    def key_path(self) -> str:
        return format_path(self.path)

    def describe(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.path:
            where.append(self.key_path)
        text = self.message
        if self.expected:
            text = "%s (expected %s)" % (text, self.expected)
        if where:
            return "%s: %s" % (": ".join(where), text)
        return text

    def to_dict(self) -> dict:
        return {
            "message": self.message,
            "file": self.file,
            "path": self.key_path,
            "expected": self.expected,
        }


class DefinitionErrors(DefinitionError):
    """Several definition errors found in one pass (reported together, first one as message)."""

    def __init__(self, errors):
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.message, first.path, first.file, first.expected)

    def describe(self) -> str:
        if len(self.errors) == 1:
            return self.errors[0].describe()
        return "%d errors in the definition:\n- %s" % (
            len(self.errors), "\n- ".join(e.describe() for e in self.errors))


class ClusterError(ContinuousPipeError):
    """A failure talking to, or reported by, a Kubernetes cluster.

    ``status`` is the HTTP status (0 when the API server could not be reached), ``reason`` the
    Kubernetes Status reason (``Forbidden``, ``Conflict``, ``Invalid``...).
    """

    def __init__(self, message, status=None, reason=None):
        self.status = status
        self.reason = reason
        super().__init__(message)
