"""The endpoint_integrations filter: vendor records of a deploy result, with their endpoint's address."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.continuouspipe.kubernetes.plugins.filter.endpoints import endpoint_integrations

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))

ENDPOINTS = [
    {"name": "dev", "address": "dev.example.com", "ports": [],
     "integrations": [{"provider": "cloudflare", "zone_identifier": "z1", "proxied": True,
                       "hostnames": ["dev.example.com"]}]},
    {"name": "lb", "address": "203.0.113.9", "ports": [],
     "integrations": [{"provider": "cloudflare", "zone_identifier": "z1", "hostnames": ["a.example.com", "b.example.com"]},
                      {"provider": "httplabs", "project_identifier": "p1", "incoming": "web.httplabs.io"}]},
    {"name": "v6", "address": "2001:db8::1", "ports": [],
     "integrations": [{"provider": "cloudflare", "zone_identifier": "z2", "hostnames": ["six.example.com"],
                       "backend_address": "198.51.100.4"}]},
    {"name": "plain", "address": "198.51.100.1", "ports": []},
]


def test_cloudflare_records_carry_content_and_record_type():
    records = endpoint_integrations(ENDPOINTS, "cloudflare")
    assert [(r["endpoint"], r["content"], r["record_type"]) for r in records] == [
        ("dev", "dev.example.com", "CNAME"), ("lb", "203.0.113.9", "A"), ("v6", "198.51.100.4", "A")]
    assert records[0]["proxied"] is True and records[1]["hostnames"] == ["a.example.com", "b.example.com"]
    v6 = dict(ENDPOINTS[2], integrations=[{"provider": "cloudflare", "hostnames": ["six.example.com"]}])
    assert endpoint_integrations([v6])[0]["record_type"] == "AAAA"


def test_all_providers_in_endpoint_order_and_none_for_plain_endpoints():
    records = endpoint_integrations(ENDPOINTS)
    assert [(r["endpoint"], r["provider"]) for r in records] == [
        ("dev", "cloudflare"), ("lb", "cloudflare"), ("lb", "httplabs"), ("v6", "cloudflare")]
    assert records[2] == {"provider": "httplabs", "project_identifier": "p1", "incoming": "web.httplabs.io",
                          "endpoint": "lb", "address": "203.0.113.9"}
    assert endpoint_integrations([ENDPOINTS[3]]) == []


@pytest.mark.parametrize("value,provider,message", [
    ({"name": "x"}, None, "expects the endpoints list"),
    (ENDPOINTS, "route53", "provider must be one of cloudflare, httplabs"),
    (["dev"], None, "every endpoint must be a mapping"),
])
def test_bad_input_is_a_clear_error(value, provider, message):
    with pytest.raises(AnsibleFilterError, match=message):
        endpoint_integrations(value, provider)


def test_the_filter_resolves_by_its_fully_qualified_name(tmp_path):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"), ANSIBLE_NOCOLOR="1")
    variables = tmp_path / "vars.json"
    variables.write_text(json.dumps({"endpoints": ENDPOINTS}))
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local", "-m", "debug",
         "-a", "msg={{ endpoints | continuouspipe.kubernetes.endpoint_integrations('httplabs') | map(attribute='incoming') }}",
         "-e", "@%s" % variables, "-e", "ansible_python_interpreter=%s" % sys.executable],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"web.httplabs.io"' in proc.stdout
