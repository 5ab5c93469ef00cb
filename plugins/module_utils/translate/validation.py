# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks on values that become Kubernetes names or fields, raising DefinitionErrors with key paths.

ContinuousPipe sent whatever the YAML said and let the API server reject it mid-deployment; the
translator checks before anything is applied, so the error names the key to fix.
"""
from __future__ import annotations

import re

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

# resource.Quantity (k8s.io/apimachinery/pkg/api/resource), as in the OpenAPI pattern.
_QUANTITY = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
# IANA_SVC_NAME (k8s.io/apimachinery/pkg/util/validation): container and Service port names.
_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
# Keys of Secret data (ConfigMap/Secret key validation).
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
PROTOCOLS = ("TCP", "UDP", "SCTP")


def dns_label(value, path, what) -> str:
    """A DNS-1123 label (≤63 chars of ``[a-z0-9-]``, alphanumeric at both ends)."""
    if not isinstance(value, str) or not naming.is_dns1123_label(value):
        raise DefinitionError(
            "%s %r is not a valid Kubernetes name" % (what, value), path,
            expected="a DNS-1123 label: at most 63 lowercase letters, digits and '-', "
                     "starting and ending with a letter or digit")
    return value


def dns_subdomain(value, path, what) -> str:
    """A DNS-1123 subdomain (≤253 chars, dot-separated labels)."""
    if not isinstance(value, str) or not naming.is_dns1123_subdomain(value):
        raise DefinitionError(
            "%s %r is not a valid Kubernetes name" % (what, value), path,
            expected="a DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' and '.', "
                     "starting and ending with a letter or digit")
    return value


def service_name(value, path, what) -> str:
    """A Service name: a DNS-1035 label (like a DNS-1123 label, but starting with a letter)."""
    dns_label(value, path, what)
    if not value[0].isalpha():
        raise DefinitionError(
            "%s %r cannot be the name of a Kubernetes Service" % (what, value), path,
            expected="a DNS-1035 label: a DNS-1123 label starting with a letter")
    return value


def host(value, path) -> str:
    """An Ingress rule host: a DNS-1123 subdomain, optionally with a leading ``*.`` wildcard."""
    name = value[2:] if isinstance(value, str) and value.startswith("*.") else value
    if not isinstance(name, str) or not naming.is_dns1123_subdomain(name):
        raise DefinitionError(
            "ingress host %r is not a valid host name" % (value,), path,
            expected="a lowercase DNS name such as feature-x.example.com")
    return value


def port_name(value, path) -> str:
    """A container/Service port name (IANA service name: ≤15 chars, ``[a-z0-9-]``, a letter)."""
    if not is_port_name(value):
        raise DefinitionError(
            "port identifier %r is not a valid Kubernetes port name" % (value,), path,
            expected="at most 15 lowercase letters, digits and '-', with at least one letter, "
                     "no '--', not starting or ending with '-'")
    return value


def is_port_name(value) -> bool:
    """Kubernetes' IsValidPortName: ≤15 chars of ``[a-z0-9-]``, a letter, no ``--``, no edge ``-``."""
    return (isinstance(value, str) and 1 <= len(value) <= 15 and bool(_IANA_SVC_NAME.match(value))
            and "--" not in value and any(char.isalpha() for char in value))


def protocol(value, path) -> str:
    upper = str(value).upper()
    if upper not in PROTOCOLS:
        raise DefinitionError("unknown port protocol %r" % (value,), path, expected="TCP or UDP")
    return upper


def quantity(value, path, what) -> str:
    """A resource quantity such as ``250m``, ``2Gi``, ``5Gi`` (ints are accepted and stringified)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not _QUANTITY.match(str(value)):
        raise DefinitionError(
            "%s %r is not a valid quantity" % (what, value), path,
            expected="a Kubernetes quantity such as 250m, 1, 512Mi or 5Gi")
    return str(value)


def integer(value, path, what) -> int:
    """An int, or a string of digits (ContinuousPipe cast probe fields and replicas with ``(int)``)."""
    if isinstance(value, bool):
        raise DefinitionError("%s must be an integer, got %r" % (what, value), path, expected="an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.match(r"^[+-]?[0-9]+$", value.strip()):
        return int(value.strip())
    raise DefinitionError("%s must be an integer, got %r" % (what, value), path, expected="an integer")


def int_or_string_port(value, path) -> object:
    """A probe port: a number (``80`` or ``"80"``) or the name of a container port."""
    if isinstance(value, bool) or value is None:
        raise DefinitionError("probe port is required", path, expected="a port number or a port name")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        number = int(value)
        if not 1 <= number <= 65535:
            raise DefinitionError("probe port %r is out of range" % (value,), path, expected="1 to 65535")
        return number
    return port_name(value, path)


def port_number(value, path) -> int:
    number = integer(value, path, "port")
    if not 1 <= number <= 65535:
        raise DefinitionError("port %r is out of range" % (value,), path, expected="1 to 65535")
    return number


def secret_key(name, path) -> str:
    """An env var stored in a Secret needs a name usable as a Secret key."""
    if not _SECRET_KEY.match(name or ""):
        raise DefinitionError(
            "secret environment variable %r cannot be stored in a Secret" % (name,), path,
            expected="a name made of letters, digits, '-', '_' and '.'")
    return name
