"""The retry policy of the REST client: which failures are tried again, how long it waits, when it stops.

Retries against a real API server (429 from API Priority and Fairness, a stopped API server) are in
tests/integration/test_reliability.py; these are the policy's rules."""
from __future__ import annotations

import random

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.connection import (
    RetryPolicy,
    _Transient,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError


def throttled(retry_after=None):
    return _Transient(ClusterError("GET /x: too many requests (HTTP 429)", status=429), sent=False,
                      retry_after=retry_after)


def test_not_processed_answers_are_retried_even_for_a_post():
    policy = RetryPolicy()
    assert policy.delay(1, 0.0, throttled(), idempotent=False) is not None


def test_a_sent_request_is_only_retried_when_idempotent():
    policy = RetryPolicy()
    reset = _Transient(ConnectionResetError("reset"), sent=True)
    assert policy.delay(1, 0.0, reset, idempotent=False) is None
    assert policy.delay(1, 0.0, reset, idempotent=True) is not None


def test_backoff_is_exponential_with_full_jitter_and_capped():
    random.seed(7)
    policy = RetryPolicy(attempts=10, base=0.25, cap=2.0, budget=1000)
    failure = _Transient(OSError("x"), sent=False)
    for attempt in range(1, 9):
        bound = min(2.0, 0.25 * 2 ** (attempt - 1))
        delays = [policy.delay(attempt, 0.0, failure, True) for _sample in range(200)]
        assert all(0 <= delay <= bound for delay in delays)
        assert max(delays) > bound * 0.8  # the whole range is used (jitter), not a fixed value


def test_retry_after_is_honoured_up_to_the_cap():
    policy = RetryPolicy(cap=8.0)
    assert policy.delay(1, 0.0, throttled(retry_after=3), True) >= 3
    assert policy.delay(1, 0.0, throttled(retry_after=60), True) <= 8.0


def test_attempts_and_budget_bound_the_retries():
    policy = RetryPolicy(attempts=3, budget=5.0)
    failure = _Transient(OSError("x"), sent=False)
    assert policy.delay(2, 0.0, failure, True) is not None
    assert policy.delay(3, 0.0, failure, True) is None
    assert policy.delay(1, 4.999, throttled(retry_after=1), True) is None


def test_the_final_error_says_unresponsive_and_has_status_0():
    timed_out = _Transient(TimeoutError("read timed out"), sent=True, timed_out=True)
    error = timed_out.error("aws-eu", "GET", "/apis/apps/v1/namespaces/x/deployments", 4, 61.2)
    assert error.status == 0
    assert str(error) == ("the API server of aws-eu is unresponsive: GET /apis/apps/v1/namespaces/x/deployments got "
                          "no answer after 4 attempts over 61.2s")
    http = throttled().error("aws-eu", "GET", "/x", 6, 20.0)
    assert http.status == 429 and "after 6 attempts over 20.0s" in str(http)


def _self_signed(tmp_path):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")


def _serve(handler):
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)

    def loop():
        while True:
            try:
                peer, _address = server.accept()
            except OSError:
                return
            handler(peer)
    threading.Thread(target=loop, daemon=True).start()
    return server


def _request(port, **settings):
    from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import connection

    cluster = connection.Cluster.from_settings(dict({"host": "https://127.0.0.1:%d" % port, "api_key": "t"}, **settings))
    cluster.retry_policy = connection.RetryPolicy(attempts=3, base=0.01, budget=5)
    try:
        cluster.request("GET", "/version")
    except ClusterError as error:
        return error, cluster.retries
    raise AssertionError("the request succeeded")


def test_a_connection_cut_in_the_tls_handshake_is_retried():
    """The kubernetes client reports TLS errors as ApiException(status=0): an API server that goes
    away in the middle of a request (EOF in the handshake) is a lost connection, tried again."""
    server = _serve(lambda peer: peer.close())
    try:
        error, retries = _request(server.getsockname()[1], validate_certs=False)
    finally:
        server.close()
    assert error.status == 0 and "after 3 attempts" in str(error), str(error)
    assert len(retries) == 2


def test_a_certificate_that_does_not_verify_is_not_retried(tmp_path):
    import ssl

    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def handshake(peer):
        try:
            context.wrap_socket(peer, server_side=True).close()
        except (ssl.SSLError, OSError):
            peer.close()
    server = _serve(handshake)
    try:
        error, retries = _request(server.getsockname()[1])  # the self-signed certificate is not trusted
    finally:
        server.close()
    assert error.status == 0 and "certificate" in str(error).lower(), str(error)
    assert retries == []
