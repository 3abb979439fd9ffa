"""The console blueprint, its gate (signed in, CSRF on every POST) and its response headers."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup, escape

from api.console.sessions import ConsoleSession, SignedIn
from api.errors import DealdeskError, Forbidden, NotFound, Unavailable

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)
csrf = CSRFProtect()

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
OPEN_ENDPOINTS = {
    "console.sign_in",
    "console.static",
    "console.oidc_start",
    "console.oidc_callback",
}
STATUS_OF = {NotFound: 404, Forbidden: 403, Unavailable: 503}


def user() -> SignedIn:
    """The signed-in key; the gate has already turned everyone else away."""
    current = _console_session().user
    assert current is not None
    return current


def _console_session() -> ConsoleSession:
    assert isinstance(session, ConsoleSession)
    return session


def is_htmx() -> bool:
    """An htmx swap (not a history restore, which wants the whole page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def page(template: str, partial: str | None = None, **context: Any) -> str:
    """The whole page, or only `partial` when htmx asks for a fragment."""
    if partial is not None and is_htmx():
        return render_template(partial, **context)
    return render_template(template, **context)


@bp.app_template_filter("utc")
def utc(text: str) -> str:
    """An ISO UTC time as people read it: '2026-12-01 20:34:28' (the datetime attribute keeps
    the exact value, microseconds and all)."""
    return text.replace("T", " ").removesuffix("Z").split(".")[0]


@bp.app_template_filter("wrappable")
def wrappable(text: str) -> str:
    """A name that may wrap after its underscores, in an attribute: a zero-width space after
    each, for the card labels of narrow screens (CSS `content` has no other break hint),
    which would otherwise break `beyond_executive_authority` mid-word. Screen readers skip
    the space."""
    return str(text).replace("_", "_\u200b")


@bp.app_template_filter("breakable")
def breakable(text: str) -> Markup:
    """`wrappable` for page text: a `<wbr>` after each underscore, which, unlike a character,
    is not copied with the name."""
    return escape(text).replace("_", Markup("_<wbr>"))


@bp.context_processor
def shared() -> dict[str, Any]:
    """What the layout needs on every page: who is signed in, which pages exist."""
    current = session.user if isinstance(session, ConsoleSession) else None
    return {"me": current, "nav_endpoints": set(current_app.view_functions)}


@bp.before_request
def gate() -> Response | None:
    if request.endpoint == "console.static":
        return None
    if request.method == "POST":
        csrf.protect()
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if _console_session().user is None:
        target = url_for("console.sign_in", next=request.full_path.rstrip("?"))
        if is_htmx():
            return Response(status=204, headers={"HX-Redirect": target})
        return redirect(target)  # type: ignore[return-value]
    return None


@bp.after_request
def headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
        response.headers["Vary"] = "HX-Request, Cookie"
    return response


@bp.errorhandler(CSRFError)
def csrf_refused(error: CSRFError) -> tuple[str, int]:
    detail = "The form's security token is missing or stale: reload the page and try again."
    return _error_page(400, "Form refused", f"{detail} ({error.description})")


@bp.errorhandler(DealdeskError)
def domain_error(error: DealdeskError) -> tuple[str, int]:
    status = next((s for kind, s in STATUS_OF.items() if isinstance(error, kind)), 422)
    return _error_page(status, "Not possible", error.detail, error.errors)


def _error_page(
    status: int, title: str, detail: str, errors: dict[str, list[str]] | None = None
) -> tuple[str, int]:
    template = "console/error_fragment.html" if is_htmx() else "console/error.html"
    signed_in = isinstance(session, ConsoleSession) and session.user is not None
    html = render_template(
        template,
        title=title,
        status=status,
        detail=detail,
        errors=errors or {},
        signed_in=signed_in,
    )
    return html, status
