"""How overrides are written out for finance: the JSON resource and the CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from api.policy.decimals import decimal_str
from api.policy.decision import iso_utc
from api.storage.overrides import ExportRow, OverrideRecord, Review


def override_json(record: OverrideRecord, reviews: list[Review] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(record.id),
        "request_id": str(record.request_id) if record.request_id else None,
        "deal_id": record.deal_id,
        "owner": {"id": record.owner_id, "tier": record.owner_tier},
        "executive": {"id": record.executive_id, "tier": record.executive_tier},
        "categories": list(record.categories),
        "terms_before": record.terms_before,
        "terms_after": record.terms_after,
        "excess": record.excess,
        "excess_value": decimal_str(record.excess_value),
        "currency": record.currency,
        "reason_code": record.reason_code,
        "justification": record.justification,
        "period": record.period,
        "policy": {
            "name": record.policy_name,
            "version": record.policy_version,
            "sha256": record.policy_sha256,
        },
        "review_status": record.review_status,
        "owner_acknowledged": record.owner_acknowledged,
        "created_at": iso_utc(record.created_at),
        "event_hash": record.event_hash,
    }
    if reviews is not None:
        body["reviews"] = [review_json(r) for r in reviews]
    return body


def review_json(review: Review) -> dict[str, Any]:
    return {
        "id": review.id,
        "override_id": str(review.override_id),
        "reviewer_id": review.reviewer_id,
        "status": review.status,
        "note": review.note,
        "created_at": iso_utc(review.created_at),
    }


CSV_HEADER = [
    "id",
    "created_at",
    "deal_id",
    "request_id",
    "owner_id",
    "executive_id",
    "executive_tier",
    "categories",
    "reason_code",
    "excess_value",
    "currency",
    "fiscal_year",
    "fiscal_quarter",
    "period_end",
    "review_status",
    "policy_version",
    "policy_sha256",
    "justification",
]


def csv_fields(record: ExportRow) -> list[str]:
    """One export row: money exact, dates ISO, categories sorted and joined by ';'."""
    return [
        str(record.id),
        iso_utc(record.created_at),
        record.deal_id,
        str(record.request_id) if record.request_id else "",
        record.owner_id,
        record.executive_id,
        record.executive_tier,
        ";".join(sorted(record.categories)),
        record.reason_code,
        decimal_str(record.excess_value),
        record.currency,
        str(record.fiscal_year),
        str(record.fiscal_quarter),
        "true" if record.period_end else "false",
        record.review_status,
        record.policy_version,
        record.policy_sha256,
        record.justification,
    ]


def csv_lines(records: Iterable[ExportRow], chunk: int = 64 * 1024) -> Iterator[str]:
    """The export as an iterator of CSV text chunks of about `chunk` characters, header
    first (memory-flat), rather than a chunk (and so a socket write) per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    yield buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for record in records:
        writer.writerow(csv_fields(record))
        if buffer.tell() >= chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
