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
