"""The frozen result of one evaluation: outcome, findings per lever, rules, flags and period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from api.policy.decimals import decimal_str
from api.policy.model import Outcome, Status
from api.policy.period import Period


@dataclass(frozen=True, slots=True)
class Party:
    """A person as the engine sees them: who they are and the tier they hold."""

    id: str
    tier: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "tier": self.tier}


@dataclass(frozen=True, slots=True)
class Finding:
    lever: str
    value: Decimal | None
    requester_ceiling: Decimal
    required_tier: str | None
    status: Status
    headroom: Decimal | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "lever": self.lever,
            "value": _text(self.value),
            "requester_ceiling": decimal_str(self.requester_ceiling),
            "required_tier": self.required_tier,
            "status": self.status.value,
            "headroom": _text(self.headroom),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class MatchedRule:
    name: str
    effects: tuple[str, ...]
    because: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "effects": list(self.effects), "because": self.because}


@dataclass(frozen=True, slots=True)
class EvalError:
    source: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"source": self.source, "message": self.message}


@dataclass(frozen=True, slots=True)
class PolicyRef:
    name: str
    version: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class Decision:
    decision_id: str
    outcome: Outcome
    requester: Party
    owner: Party
    required_tiers: tuple[str, ...]
    findings: tuple[Finding, ...]
    rules: tuple[MatchedRule, ...]
    flags: tuple[str, ...]
    errors: tuple[EvalError, ...]
    period: Period
    policy: PolicyRef
    evaluated_at: datetime

    def finding(self, lever: str) -> Finding:
        return next(f for f in self.findings if f.lever == lever)

    def as_dict(self) -> dict[str, Any]:
        """The Decision exactly as the API returns it (DESIGN section 4)."""
        return {
            "decision_id": self.decision_id,
            "outcome": self.outcome.value,
            "requester": self.requester.as_dict(),
            "owner": self.owner.as_dict(),
            "required_tiers": list(self.required_tiers),
            "findings": [f.as_dict() for f in self.findings],
            "rules": [r.as_dict() for r in self.rules],
            "flags": list(self.flags),
            "errors": [e.as_dict() for e in self.errors],
            "period": self.period.as_dict(),
            "policy": self.policy.as_dict(),
            "evaluated_at": iso_utc(self.evaluated_at),
        }


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second (sub-second precision is noise to clients)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_str(value)
