"""OpenAPI plumbing: the Api subclass whose error responses are problem+json, and doc helpers."""

from __future__ import annotations

import http
from collections.abc import Callable
from typing import Any, TypeVar

from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response

from api.http.problems import PROBLEM_JSON
from api.http.schemas import ProblemOut

F = TypeVar("F", bound=Callable[..., Any])


class DealdeskApi(Api):  # type: ignore[misc]
    ERROR_SCHEMA = ProblemOut
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            if status < 400:
                continue
            response: dict[str, Any] = {"description": status.phrase, "schema": self.ERROR_SCHEMA}
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)


def body(schema: Any) -> dict[str, Any]:
    """requestBody documentation for a body the view parses itself (so 404 precedes 422)."""
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def problems(blp: Blueprint, *codes: int) -> Callable[[F], F]:
    """Document the problem+json responses a view can give (401 and 403 always)."""

    def document(view: F) -> F:
        for code in sorted({401, 403, *codes}):
            view = blp.alt_response(code, response=http.HTTPStatus(code).name)(view)
        return view

    return document
