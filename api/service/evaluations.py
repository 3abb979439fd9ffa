"""Previews: evaluate a deal under the active policy and keep it in the decision log.

Two ways in. `preview_from_snapshot` is the hot path: people come from the process's registry
snapshot, the policy from the set the process holds, and the decision joins a group commit
that refuses it if the registry or the policy set has changed since (Stale; nothing is
logged). `preview` reads everything in the caller's
transaction; it is the fallback, and what a request needing certainty uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import psycopg

from api.errors import Invalid
from api.ids import uuid7
from api.policy.decimals import json_bytes
from api.policy.decision import Decision
from api.policy.engine import evaluate
from api.policy.model import Policy
from api.service.parties import Parties, check_acting_as, in_database, resolve_parties
from api.service.shadow import shadow_results
from api.storage.decisions import Preview, log_decision
from api.storage.preview_log import DecisionLog
from api.storage.registry import RegistrySnapshot


class Stale(Exception):
    """A person, a key or the policy set changed after the snapshot this evaluation used;
    nothing was logged."""


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
    bound_to: str | None = None,
) -> dict[str, Any]:
    """Evaluate without changing any state; the decision (and any shadow policy's result
    beside it) is logged for replay and simulate. Returns the Decision as the API shows it."""
    check_currency(policy, deal)
    parties = resolve_parties(in_database(conn), policy, deal["owner_id"], requested_by, today)
    check_acting_as(bound_to, requested_by, "requested_by")
    decision, shadow = _decide(policy, deal, parties, today, now, shadows, str(uuid7()))
    output = decision.as_dict()
    log_decision(conn, decision, output, today, stored_input, shadow=shadow)
    return output


def preview_from_snapshot(
    registry: RegistrySnapshot,
    log: DecisionLog,
    policy: Policy,
    deal: Mapping[str, Any],
    requested_by: str,
    *,
    generation: int,
    policy_generation: int,
    today: date,
    now: datetime,
    stored_input: dict[str, Any],
    shadows: Sequence[Policy] = (),
    bound_to: str | None = None,
) -> bytes:
    """`preview` without a read round trip; returns the Decision's JSON. `generation` is the
    one the caller's API key was seen under, `policy_generation` the one `policy` is in force
    under. Raises Stale when either moved on."""
    check_currency(policy, deal)
    generations = [generation]

    def lookup(ids: list[str]) -> Mapping[str, Any]:
        seen = registry.people(ids)
        generations.append(seen.generation)
        return seen.people or {}

    parties = resolve_parties(lookup, policy, deal["owner_id"], requested_by, today)
    check_acting_as(bound_to, requested_by, "requested_by")  # a bound key acts only as its own
    row_id = uuid7()
    decision, shadow = _decide(policy, deal, parties, today, now, shadows, str(row_id))
    output = json_bytes(decision.as_dict())
    preview = Preview(
        row_id,
        decision.evaluated_at,
        today,
        deal["deal_id"],
        decision.requester.id,
        decision.owner.id,
        json_bytes(stored_input),
        output,
        decision.outcome.value,
        decision.policy.sha256,
        json_bytes(shadow),
        min(generations),
        policy_generation,
    )
    if not log.write(preview):
        raise Stale
    return output


def _decide(
    policy: Policy,
    deal: Mapping[str, Any],
    parties: Parties,
    today: date,
    now: datetime,
    shadows: Sequence[Policy],
    decision_id: str,
) -> tuple[Decision, list[dict[str, Any]]]:
    requester, owner = parties.requester_party(), parties.owner_party()
    decision = evaluate(
        policy,
        deal,
        requester,
        owner,
        today=today,
        now=now,
        decision_id=decision_id,
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
    return decision, shadow
