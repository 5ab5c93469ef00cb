# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side helpers shared by the ``clusters`` inventory plugin and the filter plugins.

* the connection settings of a cluster (what the modules accept, and their ``<option>_env`` forms
  that name an environment variable instead of holding a value),
* branch patterns (``feature/*``) of environment groups,
* the ``serial`` value of a rollout.

Nothing here talks to a cluster or templates a string.
"""
from __future__ import annotations

import os
import re

# Connection options of the modules (doc fragment ``connection``), by kind.
STRING_OPTIONS = (
    "kubeconfig", "context", "host", "api_key", "username", "password", "client_cert", "client_key",
    "ca_cert", "proxy", "no_proxy", "impersonate_user",
)
PATH_OPTIONS = ("kubeconfig", "client_cert", "client_key", "ca_cert")
SECRET_OPTIONS = ("api_key", "password")
BOOL_OPTIONS = ("validate_certs", "persist_config")
LIST_OPTIONS = ("impersonate_groups",)
DICT_OPTIONS = {"proxy_headers": ("proxy_basic_auth", "basic_auth", "user_agent")}
CONNECTION_OPTIONS = STRING_OPTIONS + BOOL_OPTIONS + LIST_OPTIONS + tuple(DICT_OPTIONS)
ENV_SUFFIX = "_env"
ENV_OPTIONS = tuple(name + ENV_SUFFIX for name in STRING_OPTIONS + BOOL_OPTIONS)
ALL_CONNECTION_KEYS = CONNECTION_OPTIONS + ENV_OPTIONS

PROVIDERS = ("aws", "gce", "azure", "own")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FALSE_STRINGS = ("0", "false", "no", "off", "")


class ConnectionError_(ValueError):
    """A connection setting cannot be resolved (an environment variable is missing, ...)."""


def _given(value) -> bool:
    return value is not None and value != "" and value != []


def connection_problems(connection: dict) -> list:
    """What is wrong with a cluster's ``connection`` mapping: a list of (key, message)."""
    problems = []
    if not isinstance(connection, dict):
        return [("", "must be a mapping of connection settings (kubeconfig and context, or host and api_key_env ...)")]
    for key in connection:
        if key not in ALL_CONNECTION_KEYS:
            problems.append((key, "unknown connection setting; known: %s" % ", ".join(sorted(ALL_CONNECTION_KEYS))))
    for name in STRING_OPTIONS + BOOL_OPTIONS:
        env = name + ENV_SUFFIX
        if _given(connection.get(name)) and _given(connection.get(env)):
            problems.append((env, "give either %s or %s, not both" % (name, env)))
        if env in connection:
            value = connection[env]
            if not isinstance(value, str) or not ENV_NAME_RE.match(value):
                problems.append((env, "must be the name of an environment variable, e.g. PROD_TOKEN (got %r)" % (value,)))
    for name in LIST_OPTIONS:
        value = connection.get(name)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            problems.append((name, "must be a list of strings"))
    for name, keys in DICT_OPTIONS.items():
        value = connection.get(name)
        if value is not None and not (isinstance(value, dict) and set(value) <= set(keys)
                                      and all(isinstance(v, str) for v in value.values())):
            problems.append((name, "must be a mapping of %s to strings" % ", ".join(keys)))
    if problems:
        return problems

    def has(name):
        return _given(connection.get(name)) or _given(connection.get(name + ENV_SUFFIX))

    if not (has("kubeconfig") or has("context") or has("host")):
        problems.append(("", "no connection settings: give kubeconfig (and context), or host with api_key, "
                             "client_cert/client_key or username/password (each also as <name>_env)"))
    elif has("host") and not (has("kubeconfig") or has("context")):
        if not (has("api_key") or has("client_cert") or has("username")):
            problems.append(("host", "a host without kubeconfig/context needs credentials: api_key (or api_key_env), "
                                     "client_cert and client_key, or username and password"))
    if has("client_cert") != has("client_key"):
        problems.append(("client_key" if has("client_cert") else "client_cert",
                         "client_cert and client_key go together"))
    if has("username") != has("password"):
        problems.append(("password" if has("username") else "username", "username and password go together"))
    return problems


def describe_connection(connection: dict) -> dict:
    """The connection without secret values: fine to show or to store in an inventory."""
    shown = {}
    for key, value in (connection or {}).items():
        if key in SECRET_OPTIONS and _given(value):
            shown[key] = "********"
        else:
            shown[key] = value
    return shown


def resolve_connection(connection: dict, environ=None, cluster: str = "", credentials=None) -> dict:
    """Module options for a cluster: ``<name>_env`` entries read from the environment (now).

    ``credentials`` (e.g. vaulted values from group_vars/host_vars) override the inventory's values.
    Raises ConnectionError_ naming the cluster and the variable when a named variable is unset.
    """
    environ = os.environ if environ is None else environ
    merged = dict(connection or {})
    for key, value in (credentials or {}).items():
        if _given(value):
            merged.pop(key + ENV_SUFFIX, None)
            merged[key] = value
    out = {}
    for name in CONNECTION_OPTIONS:
        value = merged.get(name)
        env = merged.get(name + ENV_SUFFIX)
        if not _given(value) and _given(env):
            if env not in environ or environ.get(env) == "":
                raise ConnectionError_(
                    "cluster %s: connection setting %s%s names the environment variable %s, which is not set"
                    % (cluster or "?", name, ENV_SUFFIX, env))
            value = environ[env]
            if name in BOOL_OPTIONS:
                value = value.strip().lower() not in FALSE_STRINGS
        if not _given(value):
            continue
        if name in PATH_OPTIONS and isinstance(value, str):
            value = os.path.expanduser(value)
        out[name] = value
    return out


# --------------------------------------------------------------------------------------------------
# Branch patterns

_BAD_REF = re.compile(r"[\s~^:\\]|\.\.|@\{|^/|//")


def branch_pattern_problem(pattern) -> str:
    """Why ``pattern`` is not a usable branch pattern, or '' when it is fine.

    A pattern is a glob (``*`` matches within one path segment, ``**`` across segments, ``?`` one
    character) or, between slashes, a regular expression (``/^feature\\/.+$/``).
    """
    if not isinstance(pattern, str) or not pattern.strip():
        return "a branch pattern must be a non-empty string (a glob such as 'feature/*', or '/regex/')"
    if len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/"):
        try:
            re.compile(pattern[1:-1])
        except re.error as error:
            return "bad regular expression %r: %s" % (pattern, error)
        return ""
    if _BAD_REF.search(pattern) or pattern.endswith("/") or pattern.endswith(".lock"):
        return ("%r cannot match a git branch name (no spaces, ~ ^ : \\ .. @{, no leading, trailing or double /)"
                % (pattern,))
    return ""


def branch_regex(pattern: str):
    if len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/"):
        return re.compile(pattern[1:-1])
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile("^%s$" % out)


def branch_matches(branch: str, patterns) -> bool:
    """True when ``patterns`` is empty/None or ``branch`` matches one of them (a regex: ``search``)."""
    if patterns in (None, "", []):
        return True
    if isinstance(patterns, str):
        patterns = [patterns]
    for pattern in patterns:
        problem = branch_pattern_problem(pattern)
        if problem:
            raise ValueError(problem)
        regex = branch_regex(pattern)
        if (regex.search(branch) if pattern.startswith("/") else regex.match(branch)):
            return True
    return False


# --------------------------------------------------------------------------------------------------
# serial

_SERIAL_ITEM = re.compile(r"^\s*(?:[1-9][0-9]*|(?:100|[1-9][0-9]?)(?:\.[0-9]+)?%)\s*$")


def serial_problem(value) -> str:
    """Why ``value`` is not a usable ``serial`` (1, "2", "50%", [1, "50%"], "1,50%"), or ''."""
    items = parse_serial_items(value)
    if items is None:
        return ("serial must be a positive number, a percentage such as '50%%', or a list of those "
                "(also as a comma-separated string); got %r" % (value,))
    return ""


def parse_serial_items(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return [value] if value > 0 else None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not value:
        return None
    items = []
    for item in value:
        if isinstance(item, bool):
            return None
        if isinstance(item, int):
            if item <= 0:
                return None
            items.append(item)
            continue
        if not isinstance(item, str) or not _SERIAL_ITEM.match(item):
            return None
        item = item.strip()
        items.append(item if item.endswith("%") else int(item))
    return items


def normalize_serial(value):
    """The value for the play keyword ``serial``: an int, a percentage string or a list of those."""
    items = parse_serial_items(value)
    if items is None:
        raise ValueError(serial_problem(value))
    return items[0] if len(items) == 1 else items


def plain(value):
    """Containers as plain dict/list (Ansible 2.19 hands back tagged copies); scalars untouched."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
