# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The identity of a project: the flow UUID that names its environments and owns their objects.

ContinuousPipe gave every project (a *flow*) a UUID; environments were named ``<flow uuid>-<branch>``
and labelled ``flow: <uuid>``. Here the flow UUID is, in order:

1. the ``flow_uuid`` option (teams migrating off ContinuousPipe keep their flow's UUID, hence the
   names of their environments);
2. derived from where the code comes from: the URL of the checkout's git remote (``origin``, or its
   only remote) plus the path of ``source_dir`` inside the repository. The same repository checked out
   by a developer in ``~/src/app`` and by a CI job in ``/builds/project`` gets the same UUID; two
   repositories never do, whatever their checkouts' directory names. A remote that is a local
   repository (a mirror; the project cache AWX clones each job's checkout from) is followed to its own
   remote when it can be read;
3. otherwise there is no safe guess: the modules that write to a cluster stop and ask for
   ``flow_uuid``. That is the case of an AWX job running in an execution environment: its checkout is
   a clone of AWX's project cache, which the job cannot read — set ``flow_uuid`` in the job template.
   (Earlier versions used the checkout directory's name — ``project`` for every AWX
   job — which let two projects deploy into one namespace and prune each other.)

The git metadata is read as files (``.git/config``), never by running git: a checkout's config can
name programs that git would run.
"""
from __future__ import annotations

import os
import re
import stat
import uuid
from typing import Optional, Tuple

# Name-based UUIDs of projects that never had a ContinuousPipe flow (the uuid5 namespace).
FLOW_NAMESPACE = uuid.UUID("6f1c1d2e-5b8a-4c1e-9a57-3c0a7b1e2d40")
MAX_CONFIG_BYTES = 1 << 20
_REMOTE_SECTION = re.compile(r'^\s*\[\s*remote\s+"((?:[^"\\]|\\.)*)"\s*\]\s*$')
_SECTION = re.compile(r"^\s*\[")
_URL = re.compile(r"^\s*url\s*=\s*(.*?)\s*$", re.IGNORECASE)
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.*)$")


class IdentityError(Exception):
    """The project's identity cannot be determined safely."""


def legacy_flow_uuid(source_dir: str) -> str:
    """The flow UUID earlier versions derived from the checkout directory's name (for migrations)."""
    name = os.path.basename(os.path.normpath(os.path.abspath(source_dir)))
    return str(uuid.uuid5(FLOW_NAMESPACE, name))


def _read_small(path: str) -> Optional[str]:
    """A regular file of at most ``MAX_CONFIG_BYTES``, else None: the checkout comes from the repository,
    and a FIFO named ``.git/config`` must not hang the run (opened without blocking, type checked)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None
        with os.fdopen(os.dup(descriptor), "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(descriptor)
    if len(data) > MAX_CONFIG_BYTES:
        return None
    return data.decode("utf-8", "replace")


def find_repository(source_dir: str) -> Optional[Tuple[str, str]]:
    """(work tree root, git directory holding ``config``) of the checkout around ``source_dir``."""
    current = os.path.realpath(source_dir)
    while True:
        dot_git = os.path.join(current, ".git")
        if os.path.isdir(dot_git):
            return current, dot_git
        if os.path.isfile(dot_git):  # a worktree or a submodule: "gitdir: <path>"
            text = _read_small(dot_git) or ""
            match = re.match(r"^gitdir:\s*(.+?)\s*$", text.strip())
            if match:
                gitdir = os.path.normpath(os.path.join(current, match.group(1)))
                common = _read_small(os.path.join(gitdir, "commondir"))
                if common:
                    gitdir = os.path.normpath(os.path.join(gitdir, common.strip()))
                return current, gitdir
            return None
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def remotes(config_text: str) -> dict:
    """remote name → url, from the text of a git config file."""
    out, name = {}, None
    for line in config_text.splitlines():
        match = _REMOTE_SECTION.match(line)
        if match:
            name = match.group(1)
            continue
        if _SECTION.match(line):
            name = None
            continue
        if name is not None and name not in out:
            url = _URL.match(line)
            if url:
                out[name] = url.group(1).strip('"')
    return out


def normalise_url(url: str) -> str:
    """``git@github.com:Org/App.git``, ``https://user:token@github.com/Org/App`` → ``github.com/org/app``.

    Credentials, scheme, port-less differences, a trailing ``.git`` and ``/`` and the case are dropped
    so that every way of cloning one repository gives one string.
    """
    url = url.strip()
    match = re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://(.*)$", url)
    if match:
        rest = match.group(1)
        host, path = rest.split("/", 1) if "/" in rest else (rest, "")
        host = host.rsplit("@", 1)[-1]
        if url.lower().startswith("file://"):
            host, path = "", rest
    else:
        scp = _SCP_LIKE.match(url)
        if scp and not os.path.isabs(url):
            host, path = scp.group(1), scp.group(2)
        else:
            host, path = "", url
    host = host.lower()
    if host.endswith(":22") or host.endswith(":443") or host.endswith(":80"):
        host = host.rsplit(":", 1)[0]
    path = path.strip("/") if host else path.rstrip("/")
    if path.lower().endswith(".git"):
        path = path[:-4]
    return ("%s/%s" % (host, path) if host else path).lower()


def _local_path(url: str) -> Optional[str]:
    """The path a ``file://`` URL or a plain path remote names, else None (a network remote)."""
    if url.lower().startswith("file://"):
        return url[len("file://"):] or None
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url) or (_SCP_LIKE.match(url) and not os.path.isabs(url)):
        return None
    return url


def _repository_config(path: str) -> Optional[str]:
    """The config text of the repository at ``path`` (a work tree or a bare repository)."""
    found = find_repository(path) if os.path.isdir(os.path.join(path, ".git")) or \
        os.path.isfile(os.path.join(path, ".git")) else None
    if found:
        return _read_small(os.path.join(found[1], "config"))
    if os.path.isfile(os.path.join(path, "HEAD")):  # bare
        return _read_small(os.path.join(path, "config"))
    return None


def _origin(config_text: str) -> Optional[str]:
    urls = remotes(config_text)
    return urls.get("origin") or (next(iter(urls.values())) if len(urls) == 1 else None)


def _resolve(url: str, base: str, depth: int = 0) -> Optional[str]:
    """The repository a remote URL stands for: a local clone's own origin when it can be read (a
    mirror, AWX's project cache), the local path when it has none, None when it cannot be read."""
    path = _local_path(url)
    if path is None:
        return normalise_url(url)
    path = os.path.normpath(os.path.join(base, os.path.expanduser(path)))
    config = _repository_config(path) if depth < 4 else None
    if config is None:
        return None  # a local remote that is not here (e.g. AWX's project cache, outside the job)
    origin = _origin(config)
    if origin is None:
        return normalise_url(os.path.realpath(path))
    return _resolve(origin, path, depth + 1)


def source_of(source_dir: str) -> Optional[str]:
    """``<normalised remote URL>//<path of source_dir in the repository>``, or None."""
    found = find_repository(source_dir)
    if not found:
        return None
    root, gitdir = found
    config = _read_small(os.path.join(gitdir, "config"))
    url = _origin(config) if config is not None else None
    resolved = _resolve(url, root) if url else None
    if not resolved:
        return None
    inside = os.path.relpath(os.path.realpath(source_dir), root).replace(os.sep, "/")
    return "%s//%s" % (resolved, "" if inside == "." else inside)


def flow_uuid(source_dir: str, given: Optional[str] = None) -> str:
    """The project's flow UUID (see the module doc); raises IdentityError when it cannot be told."""
    if given:
        return given
    source = source_of(source_dir)
    if source is None:
        raise IdentityError(
            "cannot tell which project %s is: it is not a git checkout whose remote (origin) can be read here "
            "(an AWX job's checkout is a clone of AWX's project cache). Set flow_uuid (the ContinuousPipe flow "
            "UUID, or any UUID that stays the same for this project, e.g. in the job template's extra variables): "
            "environments are named after it and owned by it. Earlier versions of this collection used %s for "
            "this directory" % (source_dir, legacy_flow_uuid(source_dir)))
    return str(uuid.uuid5(FLOW_NAMESPACE, "git:" + source))
