"""Loaded policies: GET /v1/policies and POST /v1/policies/reload."""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from api.http.auth import Scope, current_key, requires
from api.http.context import runtime
from api.http.replies import reply
from api.http.schemas import PoliciesPage
from api.http.spec import problems
from api.policy.decision import iso_utc
from api.runtime import Runtime

blp = Blueprint("policies", __name__, description="The policies in force")


def _listing(rt: Runtime) -> dict[str, object]:
    loaded_at = iso_utc(rt.policies.loaded_at)
    return {
        "items": [
            {
                "name": p.name,
                "version": p.version,
                "sha256": p.sha256,
                "status": p.status.value,
                "loaded_at": loaded_at,
            }
            for p in rt.policies.current.all
        ],
        "next_cursor": None,
    }


@blp.route("/v1/policies", methods=["GET"])
@requires(Scope.POLICIES)
@blp.response(200, PoliciesPage)
@problems(blp)
def index() -> Response:
    return reply(_listing(runtime()))


@blp.route("/v1/policies/reload", methods=["POST"])
@requires(Scope.ADMIN)
@blp.response(200, PoliciesPage)
@problems(blp, 422, 503)
def reload() -> Response:
    """Re-read the policy directory; a bad file is a 422 and the old policy stays in force."""
    rt = runtime()
    rt.reload(f"key:{current_key().name}")
    return reply(_listing(rt))
