"""POST /v1/evaluations: an explained decision for a deal, with no change of state."""

from __future__ import annotations

from datetime import date

from flask import Response, g
from flask_smorest import Blueprint

from api.errors import Invalid
from api.http.auth import Scope, current_key, reauthenticate, requires
from api.http.body import json_body
from api.http.context import runtime
from api.http.deals import with_levers
from api.http.metrics import count_decision, outcome_of
from api.http.replies import json_reply, reply
from api.http.schemas import DecisionOut, EvaluationIn
from api.http.spec import EXAMPLES, body, problems
from api.policy.decimals import jsonable
from api.service.evaluations import Stale, preview, preview_from_snapshot
from api.storage.database import transaction

blp = Blueprint("evaluations", __name__, description="Evaluate deals against the active policy")
EVALUATION_IN = EvaluationIn()


@blp.route("/v1/evaluations", methods=["POST"])
@blp.doc(operationId="evaluateDeal")
@requires(Scope.EVALUATE, snapshot=True)
@blp.doc(requestBody=body(EvaluationIn, EXAMPLES["evaluation"]))
@blp.response(200, DecisionOut)
@problems(blp, 400, 413, 415, 422, 503)
def create_evaluation() -> Response:
    """Evaluate a deal: approved, needs approval (from whom) or denied, with every reason."""
    rt = runtime()
    held = rt.policies.held  # one set and its generation, proved current by the insert
    data = json_body(EVALUATION_IN)
    today = date.fromisoformat(data["as_of"]) if data.get("as_of") else rt.today()
    try:
        decision = preview_from_snapshot(
            rt.registry,
            rt.previews,
            held.active,
            with_levers(data["deal"], held.active),
            data["requested_by"],
            generation=g.key_generation,
            policy_generation=held.generation,
            today=today,
            now=rt.now(),
            stored_input=data,
            shadows=held.policies.shadows,
            bound_to=current_key().person_id,
        )
        count_decision(outcome_of(decision), "evaluation")
        return json_reply(decision)
    except Stale:
        rt.registry.forget()  # the registry or the policy set moved: both are checked below
    except Invalid:
        pass  # perhaps from an outdated snapshot or set: the database has the last word
    reauthenticate()
    with transaction(rt.pool) as conn:  # durable: committed before the 200
        held = rt.policies.follow(conn)
        output = preview(
            conn,
            held.active,
            with_levers(data["deal"], held.active),
            data["requested_by"],
            today=today,
            now=rt.now(),
            stored_input=jsonable(data),
            shadows=held.policies.shadows,
            bound_to=current_key().person_id,
        )
    count_decision(output["outcome"], "evaluation")
    return reply(output)
