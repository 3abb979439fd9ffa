"""The audit page: verify the chain (and a pasted checkpoint) and read the event log."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import request, url_for

from api.audit.chain import verify
from api.console.blueprint import FINANCE, bp, needs, page, user
from api.errors import Invalid
from api.http.context import runtime
from api.http.progress import heartbeating
from api.storage import console_reads as reads
from api.storage.audit import chain_rows, events_after
from api.storage.database import transaction

EVENTS_PAGE = 50
HEX64 = re.compile(r"[0-9a-f]{64}")


def _checkpoint() -> tuple[int | None, str | None, dict[str, list[str]]]:
    """A pasted checkpoint (event id and hash), both or neither; errors name the field."""
    raw_id = request.args.get("checkpoint_id", "").strip()
    raw_hash = request.args.get("checkpoint_hash", "").strip().lower()
    errors: dict[str, list[str]] = {}
    if not raw_id and not raw_hash:
        return None, None, errors
    if not raw_id.isdigit() or int(raw_id) < 1 or int(raw_id) >= 2**63:
        errors["checkpoint_id"] = ["An audit event id: a whole number from 1."]
    if not HEX64.fullmatch(raw_hash):
        errors["checkpoint_hash"] = ["A sha256 hash: 64 hexadecimal characters."]
    if errors:
        return None, None, errors
    return int(raw_id), raw_hash, errors


def _after() -> int:
    raw = request.args.get("after", "0").strip() or "0"
    if not raw.isdigit() or int(raw) >= 2**63:
        raise Invalid("Not an event id.", {"after": ["A whole number from 0."]})
    return int(raw)


@bp.route("/audit")
@needs(FINANCE)
def audit() -> str:
    after = _after()
    with transaction(runtime().pool) as conn:
        rows = events_after(conn, after, EVENTS_PAGE + 1)
        head = reads.chain_head(conn)
    events = rows[:EVENTS_PAGE]
    next_url = url_for("console.audit", after=events[-1].id) if len(rows) > EVENTS_PAGE else None
    return page(
        "console/audit.html",
        "console/events.html",
        title="Audit",
        me=user(),
        events=[_event(e.as_dict()) for e in events],
        after=after,
        next_url=next_url,
        first_url=url_for("console.audit") if after else None,
        head=head,
        checkpoint={"id": "", "hash": ""},
    )


def _event(body: dict[str, Any]) -> dict[str, Any]:
    body["payload_text"] = json.dumps(body["payload"], sort_keys=True, ensure_ascii=False)
    return body


@bp.route("/audit/verify")
@needs(FINANCE)
def audit_verify() -> str | tuple[str, int]:
    """Walk the whole chain; with a checkpoint, also whether it still holds event N as H."""
    checkpoint_id, checkpoint_hash, errors = _checkpoint()
    sent = {
        "id": request.args.get("checkpoint_id", ""),
        "hash": request.args.get("checkpoint_hash", ""),
    }
    if errors:
        html = page(
            "console/verify_page.html",
            "console/verify.html",
            title="Verify",
            me=user(),
            result=None,
            errors=errors,
            checkpoint=sent,
            checkpoint_ok=None,
        )
        return html, 422
    with transaction(runtime().pool) as conn:
        result = verify(heartbeating(chain_rows(conn)))
        held = reads.event_hash(conn, checkpoint_id) if checkpoint_id is not None else None
    checkpoint_ok = None
    if checkpoint_id is not None:
        checkpoint_ok = held == checkpoint_hash and (
            result.ok or (result.first_bad_event_id or 0) > checkpoint_id
        )
    return page(
        "console/verify_page.html",
        "console/verify.html",
        title="Verify",
        me=user(),
        result=result,
        errors={},
        checkpoint=sent,
        checkpoint_id=checkpoint_id,
        checkpoint_ok=checkpoint_ok,
    )
