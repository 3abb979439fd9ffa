"""create_app(settings): the composition root. Nothing is built at import time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml
from flask import Flask, Response, request
from psycopg_pool import ConnectionPool

from api import console
from api.config import Settings
from api.http import (
    access_tokens,
    audit,
    evaluations,
    fastlane,
    health,
    logs,
    metrics,
    notifications,
    overrides,
    people,
    policies,
    problems,
    reports,
    requests,
    scim,
    webhooks,
)
from api.http.auth import authenticate, confirm_snapshot_key
from api.http.openapi_access import BEARER, OAUTH, security_schemes
from api.http.problems import HttpProblem
from api.http.salesforce import salesforce_profile
from api.http.spec import DealdeskApi
from api.logwriter.client import SocketLog
from api.metrics import shared as shared_metrics
from api.policy.loader import PolicySet, load_policy_dir
from api.runtime import PolicyFollower, Runtime
from api.storage import outbox
from api.storage.database import open_pool, start_embedded
from api.storage.key_usage import KeyUsage
from api.storage.preview_log import DecisionLog, PreviewLog
from api.storage.registry import RegistrySnapshot

MAX_BODY = 1024 * 1024
PROFILES = ("salesforce",)
BLUEPRINTS = (
    health,
    evaluations,
    people,
    requests,
    overrides,
    audit,
    policies,
    reports,
    metrics,
    webhooks,
    notifications,
)


def create_app(
    settings: Settings | None = None,
    *,
    pool: ConnectionPool | None = None,
    quick_pool: ConnectionPool | None = None,
    policy_set: PolicySet | None = None,
    policy_generation: int = 0,
    read_pool: ConnectionPool | None = None,
) -> Flask:
    """Build the app. Raises InvalidPolicy on a bad policy: the service never starts into one.

    `policy_set` is what the process starts deciding under, in force at `policy_generation`
    (0: not known yet); the first decision that finds the database's generation moved on
    loads the set in force instead. Given a `pool` but no `quick_pool`, the one pool serves
    both (tests do this); `read_pool` defaults to DATABASE_READ_URL's pool, else `pool`."""
    settings = settings or Settings.from_env()
    outbox.configure_mail(settings.mail_on)
    policy_set = policy_set or load_policy_dir(settings.policy_dir)
    if pool is None:
        url = settings.database_url or start_embedded(settings.home)
        pool = _pool(settings, url, autocommit=False)
        quick_pool = quick_pool or _pool(settings, url, autocommit=True)
    quick = quick_pool or pool
    if read_pool is None and settings.database_read_url:
        read_pool = _pool(settings, settings.database_read_url, autocommit=False)
    runtime = Runtime(
        settings,
        pool,
        PolicyFollower(policy_set, policy_generation, datetime.now(UTC)),
        quick,
        RegistrySnapshot(quick),
        _decision_log(settings, pool),
        read_pool or pool,
        access_tokens.from_settings(
            settings.jwt_issuer, settings.jwt_audience, settings.jwt_jwks_url
        ),
        KeyUsage(quick),
    )

    app = Flask("dealdesk")
    app.config.update(_openapi_config())
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.extensions["dealdesk"] = runtime
    api = DealdeskApi(app, spec_kwargs={"security": [{BEARER: []}, {OAUTH: []}]})
    for name, scheme in security_schemes(settings.jwt_token_url).items():
        api.spec.components.security_scheme(name, scheme)
    for module in BLUEPRINTS:
        api.register_blueprint(module.blp)
    app.register_blueprint(scim.blp)  # its own protocol: not in the OpenAPI document
    problems.register(app)
    logs.install(app)
    if settings.metrics:
        metrics.install(app, shared_metrics())
    app.before_request(authenticate)
    app.after_request(confirm_snapshot_key)
    app.add_url_rule("/openapi.yaml", "openapi_yaml", lambda: _openapi_yaml(app))
    console.install(app)
    if settings.fast_lane:
        fastlane.install(app, MAX_BODY)
    return app


def _decision_log(settings: Settings, pool: ConnectionPool) -> DecisionLog:
    """Through the instance's writer process when `serve` runs one, else from this process;
    either way every row is durably committed before its evaluation is answered."""
    direct = PreviewLog(pool, check_policy=settings.policy_check)
    if settings.decision_socket is None:
        return direct
    return SocketLog(
        settings.decision_socket, direct, statement_timeout_ms=settings.statement_timeout_ms
    )


def _pool(settings: Settings, url: str, *, autocommit: bool) -> ConnectionPool:
    return open_pool(
        url,
        max_size=settings.pool_max,
        timeout_s=settings.pool_timeout_s,
        statement_timeout_ms=settings.statement_timeout_ms,
        connect_timeout_s=settings.connect_timeout_s,
        autocommit=autocommit,
        commit_timeout_s=settings.commit_timeout_s,
    )


def openapi_document(app: Flask, profile: str | None = None) -> dict[str, Any]:
    """The OpenAPI document the schemas generate (what openapi.yaml must equal), or with
    profile="salesforce" its Salesforce profile under the active policy
    (openapi-salesforce.yaml, for the shipped policy)."""
    api: DealdeskApi = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    if profile is None:
        return api.document()
    if profile not in PROFILES:
        raise HttpProblem(
            422,
            "validation-error",
            "The request parameters are not valid.",
            {"profile": [f"Must be one of: {', '.join(PROFILES)}."]},
        )
    runtime: Runtime = app.extensions["dealdesk"]
    return salesforce_profile(api.document(), runtime.policies.active)


def openapi_yaml_text(app: Flask, profile: str | None = None) -> str:
    return yaml.safe_dump(openapi_document(app, profile), sort_keys=False, allow_unicode=True)


def _openapi_yaml(app: Flask) -> Response:
    text = openapi_yaml_text(app, request.args.get("profile"))
    return Response(text, mimetype="application/yaml")


def _openapi_config() -> dict[str, Any]:
    return {
        "API_TITLE": "dealdesk",
        "API_VERSION": "1.0.0",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_SPEC_OPTIONS": {
            "info": {
                "description": "Policy-as-code deal approvals that keep authority with "
                "the account manager. Errors are application/problem+json, or application/json "
                "for a client whose Accept names application/json and not problem+json."
            },
        },
    }
