# -*- coding: utf-8 -*-
"""Issue 10: connection option values that cannot work are clear errors, never tracebacks."""
from __future__ import annotations

import os
import re

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import connection
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError


@pytest.mark.parametrize("settings, fragment", [
    (dict(host="https://h", api_key="t", proxy="::::"), "proxy: '::::' is not a valid URL"),
    (dict(host="https://h", api_key="t", proxy="http://"), "proxy: 'http://' is not a valid URL"),
    (dict(host="https://h", api_key="t", proxy="ftp://p:3128"), "proxy: 'ftp://p:3128' is not a valid URL"),
    (dict(host="::::", api_key="t"), "host: '::::' is not a valid URL"),
    (dict(host="kube.example.com:6443", api_key="t"), "is not a valid URL"),
    (dict(host="https://h:notaport", api_key="t"), "is not a valid URL"),
    (dict(host="https://[::1", api_key="t"), "is not a valid URL"),
    (dict(kubeconfig="/etc/passwd"), "is not a kubeconfig file"),
    (dict(kubeconfig="/dev/null"), "is not a regular file"),
    (dict(kubeconfig="/"), "is not a regular file"),
    (dict(kubeconfig=["a"]), "expected a path or a mapping"),
    (dict(kubeconfig=7), "expected a path or a mapping"),
])
def test_bad_connection_values_are_clear_errors_not_tracebacks(settings, fragment):
    with pytest.raises(ClusterError, match=re.escape(fragment)):
        connection.Cluster.from_settings(settings)


def test_a_kubeconfig_that_is_not_yaml_or_a_fifo(tmp_path):
    (tmp_path / "bad").write_bytes(b"\xff\xfe")
    with pytest.raises(ClusterError, match="cannot be read as YAML"):
        connection.build_configuration(dict(kubeconfig=str(tmp_path / "bad")))
    os.mkfifo(str(tmp_path / "fifo"))
    with pytest.raises(ClusterError, match="not a regular file"):
        connection.build_configuration(dict(kubeconfig=str(tmp_path / "fifo")))


def test_a_socks_or_http_proxy_is_accepted():
    for proxy in ("http://proxy:3128", "socks5h://proxy:1080"):
        assert connection.build_configuration(dict(host="https://h", api_key="t", proxy=proxy)).proxy == proxy
