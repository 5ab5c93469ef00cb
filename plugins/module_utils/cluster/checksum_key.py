# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The key of a deploy task's pod checksums, kept in the environment.

The translator signs the Secrets a pod references with an HMAC (``translate/secrets.py``) and renders
the key into the Secret ``cp-checksum-key.<task>``. Before translating, the deploy stage reads that
Secret so that the same key, hence the same checksums, are used from one deploy to the next; the
first deploy (or one after the Secret was deleted) draws a new random key, which then rolls the pods
that reference Secrets once.
"""
from __future__ import annotations

import base64
import binascii
import os

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.secrets import CHECKSUM_KEY_DATA

KEY_BYTES = 32


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def load(cluster, namespace: str, task: str) -> bytes:
    """The key kept in the environment for ``task``, or a new random one (one GET)."""
    secret = cluster.get(cluster.resource("v1", "Secret"), naming.checksum_key_secret_name(task), namespace)
    encoded = ((secret or {}).get("data") or {}).get(CHECKSUM_KEY_DATA)
    if encoded:
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError, TypeError):
            key = b""
        if key:
            return key
    return new_key()
