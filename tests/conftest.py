"""Make ``ansible_collections.continuouspipe.kubernetes`` importable for plain pytest.

The checkout is linked at ``.build/collections/ansible_collections/continuouspipe/kubernetes`` (the
layout the Ansible collection loader needs) unless it already lives inside such a layout, and the
loader is installed the way the ansible CLIs do it.
"""
from __future__ import annotations

import os
import sys

from ansible.utils.collection_loader import AnsibleCollectionConfig

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))


def _collections_root() -> str:
    parts = ROOT.split(os.sep)
    if len(parts) >= 3 and parts[-3] == "ansible_collections":
        return os.sep.join(parts[:-3])
    link_root = os.path.join(ROOT, ".build", "collections")
    link = os.path.join(link_root, "ansible_collections", "continuouspipe", "kubernetes")
    if not os.path.islink(link) or os.path.realpath(link) != ROOT:
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(ROOT, link)
    return link_root


COLLECTIONS_ROOT = _collections_root()

if AnsibleCollectionConfig.collection_finder is None:
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader([COLLECTIONS_ROOT])

if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)

# Real local control planes for every test below tests/ (see tests/cluster/fixtures.py).
sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))
from fixtures import cluster, clusters, kube_namespace  # noqa: E402  pylint: disable=wrong-import-position

__all__ = ["cluster", "clusters", "kube_namespace"]
