"""The five reports of DESIGN section 9, one function each. Every function returns the
items as plain data (strings for decimals): what the JSON answer, the CSV export and the
console render alike; `csv_text` writes those same items as CSV (COLUMNS, flattened).
Call `roll_up` on the primary first: it keeps all-time reports fast."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg

from api.errors import Invalid
from api.policy.decimals import decimal_str
from api.policy.model import Policy
from api.reports.bands import BAND_KEYS, proximity
from api.reports.buckets import BUCKET_NAMES, BUCKETS, quarter_key
from api.reports.numbers import mean, nearest_rank, ratio_text, share
from api.service.approval_times import COLUMNS as APPROVAL_TIMES_COLUMNS
from api.storage import reports as store
from api.workflow.customer_no import (
    AFTER_CUSTOMER_NO,
    DEEPER_AFTER_CUSTOMER_NO,
    WITHDRAW_REASON_CODES,
)
from api.workflow.overrides import Category

Items = list[dict[str, Any]]
CATEGORIES = tuple(c.value for c in Category)
BOUNDS = [low for _, low, _ in BUCKETS]
_ACTIONS = {"approve": "approved", "reject": "rejected", "return": "returned"}
REPORTS = ("threshold-proximity", "period-end", "rescues", "seller-timeline", "customer-no")
COLUMNS: dict[str, list[str]] = {
    "threshold-proximity": [
        "key",
        *(f"bands.{k}" for k in BAND_KEYS),
        "asks",
        "bunching",
        "flagged",
    ],
    "period-end": ["key", "bucket", "requests", "mean", "p90", "overrides", "excess_value"],
    "rescues": [
        "key",
        "approved",
        "rejected",
        "returned",
        *(f"overrides.{c}" for c in CATEGORIES),
        "rescues",
        "coaching_share",
    ],
    "seller-timeline": ["key", "requests", "flagged", "slips"],
    "customer-no": [
        "key",
        *(f"withdrawals.{c}" for c in WITHDRAW_REASON_CODES),
        "after_no",
        "deeper_after_no",
    ],
    "approval-times": APPROVAL_TIMES_COLUMNS,
}


def roll_up(conn: psycopg.Connection, budget_s: float | None = None) -> None:
    """Sum every month that has ended into the reports' monthly rollups (within budget_s
    seconds, when given: a later call goes on). It writes, so `conn` is the primary's; call
    it before a report (the report functions only read, from a replica too, and are exact
    whether or not the rollups are up to date: they are only faster when they are)."""
    store.prepare(conn, datetime.now(UTC).date(), BOUNDS, budget_s)


def check_lever(policy: Policy, lever: str) -> None:
    """422 naming `lever` unless the active policy has it (computed levers included)."""
    names = [x.name for x in policy.levers]
    if lever not in names:
        raise Invalid(
            "Unknown lever.", {"lever": [f"Not a lever of the active policy: {', '.join(names)}."]}
        )


def threshold_proximity(
    conn: psycopg.Connection,
    policy: Policy,
    lever: str,
    band: Decimal,
    group_by: str,
    start: date | None,
    end: date | None,
) -> Items:
    """Threshold hugging: per requester tier or owner, every ask's offset from the
    requester's own ceiling in bands of `band`, with bunching and its flag."""
    check_lever(policy, lever)
    groups: dict[str, list[tuple[Decimal, int]]] = defaultdict(list)
    for key, offset, count in store.offsets(conn, lever, group_by, start, end):
        groups[key].append((offset, count))
    order = sorted(groups, key=_tier_order(policy) if group_by == "tier" else None)
    return [{"key": key, **proximity(groups[key], band).as_dict()} for key in order]


def period_end(
    conn: psycopg.Connection, policy: Policy, lever: str, start: date | None, end: date | None
) -> Items:
    """The mad dash: per fiscal quarter and bucket of days to quarter end at submission,
    requests, the mean and p90 of `lever` asked, overrides and their excess value."""
    check_lever(policy, lever)
    requests: dict[tuple[int, int, int], int] = {}
    for year, quarter, bucket, n in store.submissions_by_bucket(conn, BOUNDS, start, end):
        requests[(year, quarter, bucket)] = n
    values: dict[tuple[int, int, int], list[tuple[Decimal, int]]] = defaultdict(list)
    for year, quarter, bucket, value, n in store.values_by_bucket(conn, lever, BOUNDS, start, end):
        values[(year, quarter, bucket)].append((value, n))
    overrides: dict[tuple[int, int, int], tuple[int, Decimal]] = {}
    for year, quarter, bucket, n, excess in store.overrides_by_bucket(conn, BOUNDS, start, end):
        overrides[(year, quarter, bucket)] = (n, excess)
    items = []
    for group in sorted(set(requests) | set(overrides) | set(values)):
        year, quarter, bucket = group
        histogram = values.get(group, [])
        average, p90 = mean(histogram), nearest_rank(histogram, 90)
        count, excess = overrides.get(group, (0, Decimal("0.00")))
        items.append(
            {
                "key": quarter_key(year, quarter),
                "bucket": BUCKET_NAMES[bucket - 1],
                "requests": requests.get(group, 0),
                "mean": ratio_text(average),
                "p90": decimal_str(p90) if p90 is not None else None,
                "overrides": count,
                "excess_value": decimal_str(excess.quantize(Decimal("0.01"))),
            }
        )
    return items


def rescues(conn: psycopg.Connection, start: date | None, end: date | None) -> Items:
    """Per approver or executive: steps acted on, overrides by category, rescues (overrides
    that bypassed the owner) and coaching_share = returned / (approved + rejected + returned
    + rescues)."""
    acted: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_ACTIONS.values(), 0))
    for actor, action, n in store.actions(conn, start, end):
        acted[actor][_ACTIONS.get(action, action)] = n
    made: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CATEGORIES, 0))
    for executive, category, n in store.override_categories(conn, start, end):
        made[executive][category] = made[executive].get(category, 0) + n
    items = []
    for key in sorted(set(acted) | set(made)):
        steps = acted.get(key, dict.fromkeys(_ACTIONS.values(), 0))
        categories = made.get(key, dict.fromkeys(CATEGORIES, 0))
        rescued = categories[Category.BYPASSED_OWNER.value]
        whole = steps["approved"] + steps["rejected"] + steps["returned"] + rescued
        items.append(
            {
                "key": key,
                "approved": steps["approved"],
                "rejected": steps["rejected"],
                "returned": steps["returned"],
                "overrides": categories,
                "rescues": rescued,
                "coaching_share": ratio_text(share(steps["returned"], whole)),
            }
        )
    return items


def seller_timeline(
    conn: psycopg.Connection, flag: str, start: date | None, end: date | None
) -> Items:
    """Per owner: requests submitted, those whose decision carried `flag` at submission,
    and revisions that moved close_date into a later fiscal quarter (slips)."""
    owners: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for owner, kind, slipped, flags, n in store.ask_kinds(conn, start, end):
        counts = owners[owner]
        if kind == "submission":
            counts[0] += n
            counts[1] += n if flag in flags else 0
        elif slipped:
            counts[2] += n
    return [
        {"key": owner, "requests": c[0], "flagged": c[1], "slips": c[2]}
        for owner, c in sorted(owners.items())
    ]


def customer_no(conn: psycopg.Connection, start: date | None, end: date | None) -> Items:
    """Per owner: withdrawals by reason code, submissions after a customer's no, and those
    of them that asked for more than the withdrawn request."""
    withdrawn: dict[str, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(WITHDRAW_REASON_CODES, 0)
    )
    for owner, code, n in store.withdrawals(conn, start, end):
        counts = withdrawn[owner]
        if code in counts:
            counts[code] += n
    after: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for owner, kind, _, flags, n in store.ask_kinds(conn, start, end):
        if kind == "submission" and AFTER_CUSTOMER_NO in flags:
            after[owner][0] += n
            after[owner][1] += n if DEEPER_AFTER_CUSTOMER_NO in flags else 0
    return [
        {
            "key": owner,
            "withdrawals": withdrawn.get(owner, dict.fromkeys(WITHDRAW_REASON_CODES, 0)),
            "after_no": after[owner][0] if owner in after else 0,
            "deeper_after_no": after[owner][1] if owner in after else 0,
        }
        for owner in sorted(set(withdrawn) | set(after))
    ]


def _tier_order(policy: Policy) -> Any:
    ranks = policy.ranks
    return lambda tier: (ranks.get(tier, len(ranks)), tier)


def flatten(item: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """An item as one CSV row: nested objects become dotted columns (bands.-1)."""
    row: dict[str, Any] = {}
    for name, value in item.items():
        if isinstance(value, Mapping):
            row.update(flatten(value, f"{prefix}{name}."))
        else:
            row[f"{prefix}{name}"] = value
    return row


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_text(report: str, items: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """The items as CSV, header first: the same rows as the JSON answer."""
    columns = COLUMNS[report]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for item in items:
        row = flatten(item)
        writer.writerow([csv_cell(row.get(c)) for c in columns])
    yield buffer.getvalue()
