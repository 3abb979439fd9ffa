"""My deals: an owner's open requests, the returns waiting for their answer with the coaching
that came with them, and the overrides made around them, to acknowledge (as POST
/v1/overrides/{id}/acknowledge does, through the same service)."""

from __future__ import annotations

from flask import Response, redirect, session, url_for

from api.console.acting import OWNER_SCOPE, acting_context, person_of
from api.console.approvals import asked
from api.console.blueprint import bp, needs, page, user
from api.http.context import runtime
from api.http.replies import resource_id
from api.service import override_reviews
from api.storage import inbox
from api.storage.database import transaction

NOTICE = "deals_notice"


@bp.route("/deals")
@needs(OWNER_SCOPE)
def deals() -> str:
    me = user()
    person = person_of(me, "My deals")
    with transaction(runtime().pool) as conn:
        open_requests = inbox.my_open_requests(conn, person)
        around = inbox.overrides_around(conn, person)
    return page(
        "console/deals.html",
        title="My deals",
        me=me,
        waiting=[(r, asked(r.findings)) for r in open_requests if r.state != "returned"],
        returned=[r for r in open_requests if r.state == "returned"],
        to_acknowledge=[o for o in around if not o.owner_acknowledged],
        acknowledged=[o for o in around if o.owner_acknowledged],
        notice=session.pop(NOTICE, None),
        limit=inbox.INBOX_LIMIT,
    )


@bp.route("/overrides/<string:override_id>/acknowledge", methods=["POST"])
@needs(OWNER_SCOPE)
def acknowledge(override_id: str) -> Response:
    """Acknowledge as the signed-in owner; the service refuses anyone else (403)."""
    me = user()
    person = person_of(me, "Acknowledging an override")
    oid = resource_id(override_id, "override")
    with transaction(runtime().pool) as conn:
        ctx = acting_context(conn, me)
        record = override_reviews.acknowledge(conn, ctx, oid, person)
    session[NOTICE] = f"You acknowledged {record.executive_id}'s override of {record.deal_id}."
    return redirect(url_for("console.deals"), code=303)  # type: ignore[return-value]
