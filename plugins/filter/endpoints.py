# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the results of the deploy module.

Documentation: one YAML file per filter next to this one (``ansible-doc -t filter <name>``).
"""
from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError

PROVIDERS = ("cloudflare", "httplabs")


def _record_type(address: str) -> str:
    """A for an IPv4 address, AAAA for IPv6, CNAME for a host name (as ContinuousPipe chose)."""
    try:
        return "A" if ipaddress.ip_address(address).version == 4 else "AAAA"
    except ValueError:
        return "CNAME"


def endpoint_integrations(endpoints, provider=None):
    """The vendor records of a deploy result's ``endpoints``, each with its endpoint's address."""
    if not isinstance(endpoints, (list, tuple)):
        raise AnsibleFilterError("endpoint_integrations expects the endpoints list of a deploy result; got %s"
                                 % type(endpoints).__name__)
    if provider is not None and provider not in PROVIDERS:
        raise AnsibleFilterError("endpoint_integrations: provider must be one of %s, not %r"
                                 % (", ".join(PROVIDERS), provider))
    out = []
    for endpoint in endpoints:
        if not isinstance(endpoint, dict):
            raise AnsibleFilterError("endpoint_integrations: every endpoint must be a mapping")
        for integration in endpoint.get("integrations") or []:
            if provider is not None and integration.get("provider") != provider:
                continue
            entry = dict(integration)
            entry["endpoint"] = endpoint.get("name")
            entry["address"] = endpoint.get("address")
            if entry.get("provider") == "cloudflare":
                entry["content"] = entry.get("backend_address") or entry["address"]
                entry["record_type"] = _record_type(str(entry["content"]))
            out.append(entry)
    return out


class FilterModule:
    def filters(self):
        return {"endpoint_integrations": endpoint_integrations}
