"""What the engine knows of a deal's shape: which fields are numbers, which are not."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from api.policy.decimals import to_decimal

NUMERIC_FIELDS = frozenset(
    {"list_amount", "discount_pct", "rebate_pct", "payment_terms_days", "term_months"}
)
OTHER_FIELDS = frozenset(
    {
        "deal_id",
        "owner_id",
        "currency",
        "account",
        "special_billing",
        "close_date",
        "customer_target_date",
        "lines",
        "attributes",
    }
)
LINE_NUMERIC_FIELDS = frozenset({"quantity", "list_price", "discount_pct"})


def restore(stored: Mapping[str, Any], lever_names: Iterable[str]) -> dict[str, Any]:
    """A stored deal (numbers kept as strings) with its numeric fields as Decimals again."""
    numeric = NUMERIC_FIELDS | set(lever_names)
    deal = {k: (to_decimal(v) if k in numeric and v is not None else v) for k, v in stored.items()}
    lines = deal.get("lines")
    if isinstance(lines, list):
        deal["lines"] = [
            {
                k: (to_decimal(v) if k in LINE_NUMERIC_FIELDS and v is not None else v)
                for k, v in line.items()
            }
            for line in lines
        ]
    return deal
