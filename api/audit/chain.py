"""Canonical event JSON, the hash that links each event to the one before, and verification."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    at: datetime
    type: str
    actor: str
    subject: str
    payload: Mapping[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": event_time(self.at),
            "type": self.type,
            "actor": self.actor,
            "subject": self.subject,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    events: int
    head_hash: str
    first_bad_event_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head_hash": self.head_hash,
            "first_bad_event_id": self.first_bad_event_id,
        }


def event_time(at: datetime) -> str:
    """UTC, microseconds: exactly what timestamptz stores, so the hash survives a round trip."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(
    event_id: int,
    at: datetime | str,
    type_: str,
    actor: str,
    subject: str,
    payload: Mapping[str, Any],
) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same bytes as the standard library's
    json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)."""
    body = {
        "id": event_id,
        "at": at if isinstance(at, str) else event_time(at),
        "type": type_,
        "actor": actor,
        "subject": subject,
        "payload": payload,
    }
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def chain_hash(
    prev_hash: str,
    event_id: int,
    at: datetime | str,
    type_: str,
    actor: str,
    subject: str,
    payload: Mapping[str, Any],
) -> str:
    digest = hashlib.sha256(prev_hash.encode())
    digest.update(canonical(event_id, at, type_, actor, subject, payload))
    return digest.hexdigest()


ChainRow = tuple[int, str, str, str, str, str, str, str]
"""(id, at as event_time text, type, actor, subject, payload as JSON text, prev_hash, hash)"""


def verify(rows: Iterable[ChainRow]) -> Verification:
    """Walk the chain oldest first; report the first event that does not match."""
    expected_prev = GENESIS
    count = 0
    for event_id, at, type_, actor, subject, payload, prev_hash, stored in rows:
        count += 1
        recomputed = chain_hash(
            prev_hash, event_id, at, type_, actor, subject, orjson.loads(payload)
        )
        if prev_hash != expected_prev or stored != recomputed:
            return Verification(False, count, expected_prev, event_id)
        expected_prev = stored
    return Verification(True, count, expected_prev, None)
