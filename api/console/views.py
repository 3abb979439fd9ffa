"""Sign-in, sign-out and the overview page."""

from __future__ import annotations

from decimal import Decimal

from flask import Response, redirect, render_template, request, session, url_for

from api.console.blueprint import FINANCE, bp, needs, page, user
from api.console.sessions import ConsoleSession, SignedIn
from api.http.context import runtime
from api.policy.decimals import decimal_str
from api.policy.period import fiscal_period
from api.storage import console_reads as reads
from api.storage.database import transaction
from api.storage.keys import find_key

SIGN_IN_SCOPE = "audit:read"
AUTO_VERIFY = 100_000
"""Up to this many events the overview checks the whole chain as it loads (about a second);
beyond, a button does (a million events take 15-40 s on a loaded two-core machine)."""


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response | tuple[str, int] | str:
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        return sign_in_page(target, None, 200)
    if not runtime().settings.console_key_signin:
        return _refuse(target, 403, "Sign-in with an API key is switched off here.")
    token = request.form.get("api_key", "").strip()
    key = None
    if token:
        with transaction(runtime().quick) as conn:
            key = find_key(conn, token)
    if key is None:
        return _refuse(target, 401, "That API key is not valid, or it has been revoked.")
    if key.expired(runtime().now()):
        return _refuse(target, 401, "That API key has expired.")
    signed = SignedIn(key.id, key.name, tuple(key.scopes), key.person_id)
    if signed.person_id is None and not signed.has(SIGN_IN_SCOPE):  # DESIGN 14: bound keys
        return _refuse(
            target,
            403,
            f"That API key is not bound to a person and lacks the `{SIGN_IN_SCOPE}` scope.",
        )
    assert isinstance(session, ConsoleSession)
    session.begin(signed)
    return redirect(target)  # type: ignore[return-value]


def _refuse(target: str, status: int, message: str) -> tuple[str, int]:
    return sign_in_page(target, message, status)


def sign_in_page(target: str, error: str | None, status: int) -> tuple[str, int]:
    """The sign-in page: single sign-on when configured, the key form unless switched off."""
    settings = runtime().settings
    html = render_template(
        "console/sign_in.html",
        next=target,
        error=error,
        sso=settings.oidc_issuer is not None,
        key_signin=settings.console_key_signin,
    )
    return html, status


def safe_next(value: str | None) -> str:
    """Only a path inside the console: never another site (an open redirect)."""
    if value and value.startswith("/console/") and not value.startswith("/console//"):
        return value
    return url_for("console.overview")


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    assert isinstance(session, ConsoleSession)
    session.end()
    return redirect(url_for("console.sign_in"))  # type: ignore[return-value]


@bp.route("/")
@needs(FINANCE)
def overview() -> str:
    """This quarter at a glance; the chain check loads beside it (it walks every event)."""
    rt = runtime()
    policy = rt.policies.active
    month, day = policy.fiscal_year_start
    period = fiscal_period(rt.today(), month, day, policy.period_end_days)
    with transaction(rt.reads) as conn:
        totals = reads.quarter_totals(conn, period.fiscal_year, period.fiscal_quarter)
        pending = reads.pending_reviews(conn)
        head = reads.chain_head(conn)
    return page(
        "console/overview.html",
        title="Overview",
        me=user(),
        period=period,
        period_today=rt.today().isoformat(),
        totals=totals,
        excess=decimal_str(totals.excess_value),
        currency=policy.currency,
        count_share=_share(totals.period_end_count, totals.count),
        excess_share=_share(totals.period_end_excess, totals.excess_value),
        pending=pending,
        head=head,
        auto_verify=AUTO_VERIFY,
    )


def _share(part: int | Decimal, whole: int | Decimal) -> str | None:
    """A percentage with one decimal, or None when there is nothing to share."""
    if not whole:
        return None
    return str((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1")))
