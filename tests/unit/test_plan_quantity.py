"""Resource quantities in the unchanged check: compared by value, parsed by the official client."""
from __future__ import annotations

from decimal import Decimal

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import plan


@pytest.mark.parametrize("text, value", [
    ("500m", Decimal("0.5")), ("0.5", Decimal("0.5")), ("2", Decimal(2)), (" 2 ", Decimal(2)),
    ("1Gi", Decimal(2 ** 30)), ("1G", Decimal(10 ** 9)), ("1k", Decimal(1000)), ("1e3", Decimal(1000)),
    ("128974848", Decimal(128974848)), ("129e6", Decimal(129000000)), ("100n", Decimal("0.0000001")),
    (2, Decimal(2)), (0.1, Decimal("0.1")),
])
def test_quantities_have_their_value(text, value):
    assert plan.quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1ki", "1Xi", "1.2.3", "Gi", None, True, False, [], {}])
def test_what_is_not_a_quantity_has_no_value(text):
    assert plan.quantity(text) is None


def test_the_parser_is_the_official_clients():
    from kubernetes.utils import quantity as official

    assert plan.parse_quantity is official.parse_quantity


@pytest.mark.parametrize("desired, live", [
    ("500m", "0.5"), ("1Gi", "1073741824"), ("1000m", "1"), (1, "1"), ("0.5", "500m"),
])
def test_equal_quantities_are_no_difference(desired, live):
    assert plan.difference({"resources": {"requests": {"cpu": desired}}},
                           {"resources": {"requests": {"cpu": live}}}) is None


def test_different_quantities_and_quantity_like_text_elsewhere_are_differences():
    assert plan.difference({"resources": {"limits": {"memory": "1Gi"}}},
                           {"resources": {"limits": {"memory": "1G"}}}) == "resources.limits.memory"
    # outside requests/limits/capacity/hard/sizeLimit, text is compared as text
    assert plan.difference({"metadata": {"labels": {"size": "500m"}}},
                           {"metadata": {"labels": {"size": "0.5"}}}) == "metadata.labels.size"
