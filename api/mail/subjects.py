"""Subjects that name the deal and what is asked:
`Approve Q-00042: 18% discount for Acme Corp — due 14:00 UTC`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from api.mail.recipients import (
    ACTION_EVENTS,
    DECIDED,
    OVERRIDE_FILED,
    RETURNED,
    current_step,
)

STEP_PREFIX = {
    "approval_step.assigned": "Approve",
    "approval_step.reminder": "Reminder: approve",
    "approval_step.overdue": "Overdue: approve",
    "approval_step.escalated": "Escalated to you: approve",
}
ASKING = ("needs_approval", "beyond_authority", "beyond_absolute_max")


def subject(event_type: str, data: Mapping[str, Any], at: datetime) -> str:
    """The subject of every mail about the event (`at`: the event's time, for the due day)."""
    if event_type == OVERRIDE_FILED:
        terms = lever_phrases(data.get("terms_after") or {}) or "new terms"
        return f"Override on your deal {data.get('deal_id')}: {terms} — please acknowledge"
    deal_id = data.get("deal_id")
    what = f"{ask(data)}{_for(data)}"
    if event_type in ACTION_EVENTS:
        return f"{STEP_PREFIX[event_type]} {deal_id}: {what}{_due(data, at)}"
    if event_type == RETURNED:
        by = returned_by(data)
        return f"Returned {deal_id}: {what}" + (f" — coaching from {by}" if by else "")
    if event_type == DECIDED:
        return f"{deal_id} {data.get('state')}: {what}"
    return f"{deal_id}: {what}"


def ask(data: Mapping[str, Any]) -> str:
    """The levers the request asks approval for, as people say them: `18% discount`."""
    deal = data.get("deal") or {}
    findings = (data.get("decision") or {}).get("findings") or []
    asked = {
        f["lever"]: deal[f["lever"]]
        for f in findings
        if f.get("status") in ASKING and f.get("lever") in deal
    }
    if not asked and "discount_pct" in deal:
        asked = {"discount_pct": deal["discount_pct"]}
    return lever_phrases(asked) or "approval"


def lever_phrases(levers: Mapping[str, Any]) -> str:
    return ", ".join(lever_phrase(n, v) for n, v in levers.items() if v is not None)


def lever_phrase(name: str, value: Any) -> str:
    if name.endswith("_pct"):
        return f"{value}% {name.removesuffix('_pct').replace('_', ' ')}"
    if name.endswith("_days"):
        return f"{value}-day {name.removesuffix('_days').replace('_', ' ')}"
    return f"{name.replace('_', ' ')} {value}"


def account_name(data: Mapping[str, Any]) -> str | None:
    account = (data.get("deal") or {}).get("account")
    if isinstance(account, Mapping):
        name = account.get("name") or account.get("id")
        return str(name) if name else None
    return None


def returned_by(data: Mapping[str, Any]) -> str | None:
    for step in data.get("steps") or []:
        if step.get("state") == "returned":
            return str(step.get("acted_by") or "") or None
    return None


def coaching(data: Mapping[str, Any]) -> str | None:
    for step in data.get("steps") or []:
        if step.get("state") == "returned":
            return step.get("comment") or None
    return None


def due_at(data: Mapping[str, Any]) -> datetime | None:
    found = current_step(data)
    text = found[1].get("due_at") if found else None
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _for(data: Mapping[str, Any]) -> str:
    name = account_name(data)
    return f" for {name}" if name else ""


def _due(data: Mapping[str, Any], at: datetime) -> str:
    due = due_at(data)
    if due is None:
        return ""
    if due.date() == at.astimezone(UTC).date():
        return f" — due {due:%H:%M} UTC"
    return f" — due {due:%Y-%m-%d %H:%M} UTC"
