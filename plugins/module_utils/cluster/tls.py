# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``automatic`` TLS certificates (docs/behaviour.md §9.8).

ContinuousPipe generated a self-signed RSA-2048, 10-year certificate ``CN=<host>, O=ContinuousPipe``
once per flow and host and reused it afterwards. Here the certificate is generated when its Secret
(``<endpoint>-automatic``, type ``kubernetes.io/tls``) does not exist in the namespace, and the live
Secret's data is reused when it does — so a redeploy changes nothing. The key never leaves the
Secret (and the release history, itself a Secret).
"""
from __future__ import annotations

import base64
import datetime

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError


def _crypto():
    """The cryptography modules, imported when a certificate is needed (they cost a deploy ~50 ms)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID
    except ImportError:  # pragma: no cover - reported when a certificate is needed
        raise ClusterError("automatic TLS certificates need the Python 'cryptography' package")
    return x509, hashes, serialization, rsa, NameOID


VALIDITY_DAYS = 3650
ORGANIZATION = "ContinuousPipe"


def generate(host: str) -> dict:
    """``{"tls.crt": b64 PEM, "tls.key": b64 PEM}`` of a new self-signed certificate for ``host``."""
    x509, hashes, serialization, rsa, NameOID = _crypto()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION)])
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return {"tls.crt": base64.b64encode(cert_pem).decode("ascii"),
            "tls.key": base64.b64encode(key_pem).decode("ascii")}


def certificate_secret(secret_name: str, host: str, namespace: str, labels: dict, live=None) -> dict:
    """The Secret of an automatic certificate: the live data when it exists, else a new certificate."""
    data = None
    if live is not None and live.get("type") == "kubernetes.io/tls":
        current = live.get("data") or {}
        if current.get("tls.crt") and current.get("tls.key"):
            data = {"tls.crt": current["tls.crt"], "tls.key": current["tls.key"]}
    if data is None:
        data = generate(host)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name, "namespace": namespace, "labels": dict(labels)},
        "type": "kubernetes.io/tls",
        "data": data,
    }


def subject_of(secret: dict) -> str:
    """The certificate subject of a TLS Secret (for tests and messages)."""
    x509 = _crypto()[0]
    pem = base64.b64decode((secret.get("data") or {}).get("tls.crt", ""))
    return x509.load_pem_x509_certificate(pem).subject.rfc4514_string()
