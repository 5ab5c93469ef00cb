"""Fixtures for the control-plane smoke tests (see fixtures.py; tests/conftest.py may import them too)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fixtures import cluster, clusters, kube_namespace, platform_cluster  # noqa: E402  pylint: disable=wrong-import-position

__all__ = ["cluster", "clusters", "kube_namespace", "platform_cluster"]
