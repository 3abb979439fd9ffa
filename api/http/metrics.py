"""GET /metrics (scope `metrics`) and the request hooks that feed it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

import psycopg
from flask import Flask, Response, current_app, g, request
from flask_smorest import Blueprint

from api import metrics
from api.errors import DealdeskError, NotFound
from api.http.auth import Scope, requires
from api.http.context import runtime
from api.http.spec import problems
from api.runtime import Runtime
from api.storage.database import transaction
from api.storage.overrides import categories_of_request
from api.storage.sla import count_overdue
from api.workflow.states import Step

blp = Blueprint("metrics", __name__, description="Prometheus metrics for operators")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"
TEXT_DOC = {"text/plain": {"schema": {"type": "string", "description": "Prometheus text format"}}}


@blp.route("/metrics", methods=["GET"])
@blp.doc(operationId="getMetrics")
@requires(Scope.METRICS)
@blp.doc(
    responses={"200": {"description": "Every series, summed over the workers", "content": TEXT_DOC}}
)
@problems(blp, 404)
def scrape() -> Response:
    """Requests, decisions, overrides, webhook deliveries, the policy served and pool use."""
    if runtime_metrics() is None:
        raise NotFound("Metrics are switched off here (DEALDESK_METRICS=0).")
    rt = runtime()
    _sample_pools(rt, runtime_metrics(), force=True)
    body = metrics.exposition()
    try:
        with transaction(rt.quick) as conn:
            body += metrics.overdue_gauge(count_overdue(conn, rt.now()))
    except (DealdeskError, psycopg.Error):
        pass  # the database is down: the process's own series still answer
    return Response(body, mimetype=EXPOSITION)


def count_step(step: Step) -> None:
    """Observe how long an acted-on step waited; call once its action has committed."""
    series = runtime_metrics()
    if series is not None and step.assigned_at is not None and step.acted_at is not None:
        series.observe_step(step.tier, (step.acted_at - step.assigned_at).total_seconds())


def count_decision(outcome: str, source: str) -> None:
    """Count a decision once the response is a 2xx (a 2xx means committed)."""
    g.setdefault("metrics_pending", []).append((outcome, source, None))


def count_override(categories: list[str]) -> None:
    g.setdefault("metrics_pending", []).append((None, None, categories))


def overrides_of(conn: psycopg.Connection, request_id: uuid.UUID) -> frozenset[uuid.UUID]:
    return frozenset(categories_of_request(conn, request_id))


def count_new_overrides(
    conn: psycopg.Connection, request_id: uuid.UUID, earlier: frozenset[uuid.UUID] = frozenset()
) -> None:
    """Count the overrides a submission or revision around the owner wrote for its request."""
    for override_id, categories in categories_of_request(conn, request_id).items():
        if override_id not in earlier:
            count_override(categories)


def outcome_of(decision_json: bytes) -> str:
    """The outcome in a Decision's compact JSON, without parsing it: `outcome` follows
    `decision_id` (a UUID), so its first occurrence is the top-level one."""
    start = decision_json.find(b'"outcome":"') + len(b'"outcome":"')
    return decision_json[start : decision_json.find(b'"', start)].decode()


def install(app: Flask, series: metrics.Metrics) -> None:
    """Time every request and count it by route template (never by raw path)."""
    app.extensions["dealdesk.metrics"] = series

    def start() -> None:
        g.metrics_started = time.perf_counter()

    def finish(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is not None:
            rule = request.url_rule
            record_request(
                app.extensions["dealdesk"],
                series,
                rule.rule if rule is not None else "unmatched",
                request.method if request.method in METHODS else "other",
                response.status_code,
                time.perf_counter() - started,
                g.pop("metrics_pending", ()),
            )
        return response

    app.before_request(start)
    app.after_request(finish)


Pending = tuple[str | None, str | None, list[str] | None]


def record_request(
    rt: Runtime,
    series: metrics.Metrics,
    route: str,
    method: str,
    status: int,
    seconds: float,
    pending: Iterable[Pending] = (),
) -> None:
    """One answered request: its count and latency, the policy served, pool use now and
    then, and (for a 2xx only: committed) the decisions and overrides it made."""
    series.observe_request(route, method, status, seconds)
    held = rt.policies.held
    policy = held.active
    series.set_policy(
        (policy.name, policy.version, policy.sha256), held.generation, held.loaded_at.timestamp()
    )
    _sample_pools(rt, series)
    if status < 300:
        for outcome, source, categories in pending:
            if categories is not None:
                series.record_override(categories)
            elif outcome is not None and source is not None:
                series.record_decision(outcome, source)


def _sample_pools(rt: Runtime, series: metrics.Metrics | None, *, force: bool = False) -> None:
    if series is None or not (force or series.pool_due()):
        return
    series.set_pool("transactions", rt.pool.get_stats())
    if rt.quick is not rt.pool:
        series.set_pool("quick", rt.quick.get_stats())


def runtime_metrics() -> metrics.Metrics | None:
    found: metrics.Metrics | None = current_app.extensions.get("dealdesk.metrics")
    return found
