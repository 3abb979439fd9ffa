"""Previews: evaluate a deal under the active policy and keep it in the decision log."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import psycopg

from api.errors import Invalid
from api.policy.engine import evaluate
from api.policy.model import Policy
from api.service.parties import resolve_parties
from api.service.shadow import shadow_results
from api.storage.decisions import log_decision, relax_commit


def check_currency(policy: Policy, deal: Mapping[str, Any], field: str = "deal.currency") -> None:
    if deal["currency"] != policy.currency:
        raise Invalid(
            "The deal's currency is not the policy's.",
            {field: [f"Must be {policy.currency}, the policy's currency."]},
        )


def preview(
    conn: psycopg.Connection,
    policy: Policy,
    deal: Mapping[str, Any],
    requested_by: str,
    *,
    today: date,
    now: datetime,
    stored_input: dict[str, Any],
    shadows: Sequence[Policy] = (),
) -> dict[str, Any]:
    """Evaluate without changing any state; the decision (and any shadow policy's result
    beside it) is logged for replay and simulate. Returns the Decision as the API shows it."""
    check_currency(policy, deal)
    parties = resolve_parties(conn, policy, deal["owner_id"], requested_by, today)
    requester, owner = parties.requester_party(), parties.owner_party()
    decision = evaluate(
        policy,
        deal,
        requester,
        owner,
        today=today,
        now=now,
        decision_id=str(uuid.uuid4()),
        owner_delegate_id=parties.owner_delegate_id,
    )
    shadow = shadow_results(
        shadows,
        decision,
        deal,
        requester,
        owner,
        today=today,
        now=now,
        owner_delegate_id=parties.owner_delegate_id,
    )
    output = decision.as_dict()
    relax_commit(conn)
    log_decision(conn, decision, output, today, stored_input, shadow=shadow)
    return output
