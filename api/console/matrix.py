"""The authority matrix: the policy in force as tiers x levers with inheritance resolved,
absolute maxima, rules in plain English, routing and the service level. Anyone signed in may
read it: it is the rule book every person in the loop works under."""

from __future__ import annotations

from api.console.blueprint import bp, page, user
from api.http.context import runtime
from api.policy.explain import matrix as matrix_rows
from api.policy.explain import routing_text, rule_text, sla_text


@bp.route("/policies/matrix")
def matrix() -> str:
    policy = runtime().policies.active
    return page(
        "console/matrix.html",
        title="Authority matrix",
        me=user(),
        policy=policy,
        rows=matrix_rows(policy),
        rules=[rule_text(policy, rule) for rule in policy.rules],
        routing=[(tier, routing_text(policy, tier)) for tier in policy.tiers],
        sla=sla_text(policy),
    )
