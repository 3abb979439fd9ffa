"""OpenAPI plumbing: the Api subclass whose error responses are problem+json, and doc helpers."""

from __future__ import annotations

import http
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response
from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response

from api.http.openapi import refine
from api.http.openapi_access import declare_security
from api.http.problems import JSON, PROBLEM_JSON
from api.http.schemas import ProblemOut

F = TypeVar("F", bound=Callable[..., Any])


class DealdeskApi(Api):  # type: ignore[misc]
    ERROR_SCHEMA = ProblemOut
    DEFAULT_ERROR_RESPONSE_NAME = "DEFAULT_ERROR"

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            if status < 400:
                continue
            self.spec.components.response(status.name, self._problem(status.phrase), lazy=True)
        default = "Any other error (unknown path, 405, 500, 503): a problem document."
        self.spec.components.response(
            self.DEFAULT_ERROR_RESPONSE_NAME, self._problem(default), lazy=True
        )

    def _problem(self, description: str) -> dict[str, Any]:
        """problem+json, or application/json to a client whose Accept names only that."""
        response: dict[str, Any] = {"description": description}
        for media in (PROBLEM_JSON, JSON):
            response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, media)
        return response

    def document(self) -> dict[str, Any]:
        """The OpenAPI document as served and committed: apispec's, finished by refine()."""
        doc = refine(self.spec.to_dict())
        declare_security(doc, self._scopes())
        return doc

    def _scopes(self) -> dict[tuple[str, str], str]:
        """(OpenAPI path, method) -> the scope its view requires (api/http/auth.py)."""
        found: dict[tuple[str, str], str] = {}
        for rule in self._app.url_map.iter_rules():
            scope = getattr(self._app.view_functions.get(rule.endpoint), "required_scope", None)
            if scope is None:
                continue
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            for method in rule.methods or ():
                found[(path, method.lower())] = str(scope)
        return found

    def _openapi_json(self) -> Response:
        return Response(json.dumps(self.document(), indent=2), mimetype="application/json")


def body(schema: Any, example: dict[str, Any] | None = None) -> dict[str, Any]:
    """requestBody documentation for a body the view parses itself (so 404 precedes 422)."""
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"required": True, "content": {"application/json": media}}


# Every example names the people `make run` seeds (api/service/demo.py), so each one works as
# written against the demo; tests/http/test_openapi_examples.py runs them all.
OWNER, APPROVER, EXECUTIVE, REVIEWER = (
    "demo.account_manager",
    "demo.sales_director",
    "demo.vp_sales",
    "demo.cfo",
)
EXAMPLE_DEAL = {
    "deal_id": "Q-00042",
    "owner_id": OWNER,
    "currency": "USD",
    "account": {"id": "ACME", "name": "Acme Corp", "segment": "enterprise"},
    "list_amount": "250000.00",
    "discount_pct": "18",
    "rebate_pct": "1.5",
    "payment_terms_days": 60,
    "close_date": "2026-12-29",
    "customer_target_date": "2027-02-15",
}
EXAMPLES: dict[str, dict[str, Any]] = {
    "evaluation": {"deal": EXAMPLE_DEAL, "requested_by": OWNER},
    "submission": {"deal": EXAMPLE_DEAL, "requested_by": OWNER},
    "person": {
        "name": "Jordan Jones",
        "tier": "account_manager",
        "manager_id": "demo.sales_manager",
    },
    "approve": {"approver_id": APPROVER, "comment": "Approved for the 3-year term."},
    "comment": {"approver_id": APPROVER, "comment": "Try 15% with a 2-year term first."},
    "revise": {"requested_by": OWNER, "deal": {**EXAMPLE_DEAL, "discount_pct": "15"}},
    "withdraw": {"requested_by": OWNER, "reason": "The customer chose to wait."},
    "override": {
        "executive_id": EXECUTIVE,
        "deal": {**EXAMPLE_DEAL, "deal_id": "Q-00043"},
        "terms": {"discount_pct": "35"},
        "reason_code": "competitive_displacement",
        "justification": "Competitor matched our price at quarter end.",
    },
    "acknowledge": {"owner_id": OWNER},
    "review": {
        "reviewer_id": REVIEWER,
        "status": "questioned",
        "note": "Why 35% on a 1-year deal?",
    },
}


def problems(blp: Blueprint, *codes: int) -> Callable[[F], F]:
    """Document the problem+json responses a view can give (401 and 403 always)."""

    def document(view: F) -> F:
        for code in sorted({401, 403, *codes}):
            view = blp.alt_response(code, response=http.HTTPStatus(code).name)(view)
        return view

    return document
