"""Liveness and readiness: /healthz never touches the database, /readyz does."""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from api.http.context import runtime
from api.http.replies import reply
from api.http.schemas import Health
from api.storage.database import transaction

blp = Blueprint("health", __name__, description="Liveness and readiness probes")


@blp.route("/healthz", methods=["GET"])
@blp.doc(operationId="getHealth")
@blp.doc(security=[])
@blp.response(200, Health)
def healthz() -> Response:
    return reply({"status": "ok"})


@blp.route("/readyz", methods=["GET"])
@blp.doc(operationId="getReadiness")
@blp.doc(security=[])
@blp.response(200, Health)
@blp.alt_response(503, response="SERVICE_UNAVAILABLE")
def readyz() -> Response:
    with transaction(runtime().pool) as conn:
        conn.execute("SELECT 1")
    return reply({"status": "ready"})
