"""The body every subscriber receives: {id, type, created_at, sequence, data}, serialised once."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from api.audit.chain import event_time


@dataclass(frozen=True, slots=True)
class Envelope:
    id: str
    type: str
    created_at: datetime
    sequence: int
    body: str
    """The exact JSON text sent (and signed) on every attempt."""


def new_event_id() -> str:
    """`evt_` and 32 hex digits: unique, and never containing a `.` (Standard Webhooks)."""
    return "evt_" + secrets.token_hex(16)


def build(type_: str, sequence: int, created_at: datetime, data: Mapping[str, Any]) -> Envelope:
    event_id = new_event_id()
    body = {
        "id": event_id,
        "type": type_,
        "created_at": event_time(created_at),
        "sequence": sequence,
        "data": data,
    }
    return Envelope(event_id, type_, created_at, sequence, orjson.dumps(body).decode())
