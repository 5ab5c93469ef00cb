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
    """A copy of ``obj`` safe to show: Secret ``data``/``stringData`` values replaced by a mask.

    Keys stay visible so a reader still sees *what* a Secret holds.
    """
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
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    # libyaml's emitter when PyYAML was built with it. For manifests the text is the same as the
    # pure-Python emitter's (for any data, it loads back to the same values).
    _BaseDumper = getattr(yaml, "CSafeDumper", None) or yaml.SafeDumper
    _STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"

    class _Dumper(_BaseDumper):
        """Block-style YAML with multi-line strings as literal blocks.

        Manifests are plain data (the translation makes them with a JSON round trip), so the
        representer skips PyYAML's alias bookkeeping and builds the nodes of str, dict and list
        directly; the emitter asks for the implicit tag of every scalar twice, which is cached.
        """

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._plain_tags = {}
            self._quoted_tags = {}

        def ignore_aliases(self, data):
            return True

        def represent_data(self, data):
            kind = type(data)
            if kind is str:
                return ScalarNode(_STR, data, style="|" if "\n" in data else None)
            if kind is dict and not self.sort_keys:
                return MappingNode(_MAP, [(self.represent_data(key), self.represent_data(value))
                                          for key, value in data.items()], flow_style=self.default_flow_style)
            if kind is list:
                return SequenceNode(_SEQ, [self.represent_data(item) for item in data],
                                    flow_style=self.default_flow_style)
            return super().represent_data(data)

        # SafeDumper has no path resolvers: nothing to track per node
        def descend_resolver(self, current_node, current_index):
            return None

        def ascend_resolver(self):
            return None

        def resolve(self, kind, value, implicit):
            if kind is not ScalarNode:
                return super().resolve(kind, value, implicit)
            cache = self._plain_tags if implicit[0] else self._quoted_tags
            try:
                return cache[value]
            except KeyError:
                tag = cache[value] = super().resolve(kind, value, implicit)
                return tag

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


def dump(obj, sort_keys: bool = False) -> str:
    """One object as block-style YAML (libyaml's emitter when there is one)."""
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=sort_keys, default_flow_style=False, allow_unicode=True,
                     width=120)
