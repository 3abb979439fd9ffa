"""The override register (every filter of GET /v1/overrides, keyset paging, CSV of the same
filter) and an override's own page with its reviews and the review form."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, redirect, request, url_for
from marshmallow import ValidationError

from api.console.blueprint import FINANCE, bp, needs, page, user
from api.console.sessions import SignedIn
from api.errors import Forbidden, Invalid
from api.http.context import runtime
from api.http.overrides import FILTERS, csv_export, override_filters
from api.http.problems import HttpProblem
from api.http.replies import encode_cursor, resource_id
from api.http.schemas import OverridesQuery, ReviewIn
from api.http.schemas.overrides import CATEGORIES, REVIEW_STATUSES
from api.policy.decimals import decimal_str
from api.service import override_reviews as service
from api.service import reports
from api.service.context import Context
from api.storage import console_reads as reads
from api.storage import overrides as store
from api.storage.database import transaction

QUERY = OverridesQuery()
REVIEW_IN = ReviewIn()
PAGE_SIZE = 50


def messages_of(exc: ValidationError) -> dict[str, list[str]]:
    """marshmallow's messages as the console shows them: field -> sentences."""
    found = exc.messages if isinstance(exc.messages, dict) else {"_": exc.messages}
    return {
        str(k): [str(m) for m in v] if isinstance(v, list) else [str(v)] for k, v in found.items()
    }


def _query() -> tuple[dict[str, Any], dict[str, str], dict[str, list[str]]]:
    """(parsed filters, the filters as sent, errors): blank fields count as not given."""
    sent = {k: v for k in (*FILTERS, "cursor", "limit") if (v := request.args.get(k, "").strip())}
    try:
        parsed: dict[str, Any] = QUERY.load(sent)
    except ValidationError as exc:
        return {}, sent, messages_of(exc)
    try:
        filters = override_filters(parsed, paged=True)
    except HttpProblem as exc:
        return {}, sent, exc.errors
    if "after" in filters:  # the register pages newest first: its cursor is a `before`
        filters["before"] = filters.pop("after")
    filters["limit"] = parsed.get("limit", PAGE_SIZE)
    return filters, sent, {}


@bp.route("/overrides")
@needs(FINANCE)
def register() -> str | tuple[str, int]:
    filters, sent, errors = _query()
    rows: list[store.OverrideRecord] = []
    next_url = None
    if not errors:
        limit = filters.pop("limit")
        with transaction(runtime().reads) as conn:  # replica lag is fine here, as on /v1
            found = store.list_overrides(conn, filters, limit + 1, newest_first=True)
        rows = found[:limit]
        if len(found) > limit:
            more = {k: v for k, v in sent.items() if k != "cursor"}
            next_url = _url("console.register", {**more, "cursor": encode_cursor([rows[-1].seq])})
    plain = {k: v for k, v in sent.items() if k not in ("cursor", "limit")}
    html = page(
        "console/register.html",
        "console/register_results.html",
        title="Override register",
        me=user(),
        rows=[reports.override_json(r) for r in rows],
        sent=sent,
        errors=errors,
        next_url=next_url,
        first_url=_url("console.register", plain) if "cursor" in sent else None,
        csv_url=_url("console.register_csv", plain),
        categories=CATEGORIES,
        review_statuses=REVIEW_STATUSES,
    )
    return (html, 422) if errors else html


def _url(endpoint: str, args: dict[str, str]) -> str:
    base = url_for(endpoint)
    return f"{base}?{urlencode(args)}" if args else base


@bp.route("/overrides.csv")
@needs(FINANCE)
def register_csv() -> Response | tuple[str, int]:
    """The export of GET /v1/overrides with Accept: text/csv, for the filter on screen."""
    filters, _, errors = _query()
    if errors:
        raise Invalid("The filter is not valid.", errors)
    filters.pop("limit", None)
    filters.pop("before", None)
    return csv_export(filters)


def may_review(me: SignedIn, executive_id: str) -> tuple[bool, str | None]:
    """Whether the review form shows, and if not, why (said on the page)."""
    if not me.has("audit:review") and me.sso:
        return False, "Reviewing needs a role that grants the audit:review scope."
    if not me.has("audit:review"):
        return False, "Reviewing needs an API key with the audit:review scope."
    if me.person_id is None:
        return False, "Reviewing needs a key bound to a person (dealdesk keys create --person)."
    if me.person_id == executive_id:
        return False, "You made this override: the executive can never review it."
    return True, None


def _detail(override_id: str, **extra: Any) -> str:
    oid = resource_id(override_id, "override")
    with transaction(runtime().pool) as conn:
        record = service.find(conn, oid)
        reviews = store.reviews(conn, oid)
        event_id = reads.event_id_of(conn, record.event_hash)
    me = user()
    allowed, why_not = may_review(me, record.executive_id)
    body = reports.override_json(record, reviews)
    levers = sorted(set(body["terms_before"]) | set(body["terms_after"]))
    context: dict[str, Any] = {
        "title": f"Override of {record.deal_id}",
        "me": me,
        "o": body,
        "levers": levers,
        "excess_value": decimal_str(record.excess_value),
        "event_id": event_id,
        "may_review": allowed,
        "why_not": why_not,
        "statuses": REVIEW_STATUSES[1:],
        "form": {},
        "form_errors": {},
    }
    context.update(extra)
    return page("console/override.html", "console/reviews.html", **context)


@bp.route("/overrides/<string:override_id>")
@needs(FINANCE)
def override(override_id: str) -> str:
    return _detail(override_id)


@bp.route("/overrides/<string:override_id>/reviews", methods=["POST"])
@needs(FINANCE)
def review(override_id: str) -> Response | str | tuple[str, int]:
    """Review as the person the key is bound to; segregation of duties holds in the service."""
    me = user()
    oid = resource_id(override_id, "override")
    form = {"status": request.form.get("status", ""), "note": request.form.get("note", "")}
    if not me.has("audit:review") or me.person_id is None:
        raise Forbidden("Reviewing needs a people-bound API key with the audit:review scope.")
    try:
        data = REVIEW_IN.load({"reviewer_id": me.person_id, **form})
    except ValidationError as exc:
        errors = messages_of(exc)
        return _detail(override_id, form=form, form_errors=errors), 422
    rt = runtime()
    with transaction(rt.pool) as conn:
        held = rt.policies.follow(conn)  # the set in force, as every action takes it
        ctx = Context(held.active, rt.today(), rt.now(), me.key_name, False, person_id=me.person_id)
        service.find(conn, oid)
        service.review(conn, ctx, oid, me.person_id, data["status"], data["note"])
    if request.headers.get("HX-Request") == "true":
        return _detail(override_id, saved=True)
    return redirect(url_for("console.override", override_id=override_id))  # type: ignore[return-value]
