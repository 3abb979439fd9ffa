"""Replay logged decisions under a candidate policy: what would change, and for whom."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from itertools import chain
from pathlib import Path
from typing import Any

import psycopg

from api.policy.deal import restore
from api.policy.decision import Party
from api.policy.engine import REQUESTER_NOT_OWNER, evaluate
from api.policy.model import Policy
from api.service.archive_files import archived
from api.storage.decisions import replayable

SAMPLES = 10


def replay(
    conn: psycopg.Connection,
    candidate: Policy,
    start: date | None,
    end: date | None,
    archive: Path | None = None,
) -> dict[str, Any]:
    """Re-evaluate every logged decision in the window, each pinned to its original as_of;
    with `archive`, the archived months in that directory too."""
    evaluated = changed = skipped = 0
    transitions: Counter[str] = Counter()
    load_before: Counter[str] = Counter()
    load_after: Counter[str] = Counter()
    samples: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    logged = replayable(conn, start, end)
    rows = logged if archive is None else chain(archived(conn, archive, start, end), logged)
    for decision_id, as_of, body, output in rows:
        requester = Party(output["requester"]["id"], output["requester"]["tier"])
        owner = Party(output["owner"]["id"], output["owner"]["tier"])
        if requester.tier not in candidate.ranks or owner.tier not in candidate.ranks:
            skipped += 1
            continue
        delegate = requester.id if REQUESTER_NOT_OWNER not in output["flags"] else None
        deal = restore(body["deal"], candidate.lever_names)
        new = evaluate(
            candidate, deal, requester, owner, today=as_of, now=now, owner_delegate_id=delegate
        )
        evaluated += 1
        before_tiers, after_tiers = output["required_tiers"], list(new.required_tiers)
        load_before.update(before_tiers)
        load_after.update(after_tiers)
        if new.outcome.value == output["outcome"] and after_tiers == before_tiers:
            continue
        changed += 1
        transitions[f"{output['outcome']}->{new.outcome.value}"] += 1
        if len(samples) < SAMPLES:
            samples.append(
                {
                    "decision_id": str(decision_id),
                    "deal_id": body["deal"]["deal_id"],
                    "as_of": as_of.isoformat(),
                    "before": {"outcome": output["outcome"], "required_tiers": before_tiers},
                    "after": {"outcome": new.outcome.value, "required_tiers": after_tiers},
                }
            )
    tiers = [t for t in candidate.tiers if load_before[t] or load_after[t]]
    tiers += sorted(t for t in load_before if t not in candidate.tiers)
    return {
        "policy": {
            "name": candidate.name,
            "version": candidate.version,
            "sha256": candidate.sha256,
        },
        "evaluated": evaluated,
        "changed": changed,
        "skipped": skipped,
        "transitions": dict(sorted(transitions.items())),
        "approval_load": {
            t: {
                "before": load_before[t],
                "after": load_after[t],
                "delta": load_after[t] - load_before[t],
            }
            for t in tiers
        },
        "samples": samples,
    }
