"""The shipped policy with a tiny SLA (fractional hours worth seconds), for tests that let
real time pass rather than mock it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from tests.conftest import POLICIES

SHIPPED_SLA = """\
  sla:
    hours: 24
    period_end_hours: 4
    remind_after: 0.5
    escalate: manager
"""


def policy_dir(
    root: Path,
    hours: str,
    *,
    period_end_hours: str | None = None,
    remind_after: str = "0.5",
    escalate: str = "manager",
) -> Path:
    """A policy directory like the shipped one, with `spec.sla` as given."""
    text = (POLICIES / "deal-authority.yaml").read_text()
    assert SHIPPED_SLA in text
    sla = (
        f"  sla:\n    hours: {hours}\n    period_end_hours: {period_end_hours or hours}\n"
        f"    remind_after: {remind_after}\n    escalate: {escalate}\n"
    )
    directory = root / "policies"
    directory.mkdir(parents=True)
    (directory / "deal-authority.yaml").write_text(text.replace(SHIPPED_SLA, sla))
    return directory


def sla_events(db: str, rid: str) -> list[tuple[str, dict[str, Any]]]:
    """The request's SLA audit events (type, payload), in order."""
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT type, payload FROM audit_events WHERE subject = %s "
            "AND type LIKE 'approval_step.%%' ORDER BY id",
            (f"request:{rid}",),
        ).fetchall()
    return [(r[0], r[1]) for r in rows]
