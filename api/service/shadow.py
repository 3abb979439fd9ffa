"""Shadow policies: evaluated beside the active one and logged, never binding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from api.policy.decision import Decision, Party
from api.policy.engine import evaluate
from api.policy.model import Policy


def shadow_results(
    shadows: Sequence[Policy],
    active: Decision,
    deal: Mapping[str, Any],
    requester: Party,
    owner: Party,
    *,
    today: date,
    now: datetime,
    owner_delegate_id: str | None,
) -> list[dict[str, Any]]:
    """One entry per shadow policy: its outcome and required tiers, and whether it agrees."""
    results = []
    for policy in shadows:
        entry: dict[str, Any] = {
            "name": policy.name,
            "version": policy.version,
            "sha256": policy.sha256,
        }
        if requester.tier not in policy.ranks or owner.tier not in policy.ranks:
            entry.update(outcome=None, required_tiers=None, agrees=False, error="unknown tier")
        else:
            decision = evaluate(
                policy,
                deal,
                requester,
                owner,
                today=today,
                now=now,
                owner_delegate_id=owner_delegate_id,
            )
            entry.update(
                outcome=decision.outcome.value,
                required_tiers=list(decision.required_tiers),
                agrees=same(decision.outcome.value, list(decision.required_tiers), active),
            )
        results.append(entry)
    return results


def same(outcome: str, required_tiers: list[str], decision: Decision) -> bool:
    return outcome == decision.outcome.value and required_tiers == list(decision.required_tiers)
