"""Bearer API keys, OAuth 2.0 access tokens and scopes: 401 without a valid key or token,
403 without the view's scope. A bearer value of three dot-separated parts is a JWT."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from flask import Response, current_app, g, request

from api.errors import Unavailable
from api.http.problems import HttpProblem, problem
from api.identity.tokens import Grant, TokenRefused, looks_like_jwt
from api.runtime import Runtime
from api.storage.database import transaction
from api.storage.keys import ApiKey, find_key, hash_key

F = TypeVar("F", bound=Callable[..., Any])
TOKEN_GENERATION = 2**62
"""An access token's caller is not in the registry: its part of an evaluation's generation
guard never moves (the people's part still guards the write)."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TOKEN_REFUSED = "dealdesk.token_refused"  # noqa: S105 (an environ key)
"""environ key: why the fast lane refused the request's token, so Flask need not verify again."""


class Scope(StrEnum):
    EVALUATE = "evaluate"
    REQUESTS = "requests"
    APPROVALS = "approvals"
    OVERRIDES = "overrides"
    AUDIT_READ = "audit:read"
    AUDIT_REVIEW = "audit:review"
    PEOPLE = "people"
    POLICIES = "policies"
    WEBHOOKS = "webhooks"
    METRICS = "metrics"
    SCIM = "scim"
    ADMIN = "admin"


def requires(scope: Scope, *, snapshot: bool = False) -> Callable[[F], F]:
    """Mark a view with the scope its key must carry (admin implies every scope).

    `snapshot=True` lets the key come from the registry snapshot, for a view whose write is
    guarded by the generation in `g.key_generation` (see storage/registry.py)."""

    def mark(view: F) -> F:
        view.required_scope = scope  # type: ignore[attr-defined]
        view.snapshot_auth = snapshot  # type: ignore[attr-defined]
        return view

    return mark


def has_scope(key: ApiKey, scope: Scope) -> bool:
    return Scope.ADMIN.value in key.scopes or scope.value in key.scopes


def current_key() -> ApiKey:
    key: ApiKey = g.api_key
    return key


def authenticate() -> None:
    """before_request for /v1, /scim and /metrics: find the key or token, then the view's scope."""
    if not (request.path.startswith(("/v1", "/scim/")) or request.path == "/metrics"):
        return
    token = _token()
    runtime: Runtime = current_app.extensions["dealdesk"]
    view = current_app.view_functions.get(request.endpoint or "")
    snapshot = getattr(view, "snapshot_auth", False)
    if looks_like_jwt(token):
        key = caller_of_token(runtime, token)
        if snapshot:
            g.key_generation = TOKEN_GENERATION
    elif snapshot:
        seen = runtime.registry.key(hash_key(token))
        key = _usable(runtime, seen.key)
        g.key_generation = seen.generation
    else:
        key = _usable(runtime, _key_from_database(runtime, token))
    g.api_key = key
    scope: Scope | None = getattr(view, "required_scope", None)
    if scope is not None and request.url_rule is not None and not has_scope(key, scope):
        raise missing_scope(key, scope)


def reauthenticate() -> None:
    """Check the key against the database itself: the snapshot it came from is outdated."""
    g.pop("key_generation", None)
    runtime: Runtime = current_app.extensions["dealdesk"]
    token = _token()
    if looks_like_jwt(token):
        g.api_key = caller_of_token(runtime, token)
        return
    g.api_key = _usable(runtime, _key_from_database(runtime, token))


def caller_of_token(runtime: Runtime, token: str) -> ApiKey:
    """The caller a verified access token names (cached per token until it expires)."""
    if runtime.tokens is None:
        raise _invalid_token("This server takes API keys only: no token issuer is configured.")
    refused: TokenRefused | None = request.environ.pop(TOKEN_REFUSED, None)
    if refused is not None:  # the fast lane verified this very token already
        raise _invalid_token(refused.detail)
    try:
        return token_caller(runtime.tokens.verify(token))
    except TokenRefused as exc:
        raise _invalid_token(exc.detail) from None


@functools.lru_cache(maxsize=4096)
def token_caller(grant: Grant) -> ApiKey:
    """An unbound caller with the token's scopes; its id (negative, so never a stored key's)
    keys its Idempotency-Key records, so a client's retries replay across its tokens."""
    number = int.from_bytes(hashlib.sha256(grant.actor.encode()).digest()[:7], "big")
    return ApiKey(-1 - number, grant.actor, list(grant.scopes), EPOCH, None, None, kind="jwt")


def missing_scope(key: ApiKey, scope: Scope) -> HttpProblem:
    if key.kind == "jwt":
        return HttpProblem(
            403,
            "missing-scope",
            f"This access token lacks the `{scope.value}` scope (grant `dealdesk:{scope.value}`).",
            headers={
                "WWW-Authenticate": f'Bearer error="insufficient_scope", '
                f'scope="dealdesk:{scope.value}"'
            },
        )
    return HttpProblem(403, "missing-scope", f"This API key lacks the `{scope.value}` scope.")


def confirm_snapshot_key(response: Response) -> Response:
    """after_request: an error answered to a key seen only in the snapshot wrote nothing that
    could prove the key current, so confirm it before refusing for another reason."""
    if (
        "key_generation" not in g
        or not request.path.startswith("/v1")
        or response.status_code < 400
        or response.status_code in (401, 503)
    ):
        return response
    try:
        reauthenticate()
    except HttpProblem as exc:
        return problem(exc.status, exc.slug, exc.detail, headers=exc.headers)
    except Unavailable:
        pass  # the database is gone since: the refusal already made stands
    return response


def _token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    return token.strip()


def _key_from_database(runtime: Runtime, token: str) -> ApiKey | None:
    with transaction(runtime.quick) as conn:
        return find_key(conn, token)


def _usable(runtime: Runtime, key: ApiKey | None) -> ApiKey:
    """The key, unless it is unknown, revoked or expired (401); its use is noted."""
    if key is None:
        raise _unauthorized("The API key is not valid or has been revoked.")
    if key.expired(runtime.now()):
        assert key.expires_at is not None
        raise _unauthorized(
            f"The API key expired at {key.expires_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}; "
            "ask for a new one."
        )
    if runtime.usage is not None:
        runtime.usage.note(key.id)
    return key


def _unauthorized(detail: str) -> HttpProblem:
    return HttpProblem(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def _invalid_token(detail: str) -> HttpProblem:
    """RFC 6750: the description may not hold quotes or backslashes, and is ASCII."""
    said = re.sub(r'[^\x20-\x7e]|["\\]', "'", detail)
    header = f'Bearer error="invalid_token", error_description="{said}"'
    return HttpProblem(401, "invalid-token", detail, headers={"WWW-Authenticate": header})
