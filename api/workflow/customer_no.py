"""The customer's no: a resubmission after a `customer_declined` withdrawal is flagged."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from api.workflow.machine import went_up

AFTER_CUSTOMER_NO = "after_customer_no"
DEEPER_AFTER_CUSTOMER_NO = "deeper_after_customer_no"
WITHDRAW_REASON_CODES = (
    "customer_declined",
    "customer_delayed",
    "lost_to_competitor",
    "duplicate",
    "other",
)
DECLINED = "customer_declined"


def within_window(declined_on: date, today: date, window_days: int) -> bool:
    """A submission `today` is within `window_days` of a no given on `declined_on`."""
    return 0 <= (today - declined_on).days <= window_days


def after_no_flags(
    declined: Mapping[str, Decimal | None], asked: Mapping[str, Decimal | None]
) -> tuple[str, ...]:
    """The flags for a submission after a no: always after_customer_no, plus
    deeper_after_customer_no when any lever asks more than the withdrawn request did."""
    if went_up(declined, asked):
        return (AFTER_CUSTOMER_NO, DEEPER_AFTER_CUSTOMER_NO)
    return (AFTER_CUSTOMER_NO,)
