"""manifests.dump_all: YAML events made straight from the data, through libyaml's emitter.

For manifests (block style, plain keys, text in the Basic Multilingual Plane) the text is exactly what
PyYAML's pure-Python dumper writes; for any data it loads back to the same values.
"""
from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.manifests import dump_all, masked


class _Reference(yaml.SafeDumper):
    """What dump_all wrote before: PyYAML's own dumper, multi-line strings as literal blocks."""


_Reference.add_representer(str, lambda dumper, data: dumper.represent_scalar(
    "tag:yaml.org,2002:str", data, style="|" if "\n" in data else None))


def reference(objects):
    return yaml.dump_all(objects, Dumper=_Reference, sort_keys=False, default_flow_style=False, explicit_start=True,
                         allow_unicode=True, width=120)


TRICKY = ["", "yes", "no", "on", "true", "null", "~", "0777", "1.0", "1e3", "- x", "a: b", "#x", " lead", "trail ",
          "multi\nline\n", "x\n", "é ü €", "*ref", "&anchor", "!tag", "@at", "`tick", "%pct", "{a}", "[b]", "'q'", '"dq"']
text = st.one_of(st.sampled_from(TRICKY), st.text(alphabet=st.characters(max_codepoint=0xFFFF, blacklist_categories=(
    "Cs", "Cc")), max_size=40), st.text(alphabet="abcdefghij -_./:=", min_size=100, max_size=200))
key = st.one_of(st.sampled_from(["metadata", "name", "labels", "app.kubernetes.io/name", "data", "yes", "1"]),
                st.text(alphabet="abcdefghijklmnopqrstuvwxyz-./", min_size=1, max_size=20))
scalar = st.one_of(text, st.integers(-10 ** 6, 10 ** 6), st.booleans(), st.none(),
                   st.floats(allow_nan=False, allow_infinity=True))
value = st.recursive(scalar, lambda children: st.one_of(st.lists(children, max_size=4),
                                                        st.dictionaries(key, children, max_size=4)), max_leaves=25)
manifest = st.dictionaries(key, value, min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(manifest, min_size=1, max_size=4))
def test_manifests_are_written_as_pyyaml_writes_them(objects):
    assert dump_all(objects) == reference(objects)


def test_values_equal_in_python_but_written_differently_keep_their_own_text():
    # hypothesis found this: 0.0 == -0.0, and a cache keyed by value wrote the second as the first
    objects = [{"metadata": 0.0, "name": -0.0, "labels": [1, 1.0, True, -0.0, 0.0]}]
    assert dump_all(objects) == reference(objects)
    assert "name: -0.0" in dump_all(objects)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=10), st.recursive(
    st.one_of(st.text(), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=5), children,
                                                                               max_size=3)), max_leaves=15),
    max_size=5), min_size=1, max_size=3))
def test_any_data_loads_back_as_it_was(objects):
    assert list(yaml.safe_load_all(dump_all(objects))) == objects


def test_a_real_manifest_reads_as_expected():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-secrets", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": "{...}", "keep": "me"}}, "data": {"PASSWORD": "c2VjcmV0"}}
    shown = masked(secret)
    assert shown["data"] == {"PASSWORD": "********"}
    assert shown["metadata"]["annotations"] == {"keep": "me"}
    assert secret["data"] == {"PASSWORD": "c2VjcmV0"}  # the original is left as it is
    assert "kubectl.kubernetes.io/last-applied-configuration" in secret["metadata"]["annotations"]
    text = dump_all([shown, {"kind": "ConfigMap", "data": {"script": "echo one\necho two\n", "port": "80"}}])
    assert text == ("---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: web-secrets\n  annotations:\n    keep: me\n"
                    "data:\n  PASSWORD: '********'\n---\nkind: ConfigMap\ndata:\n  script: |\n    echo one\n"
                    "    echo two\n  port: '80'\n")
