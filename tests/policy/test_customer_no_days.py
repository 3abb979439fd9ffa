"""spec.customer_no_days: loaded (default 90), refused when not a whole number of days,
warned about by `policy check` when 0 or over a year, and shown by `policy diff`."""

from __future__ import annotations

import pytest

from api.errors import InvalidPolicy
from api.policy.diff import diff
from api.policy.loader import parse_policy
from tests.policy.test_loader import policy_text
from tests.policy.test_toolchain import warnings_of


def with_days(value: str | None) -> str:
    text = policy_text()
    if value is None:
        return text
    return text.replace("  tiers:", f"  customer_no_days: {value}\n  tiers:")


@pytest.mark.parametrize(
    ("value", "days"), [(None, 90), ("30", 30), ("0", 0), ("365", 365)], ids=str
)
def test_loaded(value: str | None, days: int) -> None:
    text = with_days(value)
    assert parse_policy(text.encode(), "p.yaml").customer_no_days == days


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "p.yaml:10: spec.customer_no_days: must not be negative, not -1"),
        ("1.5", "p.yaml:10: spec.customer_no_days: must be a whole number, not 1.5"),
        ("soon", "p.yaml:10: spec.customer_no_days: must be a number, not 'soon'"),
    ],
)
def test_refused(value: str, message: str) -> None:
    with pytest.raises(InvalidPolicy) as caught:
        parse_policy(with_days(value).encode(), "p.yaml")
    assert [str(p) for p in caught.value.problems] == [message]


@pytest.mark.parametrize(
    ("value", "warning"),
    [
        (
            "0",
            "p.yaml:10: spec.customer_no_days: warning: customer_no_days is 0: a deal pushed "
            "again after the customer said no is flagged (after_customer_no) only on the same day",
        ),
        (
            "400",
            "p.yaml:10: spec.customer_no_days: warning: customer_no_days is 400: more than a "
            "year, so a deal the customer declined is flagged as pushed after their no for "
            "longer than a fiscal year",
        ),
    ],
)
def test_warned(value: str, warning: str) -> None:
    assert warning in warnings_of(with_days(value))


def test_not_warned_at_the_default() -> None:
    assert not [w for w in warnings_of(with_days(None)) if "customer_no_days" in w]


def test_diff_shows_a_changed_window() -> None:
    old = parse_policy(with_days(None).encode(), "old.yaml")
    new = parse_policy(with_days("30").encode(), "new.yaml")
    assert any("customer's-no window (days): 90 → 30" in line for line in diff(old, new))
