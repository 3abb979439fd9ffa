"""The sections of a policy file (metadata, tiers, levers, rules...) checked and assembled
into a `Policy`, every problem collected on the way."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import Decimal
from typing import Any

from api.policy.deal import OTHER_FIELDS
from api.policy.fields import FieldReader
from api.policy.model import (
    ApprovalMode,
    Escalate,
    Ladder,
    Lever,
    Policy,
    PolicyStatus,
    Routing,
    Rule,
    Sla,
    monotonic,
)
from api.policy.yamlnodes import child

IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
CURRENCY = re.compile(r"^[A-Z]{3}$")

TOP_KEYS = {"apiVersion", "kind", "metadata", "spec"}
METADATA_KEYS = {"name", "version", "status", "owner", "change_note", "effective_from"}
SPEC_KEYS = {
    "currency",
    "fiscal_year_start",
    "period_end_days",
    "customer_no_days",
    "tiers",
    "approval",
    "routing",
    "overrides",
    "levers",
    "rules",
    "sla",
}
SLA_KEYS = {"hours", "period_end_hours", "remind_after", "escalate"}
LEVER_KEYS = {"title", "ceilings", "absolute_max", "compute"}
RULE_KEYS = {"name", "when", "because", "require", "ceilings", "deny", "flag"}


class PolicyBuilder(FieldReader):
    """Builds the Policy from a file's parsed YAML; its problems are in `problems`."""

    def policy(self, data: Any, source: bytes) -> Policy | None:
        top = self.mapping(data, "", TOP_KEYS, {"apiVersion", "kind", "metadata", "spec"})
        if top.get("apiVersion", "dealdesk/v1") != "dealdesk/v1":
            self.problem("apiVersion", f"{top['apiVersion']!r} is not dealdesk/v1")
        if top.get("kind", "AuthorityPolicy") != "AuthorityPolicy":
            self.problem("kind", f"{top['kind']!r} is not AuthorityPolicy")
        meta = self.mapping(top.get("metadata"), "metadata", METADATA_KEYS, {"name", "version"})
        spec = self.mapping(top.get("spec"), "spec", SPEC_KEYS, {"currency", "tiers", "levers"})
        if not top or not meta or not spec:
            return None
        self.tiers = self.tier_list(spec.get("tiers"))
        levers = self.levers(spec.get("levers"))
        lever_names = {lever.name for lever in levers}
        rules = self.rules(spec.get("rules"), lever_names)
        fiscal = self.fiscal_start(spec.get("fiscal_year_start", "01-01"))
        period_end_days = self.whole_number(
            spec.get("period_end_days", Decimal(14)), "spec.period_end_days"
        )
        customer_no_days = self.whole_number(
            spec.get("customer_no_days", Decimal(90)), "spec.customer_no_days"
        )
        routing = self.routing(spec.get("routing"))
        min_tier = self.override_min_tier(spec.get("overrides"))
        sla = self.sla(spec.get("sla"))
        return Policy(
            name=self.text(meta.get("name"), "metadata.name", NAME, "a valid name") or "",
            version=self.text(meta.get("version"), "metadata.version") or "",
            status=self.choice(
                meta.get("status"), "metadata.status", PolicyStatus, PolicyStatus.ACTIVE
            ),
            owner=self.text(meta.get("owner"), "metadata.owner"),
            sha256=hashlib.sha256(source).hexdigest(),
            file=self.file,
            source=source,
            currency=self.text(
                spec.get("currency"), "spec.currency", CURRENCY, "an ISO 4217 code like USD"
            )
            or "",
            fiscal_year_start=fiscal,
            period_end_days=period_end_days,
            tiers=self.tiers,
            approval=self.choice(
                spec.get("approval"), "spec.approval", ApprovalMode, ApprovalMode.REQUIRED_TIER
            ),
            routing=routing,
            override_min_tier=min_tier,
            levers=levers,
            rules=rules,
            ranks={tier: rank for rank, tier in enumerate(self.tiers)},
            customer_no_days=customer_no_days,
            sla=sla,
        )

    def tier_list(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.problem("spec.tiers", "must be a non-empty list of tier names, lowest first")
            return ()
        tiers: list[str] = []
        for i, item in enumerate(value):
            name = self.text(item, child("spec.tiers", i), IDENT, "a lower-case identifier")
            if name in tiers:
                self.problem(child("spec.tiers", i), f"tier {name!r} is listed twice")
            elif name:
                tiers.append(name)
        return tuple(tiers)

    def fiscal_start(self, value: Any) -> tuple[int, int]:
        path = "spec.fiscal_year_start"
        text = self.text(value, path, re.compile(r"^\d\d-\d\d$"), "a date in MM-DD form")
        if text is None:
            return (1, 1)
        month, day = int(text[:2]), int(text[3:])
        try:
            date(2001, month, day)
        except ValueError:
            self.problem(path, f"{text!r} is not a day of the year")
            return (1, 1)
        return (month, day)

    def routing(self, value: Any) -> dict[str, Routing]:
        if value is None:
            return {}
        table = self.mapping(value, "spec.routing", set(self.tiers))
        result = {}
        for tier, mode in table.items():
            if tier in self.tiers:
                result[tier] = self.choice(
                    mode, child("spec.routing", tier), Routing, Routing.CHAIN
                )
        return result

    def sla(self, value: Any) -> Sla | None:
        """`spec.sla`: `hours` required; the window's hours default to `hours`."""
        if value is None:
            return None
        spec = self.mapping(value, "spec.sla", SLA_KEYS, {"hours"})
        hours = self.positive(spec["hours"], "spec.sla.hours") if "hours" in spec else None
        window = spec.get("period_end_hours")
        period_end = hours if window is None else self.positive(window, "spec.sla.period_end_hours")
        remind = self.number(spec.get("remind_after", Decimal("0.5")), "spec.sla.remind_after")
        if remind is not None and not Decimal(0) < remind < Decimal(1):
            self.problem(
                "spec.sla.remind_after", f"must be between 0 and 1 (exclusive), not {remind}"
            )
            remind = None
        escalate = self.choice(spec.get("escalate"), "spec.sla.escalate", Escalate, Escalate.NONE)
        if not spec or hours is None or period_end is None or remind is None:
            return None
        return Sla(hours, period_end, remind, escalate)

    def positive(self, value: Any, path: str) -> Decimal | None:
        number = self.number(value, path)
        if number is not None and number == 0:
            self.problem(path, "must be more than 0")
            return None
        return number

    def override_min_tier(self, value: Any) -> str | None:
        if value is None:
            return self.tiers[-1] if self.tiers else None
        table = self.mapping(value, "spec.overrides", {"min_tier"}, {"min_tier"})
        return self.tier(table.get("min_tier"), "spec.overrides.min_tier")

    def ladder(self, value: Any, path: str, *, base: bool) -> Ladder | None:
        """A tier -> number mapping as one value per tier (inherited upwards)."""
        table = self.mapping(value, path, set(self.tiers))
        if not table:
            if isinstance(value, dict):
                self.problem(path, "must list at least one tier")
            return None
        values: list[Decimal | None] = []
        current: Decimal | None = Decimal(0) if base else None
        previous: tuple[str, Decimal] | None = None
        for tier in self.tiers:
            if tier in table:
                number = self.number(table[tier], child(path, tier))
                if number is not None:
                    if previous and number < previous[1]:
                        self.problem(
                            child(path, tier),
                            f"ceilings decrease: {tier} {number} is "
                            f"below {previous[0]} {previous[1]}",
                        )
                    previous = (tier, number)
                    current = number
            values.append(current)
        return tuple(values)

    def levers(self, value: Any) -> tuple[Lever, ...]:
        table = self.mapping(value, "spec.levers", set(value) if isinstance(value, dict) else set())
        if isinstance(value, dict) and not value:
            self.problem("spec.levers", "must name at least one lever")
        return tuple(filter(None, (self.lever(name, spec) for name, spec in table.items())))

    def lever(self, name: str, value: Any) -> Lever | None:
        path = child("spec.levers", name)
        if not IDENT.match(name):
            self.problem(path, f"lever name {name!r} is not a lower-case identifier")
        spec = self.mapping(value, path, LEVER_KEYS, {"ceilings"})
        compute = (
            self.expression(spec["compute"], child(path, "compute")) if "compute" in spec else None
        )
        if "compute" not in spec and name in OTHER_FIELDS:
            self.problem(path, f"deal field {name!r} is not numeric and cannot be a lever")
        ladder = self.ladder(spec.get("ceilings"), child(path, "ceilings"), base=True)
        absolute_max = None
        if "absolute_max" in spec:
            absolute_max = self.number(spec["absolute_max"], child(path, "absolute_max"))
        if ladder is None:
            return None
        ceilings = monotonic(tuple(v if v is not None else Decimal(0) for v in ladder))
        if absolute_max is not None and self.tiers and absolute_max < ceilings[-1]:
            self.problem(
                child(path, "absolute_max"),
                f"absolute_max {absolute_max} is below {self.tiers[-1]}'s ceiling {ceilings[-1]}",
            )
        title = self.text(spec.get("title"), child(path, "title")) or name
        return Lever(name, title, ceilings, absolute_max, compute)

    def rules(self, value: Any, lever_names: set[str]) -> tuple[Rule, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem("spec.rules", "must be a list of rules")
            return ()
        rules: list[Rule] = []
        for i, item in enumerate(value):
            rule = self.rule(item, child("spec.rules", i), lever_names)
            if rule and any(r.name == rule.name for r in rules):
                self.problem(
                    child(child("spec.rules", i), "name"), f"rule {rule.name!r} is defined twice"
                )
            elif rule:
                rules.append(rule)
        return tuple(rules)

    def rule(self, value: Any, path: str, lever_names: set[str]) -> Rule | None:
        spec = self.mapping(value, path, RULE_KEYS, {"name", "when"})
        if not spec:
            return None
        name = self.text(spec.get("name"), child(path, "name"), NAME, "a valid rule name")
        when = self.expression(spec.get("when"), child(path, "when"))
        require = self.tier(spec["require"], child(path, "require")) if "require" in spec else None
        ceilings: dict[str, Ladder] = {}
        table = self.mapping(spec.get("ceilings", {}), child(path, "ceilings"), lever_names)
        for lever, ladder_spec in table.items():
            ladder = self.ladder(ladder_spec, child(child(path, "ceilings"), lever), base=False)
            if ladder is not None and lever in lever_names:
                ceilings[lever] = ladder
        deny = self.text(spec.get("deny"), child(path, "deny"))
        flag = self.text(spec.get("flag"), child(path, "flag"), IDENT, "a lower-case identifier")
        if not any(k in spec for k in ("require", "ceilings", "deny", "flag")):
            self.problem(path, "a rule needs at least one effect: require, ceilings, deny or flag")
        if name is None or when is None:
            return None
        return Rule(
            name,
            when,
            self.text(spec.get("because"), child(path, "because")),
            require,
            ceilings,
            deny,
            flag,
        )
