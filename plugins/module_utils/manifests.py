# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for manifests as data: identity, masking of secret data, YAML output."""
from __future__ import annotations

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core; only dump_all needs it
    yaml = None
    HAS_YAML = False

MASK = "********"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def object_ref(obj: dict) -> str:
    """``Kind/name`` or ``Kind/namespace/name`` for messages and result keys."""
    meta = obj.get("metadata") or {}
    if meta.get("namespace"):
        return "%s/%s/%s" % (obj.get("kind"), meta["namespace"], meta.get("name"))
    return "%s/%s" % (obj.get("kind"), meta.get("name"))


def masked(obj: dict) -> dict:
    """``obj`` safe to show: Secret ``data``/``stringData`` values replaced by a mask, and the private
    key of an OpenShift Route that carries its certificate inline.

    Keys stay visible so a reader still sees *what* a Secret holds. A Secret or Route is copied as far
    as it changes (its values, its annotations, its TLS key); everything else is shared with ``obj``,
    which is left as it is. Other kinds are returned as they are.
    """
    if isinstance(obj, dict) and obj.get("kind") == "Route":
        tls = (obj.get("spec") or {}).get("tls")
        if not isinstance(tls, dict) or not tls.get("key"):
            return obj
        return dict(obj, spec=dict(obj["spec"], tls=dict(tls, key=MASK)))
    if not isinstance(obj, dict) or obj.get("kind") != "Secret":
        return obj
    out = dict(obj)
    for field in ("data", "stringData"):
        if isinstance(out.get(field), dict):
            out[field] = {key: MASK for key in out[field]}
    metadata = out.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        out["metadata"] = dict(metadata, annotations={key: value for key, value in annotations.items()
                                                      if key != LAST_APPLIED})
    return out


def masked_all(objects) -> list:
    return [masked(obj) for obj in objects]


if yaml is not None:
    from yaml.events import (
        DocumentEndEvent,
        DocumentStartEvent,
        MappingEndEvent,
        MappingStartEvent,
        ScalarEvent,
        SequenceEndEvent,
        SequenceStartEvent,
        StreamEndEvent,
        StreamStartEvent,
    )
    from yaml.nodes import ScalarNode

    # libyaml's emitter when PyYAML was built with it; the text is the pure-Python emitter's either way
    _DUMPER = getattr(yaml, "CSafeDumper", None) or yaml.SafeDumper
    _STR = "tag:yaml.org,2002:str"


class _Events:
    """YAML events of plain data (what ``yaml.dump_all`` would emit, without building a node tree).

    PyYAML represents data as nodes, then serializes the nodes into events, asking its resolver
    twice per scalar whether the plain and the quoted forms would read back as the same type. Here
    the events are made directly from the data, and the event of each distinct scalar is made once
    (manifests repeat the same keys and values thousands of times; the emitter only reads events).
    Strings with a newline are literal blocks (``|``); scalars other than str, int, bool and None
    go through PyYAML's safe representer.
    """

    def __init__(self):
        self.resolver = yaml.resolver.Resolver()
        self.representer = yaml.representer.SafeRepresenter()
        self.scalars = {}
        self.mapping_start = MappingStartEvent(None, None, True, flow_style=False)
        self.mapping_end = MappingEndEvent()
        self.sequence_start = SequenceStartEvent(None, None, True, flow_style=False)
        self.sequence_end = SequenceEndEvent()

    def scalar(self, data) -> ScalarEvent:
        # 0.0 == -0.0 (and hash alike), so a float is known by its repr, not its value
        key = (float, repr(data)) if isinstance(data, float) else (type(data), data)
        event = self.scalars.get(key)
        if event is None:
            if isinstance(data, str):
                value, tag, style = str(data), _STR, "|" if "\n" in data else None
            else:
                node = self.representer.represent_data(data)
                if not isinstance(node, ScalarNode):
                    raise TypeError("cannot write %s as YAML" % type(data).__name__)
                value, tag, style = node.value, node.tag, node.style
            implicit = (self.resolver.resolve(ScalarNode, value, (True, False)) == tag,
                        self.resolver.resolve(ScalarNode, value, (False, True)) == tag)
            event = self.scalars[key] = ScalarEvent(None, None, implicit, value, style=style)
        return event

    def add(self, data, out: list) -> None:
        if isinstance(data, dict):
            out.append(self.mapping_start)
            for key, value in data.items():
                out.append(self.scalar(key))
                if isinstance(value, (dict, list, tuple)):
                    self.add(value, out)
                else:
                    out.append(self.scalar(value))
            out.append(self.mapping_end)
        elif isinstance(data, (list, tuple)):
            out.append(self.sequence_start)
            for item in data:
                if isinstance(item, (dict, list, tuple)):
                    self.add(item, out)
                else:
                    out.append(self.scalar(item))
            out.append(self.sequence_end)
        else:
            out.append(self.scalar(data))


def dump_all(objects) -> str:
    """Objects as one multi-document YAML stream (key order kept), block style, 120 columns."""
    events = _Events()
    out = [StreamStartEvent()]
    for obj in objects:
        out.append(DocumentStartEvent(explicit=True))
        events.add(obj, out)
        out.append(DocumentEndEvent(explicit=False))
    out.append(StreamEndEvent())
    return yaml.emit(out, Dumper=_DUMPER, width=120, allow_unicode=True)
