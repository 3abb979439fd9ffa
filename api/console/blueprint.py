"""The console blueprint, its gate (signed in, CSRF on every POST) and its response headers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

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
from api.errors import (
    Conflict,
    DealdeskError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unavailable,
)
from api.policy.decimals import decimal_str

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)
csrf = CSRFProtect()
F = TypeVar("F", bound=Callable[..., Any])

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
STATUS_OF = {
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    PreconditionFailed: 412,
    Unavailable: 503,
}
FINANCE = "audit:read"
SCOPES_OF: dict[str, tuple[str, ...]] = {}
"""Per endpoint, the scopes of which the signed-in key or person needs one (DESIGN 14: finance
pages `audit:read`, acting `approvals` or `requests`). An endpoint not listed needs none
beyond being signed in; a page that needs a person as well says so itself."""


def needs(*scopes: str) -> Callable[[F], F]:
    """Register the scopes a console view needs (any one of them); the gate checks them."""

    def mark(view: F) -> F:
        SCOPES_OF[f"console.{view.__name__}"] = scopes
        return view

    return mark


PERSONAL = {"console.approvals", "console.deals"}
"""Pages about the signed-in person: the menu offers them only to a sign-in bound to one."""


def may_use(me: SignedIn | None, endpoint: str) -> bool:
    """Whether `me` may open `endpoint`: what the navigation shows and the gate enforces."""
    if me is None:
        return False
    scopes = SCOPES_OF.get(endpoint, ())
    return not scopes or any(me.has(s) for s in scopes)


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


@bp.app_template_filter("when")
def when(value: datetime | None) -> str:
    """A stored time as people read it, in UTC to the second: '2026-12-01 20:34:28'."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


@bp.app_template_filter("iso")
def iso(value: datetime | None) -> str:
    """A stored time for a <time datetime> attribute."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else ""


@bp.app_template_filter("decimal")
def decimal(value: Decimal | None) -> str:
    """A lever value or money as the API writes it ('18', '10000.00')."""
    return "—" if value is None else decimal_str(value)


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
    endpoints = set(current_app.view_functions)
    usable = {e for e in endpoints if e.startswith("console.") and may_use(current, e)}
    if current is not None and current.person_id is None:
        usable -= PERSONAL
    return {"me": current, "nav_endpoints": usable | {e for e in endpoints if "." not in e}}


def landing(me: SignedIn) -> str:
    """The first page someone signed in may use: finance the overview, approvers their
    approvals, owners their deals, anyone else the authority matrix."""
    for endpoint in ("console.overview", "console.approvals", "console.deals"):
        if may_use(me, endpoint):
            return endpoint
    return "console.matrix"


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
    scopes = SCOPES_OF.get(request.endpoint or "", ())
    if scopes and not may_use(user(), request.endpoint or ""):
        if request.endpoint == "console.overview":  # the landing page: go where they may
            return redirect(url_for(landing(user())))  # type: ignore[return-value]
        names = " or ".join(f"`{s}`" for s in scopes)
        raise Forbidden(f"This page needs the {names} scope, which your sign-in does not hold.")
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
