# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the project's files: only regular files inside the project directory, of bounded size.

``continuous-pipe.yml`` and the ``docker-compose*.yml`` files come from whatever branch is being
deployed, so whoever can push a branch chooses what they are. A file is read only when, after every
symbolic link is resolved, it is a regular file inside ``source_dir`` and at most
:data:`MAX_FILE_BYTES` long. Anything else is a :class:`DefinitionError` naming the file (never the
place a link points to, which is not the repository's business): a link to ``/dev/urandom`` or to a
file outside the project, a FIFO (opened without blocking, so it cannot hang the run), a device, a
directory, a dangling link.
"""
from __future__ import annotations

import errno
import os
import stat
from typing import Optional

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

__all__ = ["MAX_FILE_BYTES", "inside", "read_project_file"]

#: Largest project file read (1 MiB). Real ``continuous-pipe.yml`` files are a few kilobytes.
MAX_FILE_BYTES = 1024 * 1024

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _unreadable(label: str, reason: str, expected: Optional[str] = None) -> DefinitionError:
    return DefinitionError('Unable to read file "%s": %s' % (label, reason), file=label, expected=expected)


def inside(root: str, path: str) -> bool:
    """Whether ``path`` is ``root`` or below it (both already resolved or both lexical)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def read_project_file(source_dir: str, name: str, label: Optional[str] = None,
                      max_bytes: int = MAX_FILE_BYTES) -> Optional[bytes]:
    """The content of ``source_dir/name``, or None when there is no such file.

    ``name`` is relative to ``source_dir`` (it may hold ``/``: ``docker-compose.feature/x.yml``);
    a name that leaves the directory before any link is resolved (``../x``) is treated as absent.
    Raises DefinitionError (``file=label``) for anything that is not a regular file inside the
    project directory once links are resolved, and for files over ``max_bytes``.
    """
    label = label or name
    if "\0" in name or os.path.isabs(name):
        return None
    root = os.path.realpath(source_dir)
    lexical = os.path.normpath(os.path.join(root, name))
    if lexical == root or not inside(root, lexical):
        return None
    try:
        os.lstat(lexical)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise _unreadable(label, error.strerror or str(error))
    resolved = os.path.realpath(lexical)
    if not inside(root, resolved) or resolved == root:
        raise _unreadable(label, "it is a symbolic link to a place outside the project directory",
                          "a regular file inside source_dir")
    try:
        status = os.stat(resolved)
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
            raise _unreadable(label, "it is a broken symbolic link", "a regular file inside source_dir")
        raise _unreadable(label, error.strerror or str(error))
    if not stat.S_ISREG(status.st_mode):
        raise _unreadable(label, "it is %s" % _kind(status.st_mode), "a regular file")
    if status.st_size > max_bytes:
        raise _unreadable(label, "it is too large (%d bytes)" % status.st_size, "a file of at most %d bytes" % max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(resolved, flags)
    except OSError as error:
        raise _unreadable(label, error.strerror or str(error))
    try:
        opened = os.fstat(descriptor)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (status.st_dev, status.st_ino):
            raise _unreadable(label, "it changed while it was opened", "a regular file")
        chunks = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(descriptor, min(65536, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise _unreadable(label, error.strerror or str(error))
    finally:
        os.close(descriptor)
    if size > max_bytes:
        raise _unreadable(label, "it is too large (more than %d bytes)" % max_bytes,
                          "a file of at most %d bytes" % max_bytes)
    return b"".join(chunks)
