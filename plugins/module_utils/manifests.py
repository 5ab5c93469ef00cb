# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for manifests as data: identity, masking of secret data, YAML output."""
from __future__ import annotations

import copy

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core; only dump_all needs it
    yaml = None
    HAS_YAML = False

MASK = "********"


def object_ref(obj: dict) -> str:
    """``Kind/name`` or ``Kind/namespace/name`` for messages and result keys."""
    meta = obj.get("metadata") or {}
    if meta.get("namespace"):
        return "%s/%s/%s" % (obj.get("kind"), meta["namespace"], meta.get("name"))
    return "%s/%s" % (obj.get("kind"), meta.get("name"))


def masked(obj: dict) -> dict:
    """A copy of ``obj`` safe to show: Secret ``data``/``stringData`` values replaced by a mask, and the
    private key of an OpenShift Route that carries its certificate inline.

    Keys stay visible so a reader still sees *what* a Secret holds.
    """
    if isinstance(obj, dict) and obj.get("kind") == "Route":
        tls = (obj.get("spec") or {}).get("tls")
        if not isinstance(tls, dict) or not tls.get("key"):
            return obj
        out = copy.deepcopy(obj)
        out["spec"]["tls"]["key"] = MASK
        return out
    if not isinstance(obj, dict) or obj.get("kind") != "Secret":
        return obj
    out = copy.deepcopy(obj)
    for field in ("data", "stringData"):
        if isinstance(out.get(field), dict):
            out[field] = {key: MASK for key in out[field]}
    annotations = (out.get("metadata") or {}).get("annotations") or {}
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    return out


def masked_all(objects) -> list:
    return [masked(obj) for obj in objects]


if yaml is not None:
    class _Dumper(yaml.SafeDumper):
        """Block-style YAML with multi-line strings as literal blocks."""

    def _str_representer(dumper, data):
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    _Dumper.add_representer(str, _str_representer)


def dump_all(objects) -> str:
    """Objects as one multi-document YAML stream (key order kept)."""
    return yaml.dump_all(
        list(objects), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
        explicit_start=True, allow_unicode=True, width=120,
    )
