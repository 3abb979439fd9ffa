"""POST /v1/evaluations without Flask's per-request machinery, answering what Flask would.

Per request, Flask, werkzeug and flask-smorest cost about as much as a whole `/healthz`:
request and app contexts, URL matching, before and after hooks, proxies, a Response object.
On the evaluation route most of that does nothing for the answer. This WSGI middleware serves
the route itself when it can vouch for every step, with the same functions Flask's view calls:
- a bearer key the registry snapshot knows, unexpired, carrying the `evaluate` scope, or an
  access token the verifier accepts (a cached grant after its first use) with that scope;
- a body of at most 1 MiB, `Content-Type: application/json`, that the compiled loader takes;
- a decision the decision log accepted (committed, its registry and policy generations
  still current).
Anything else goes to Flask with the body untouched, where the view gives the answer it
always gives: every refusal and every error comes from the one error path. When the lane's
attempt ended in an error after reaching the decision log, Flask is told (an environ key) so
that the view raises that error rather than deciding twice. The route, its schemas and the
OpenAPI document stay Flask's; tests/http/test_fastlane.py holds the two paths to the same
answers.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from api.errors import Invalid
from api.http.auth import TOKEN_GENERATION, TOKEN_REFUSED, Scope, has_scope, token_caller
from api.http.body import fast_loader, parse_json
from api.http.evaluations import (
    EVALUATION_IN,
    REFUSED,
    SNAPSHOT_DOUBTED,
    decide_from_snapshot,
)
from api.http.logs import log_access, request_id_of
from api.http.metrics import outcome_of, record_request
from api.identity.tokens import TokenRefused, looks_like_jwt
from api.metrics import Metrics
from api.runtime import Runtime
from api.service.evaluations import Stale
from api.storage.keys import ApiKey, hash_key

PATH = "/v1/evaluations"
ROUTE = PATH  # the metrics label: the route template, as Flask's url_rule gives it
Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class FastLane:
    def __init__(self, app: Flask, inner: Wsgi, max_body: int) -> None:
        self.inner = inner
        self.max_body = max_body
        self.runtime: Runtime = app.extensions["dealdesk"]
        self.metrics: Metrics | None = app.extensions.get("dealdesk.metrics")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.inner(environ, start_response)
        started = time.perf_counter()
        key = self._key(environ)
        length = _length(environ)
        if key is None or length is None or length > self.max_body or not _json(environ):
            return self.inner(environ, start_response)
        try:
            raw = environ["wsgi.input"].read(length)
        except Exception:  # the client went away mid-body: werkzeug says how (400)
            raw = b""
        environ["wsgi.input"] = io.BytesIO(raw)  # Flask reads it again if we pass
        if len(raw) != length:
            return self.inner(environ, start_response)
        data = self._load(raw)
        if data is None:
            return self.inner(environ, start_response)
        api_key, generation = key
        try:
            decision = decide_from_snapshot(self.runtime, data, api_key, generation)
        except Stale:
            self.runtime.registry.forget()
            environ[SNAPSHOT_DOUBTED] = True
            return self.inner(environ, start_response)
        except Invalid:
            environ[SNAPSHOT_DOUBTED] = True
            return self.inner(environ, start_response)
        except Exception as exc:  # Flask's error path answers it, once
            environ[REFUSED] = exc
            return self.inner(environ, start_response)
        request_id = request_id_of(environ.get("HTTP_X_REQUEST_ID", ""))
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(decision))),
                ("X-Request-Id", request_id),
            ],
        )
        seconds = time.perf_counter() - started
        if self.metrics is not None:
            pending = [(outcome_of(decision), "evaluation", None)]
            record_request(self.runtime, self.metrics, ROUTE, "POST", 200, seconds, pending)
        log_access(request_id, "POST", PATH, 200, seconds, api_key.name, environ.get("REMOTE_ADDR"))
        return [decision]

    def _key(self, environ: dict[str, Any]) -> tuple[ApiKey, int] | None:
        """The snapshot's key for the bearer token, with the generation it was seen under."""
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        if looks_like_jwt(token):
            return self._token_caller(token, environ)
        try:
            seen = self.runtime.registry.key(hash_key(token))
        except Exception:  # the database is away: Flask answers 503
            return None
        key = seen.key
        if key is None or not has_scope(key, Scope.EVALUATE) or key.expired(self.runtime.now()):
            return None
        if self.runtime.usage is not None:
            self.runtime.usage.note(key.id)
        return key, seen.generation

    def _token_caller(self, token: str, environ: dict[str, Any]) -> tuple[ApiKey, int] | None:
        if self.runtime.tokens is None:
            return None
        try:
            key = token_caller(self.runtime.tokens.verify(token))
        except TokenRefused as exc:  # Flask's auth answers it, without verifying again
            environ[TOKEN_REFUSED] = exc
            return None
        except Exception:  # the issuer is away: Flask's auth says so
            return None
        return (key, TOKEN_GENERATION) if has_scope(key, Scope.EVALUATE) else None

    def _load(self, raw: bytes) -> dict[str, Any] | None:
        try:
            data = parse_json(raw)
        except Exception:  # malformed: Flask's view says how
            return None
        return fast_loader(EVALUATION_IN)(data)


def _length(environ: dict[str, Any]) -> int | None:
    text = environ.get("CONTENT_LENGTH")
    if not text or not text.isdigit():
        return None  # chunked or absent: werkzeug's reading rules apply
    return int(text)


def _json(environ: dict[str, Any]) -> bool:
    kind: str = environ.get("CONTENT_TYPE", "")
    return kind.partition(";")[0].strip().lower() == "application/json"


def install(app: Flask, max_body: int) -> None:
    app.wsgi_app = FastLane(app, app.wsgi_app, max_body)  # type: ignore[method-assign]
