"""The finance console at /console/ (and the offline API docs at /docs).

Server-rendered Jinja pages with vendored htmx and Chart.js (static/vendor, each file's
version and sha256 in its MANIFEST). Sign-in is with an API key holding `audit:read`, or
through the company's OpenID provider (sso.py: single sign-on bound to the person); the
session is a server-side row whose signed random id is the only thing the cookie holds. Every
POST carries a CSRF token; the /v1 API never reads the cookie and needs no token. Pages read
through the same storage and service functions as the API, so their numbers are the API's.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, redirect

from api.console import (  # noqa: F401  (routes)
    act,
    approvals,
    audit,
    deals,
    matrix,
    policies,
    register,
    reports,
    request_page,
    sso,
    views,
)
from api.console.blueprint import bp, csrf
from api.console.docs import docs
from api.console.sessions import ConsoleSessions


def install(app: Flask) -> None:
    sso.install(app, app.extensions["dealdesk"].settings)
    app.session_interface = ConsoleSessions()
    app.config.update(
        WTF_CSRF_CHECK_DEFAULT=False,  # only the console's POSTs are checked (gate())
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as its session (8 h idle)
        WTF_CSRF_SSL_STRICT=True,
    )
    csrf.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(docs)
    app.add_url_rule("/", "root", _to_console)
    app.add_url_rule("/favicon.ico", "favicon", _favicon)


STATIC = Path(__file__).parent / "static"


def _favicon() -> Response:
    """Browsers ask for /favicon.ico on every page: answer rather than log a 404 each time."""
    icon = (STATIC / "favicon.ico").read_bytes()  # 194 bytes
    return Response(icon, mimetype="image/x-icon", headers={"Cache-Control": "max-age=86400"})


def _to_console() -> Response:
    return redirect("/console/")  # type: ignore[return-value]
