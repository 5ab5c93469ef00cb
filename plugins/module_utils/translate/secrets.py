# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets: secret env vars, TLS certificates, and the pod checksum.

* Env vars marked ``secret`` (they came from a secret or vault-encrypted variable) are stored in one
  Secret per service, ``<identifier>-secrets`` (type Opaque), and referenced with
  ``valueFrom.secretKeyRef``; their value is never written inline. ContinuousPipe inlined every
  value in the pod template (docs/behaviour.md §9.5); this is a deliberate deviation.
* Endpoint certificates become ``kubernetes.io/tls`` Secrets named ``<endpoint>-<certificate>``
  with ``data: {tls.crt, tls.key}`` — the values are base64 already (§9.8).
* All Secret values are written base64-encoded under ``data`` (never ``stringData``, which
  server-side apply cannot diff or remove keys from), keys sorted.
* Pods are immutable (seed concepts): the pod template carries ``continuouspipe.io/checksum``, an
  HMAC-SHA256 over the data of the Secrets its containers reference, so a changed secret value —
  which does not change the template itself — still triggers a rolling update. The hash is keyed
  (``TranslateOptions.checksum_key``, kept in the Secret ``cp-checksum-key.<task>``): a plain hash
  would let whoever may read Deployments, but not Secrets, test guesses of a weak secret offline.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Dict, List, Optional

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model, naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate import labels, validation
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.plans import Context
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.variables import ResolvedEnv

SECRET_SUFFIX = "-secrets"


def env_secret_name(identifier: str) -> str:
    return identifier + SECRET_SUFFIX


def _b64(value: str) -> str:
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def env_secret(ctx: Context, service: model.Service, env: List[ResolvedEnv]) -> Optional[dict]:
    """The Opaque Secret holding a service's secret env values, or None when it has none."""
    path = ctx.service_path(service) + ("specification", "environment_variables")
    data: Dict[str, str] = {}
    for entry in env:
        if entry.secret:
            entry_path = path + ((entry.index,) if entry.index is not None else ())
            validation.secret_key(entry.name, entry_path)
            data[entry.name] = _b64(entry.value)
    if not data:
        return None
    name = env_secret_name(service.identifier)
    validation.dns_subdomain(name, ctx.service_path(service), "secret name")
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": labels.metadata(ctx, name, labels.of_service(ctx, service.identifier, labels.ROLE_SECRETS)),
        "type": "Opaque",
        "data": {key: data[key] for key in sorted(data)},
    }


def container_env(service: model.Service, env: List[ResolvedEnv]) -> List[dict]:
    """``env`` of a container: plain values inline, secret ones by ``secretKeyRef``."""
    out = []
    for entry in env:
        if entry.secret:
            out.append({"name": entry.name, "valueFrom": {"secretKeyRef": {
                "name": env_secret_name(service.identifier), "key": entry.name}}})
        else:
            out.append({"name": entry.name, "value": entry.value})
    return out


def tls_secret(ctx: Context, identifier: str, endpoint: model.Endpoint, certificate: model.TlsCertificate,
               path) -> dict:
    """A ``kubernetes.io/tls`` Secret ``<endpoint>-<certificate name>`` (§9.8)."""
    name = naming.tls_secret_name(endpoint.name, certificate.name)
    validation.dns_subdomain(name, path + ("name",), "TLS secret name")
    for key in ("cert", "key"):
        value = getattr(certificate, key)
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError, TypeError):
            # The value is secret: never echo it.
            raise DefinitionError("certificate %r: %s is not base64" % (certificate.name, key), path + (key,),
                                  expected="a base64-encoded PEM (or 'automatic' for both cert and key)")
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": labels.metadata(ctx, name, labels.of_service(ctx, identifier, labels.ROLE_TLS)),
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": certificate.cert, "tls.key": certificate.key},
    }


def automatic_secret_name(endpoint: model.Endpoint) -> str:
    """ContinuousPipe renamed generated certificates ``automatic``: Secret ``<endpoint>-automatic``."""
    return naming.tls_secret_name(endpoint.name, "automatic")


CHECKSUM_KEY_DATA = "key"
CHECKSUM_PREFIX = "hmac-sha256:"


def pod_checksum(secrets: List[dict], key: Optional[bytes]) -> Optional[str]:
    """HMAC-SHA256 (``key``) over the referenced Secrets' names and data, canonical JSON; None when
    the pod references no Secret."""
    if not secrets:
        return None
    if not key:
        raise ValueError("TranslateOptions.checksum_key is required: a pod references a Secret")
    canonical = {secret["metadata"]["name"]: secret.get("data", {}) for secret in secrets}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return CHECKSUM_PREFIX + hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def checksum_key_secret(ctx: Context) -> dict:
    """The Secret ``cp-checksum-key.<task>`` that keeps the key of the pod checksums."""
    labels_ = labels.common(ctx)
    labels_[labels.COMPONENT] = labels.ROLE_CHECKSUM_KEY
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": labels.metadata(ctx, naming.checksum_key_secret_name(ctx.task.identifier), labels_),
        "type": "Opaque",
        "data": {CHECKSUM_KEY_DATA: base64.b64encode(ctx.options.checksum_key).decode("ascii")},
    }
