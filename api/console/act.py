"""One-click action links from mail: /console/act/{token}.

GET shows the deal, the ask, each finding and flag, and the buttons; it changes nothing, since
mail scanners fetch every link before the person does (the page's CSRF token lives in the same
anonymous visitor session as the sign-in page's). The POST from that page, with its CSRF token,
acts as the link's person through the API's own service function, so 403, 409 and 412 are the
API's; the link is then spent. A used or dead link is a 410 page saying why.
"""

from __future__ import annotations

from typing import Any

import psycopg
from flask import render_template, request, url_for

from api.console.blueprint import OPEN_ENDPOINTS, bp
from api.errors import Conflict, DealdeskError, Forbidden, PreconditionFailed
from api.http.context import action_context, runtime
from api.mail import subjects
from api.mail.message import finding_line
from api.service import action_links
from api.service.action_links import VIA, Gone, Opened
from api.service.context import Context
from api.service.resources import request_json
from api.storage.database import transaction
from api.workflow.states import Action

# The link is the credential: no sign-in (the POST still needs the page's CSRF token).
OPEN_ENDPOINTS.update({"console.act", "console.act_post"})

ACTIONS = {"approve": Action.APPROVE, "reject": Action.REJECT, "return": Action.RETURN}
REFUSALS: tuple[tuple[type[DealdeskError], int, str], ...] = (
    (Forbidden, 403, "You may not act on this request"),
    (Conflict, 409, "Not your turn"),
    (PreconditionFailed, 412, "The request changed"),
)
GONE_TEXT = {
    Gone.USED: "This link has already been used: each link acts once.",
    Gone.EXPIRED: "This link has expired: links work for 72 hours after they are sent.",
    Gone.NOT_PENDING: "This step is no longer waiting for a decision, so the link no longer works.",
}
COMMENT_MAX = 2000


@bp.route("/act/<string:token>", methods=["GET"])
def act(token: str) -> tuple[str, int] | str:
    """The confirm page; reads only."""
    rt = runtime()
    with transaction(rt.pool) as conn:
        opened = action_links.open_link(conn, token, rt.now())
    if opened.gone is not None:
        return _gone(opened.gone)
    return _confirm(token, opened)


@bp.route("/act/<string:token>", methods=["POST"])
def act_post(token: str) -> tuple[str, int] | str:
    action = ACTIONS.get(request.form.get("action", ""))
    comment = (request.form.get("comment") or "").strip() or None
    version = request.form.get("version", "")
    problem = _form_problem(action, comment, version)
    rt = runtime()
    try:
        with transaction(rt.pool) as conn:
            opened = action_links.open_link(conn, token, rt.now(), lock=True)
            if opened.gone is not None:
                return _gone(opened.gone)
            if problem is not None or action is None:
                return _confirm(token, opened, error=problem, comment=comment), 422
            ctx = _context(conn, opened)
            record = action_links.act(conn, ctx, opened, action, comment, int(version))
    except (Forbidden, Conflict, PreconditionFailed) as exc:
        return _refused(exc)
    data = request_json(record)
    return render_template(
        "console/act_done.html", title="Done", data=data, action=action.value, comment=comment
    )


def _form_problem(action: Action | None, comment: str | None, version: str) -> str | None:
    if action is None:
        return "Choose approve, reject or return."
    if not version.isdigit():
        return "The form is incomplete: reload the page from the link and try again."
    if action is Action.RETURN and comment is None:
        return "Returning needs coaching: say what would make the deal approvable."
    if comment is not None and len(comment) > COMMENT_MAX:
        return f"The comment may hold at most {COMMENT_MAX} characters."
    return None


def _context(conn: psycopg.Connection, opened: Opened) -> Context:
    """Acting as the link's person, under the policy set in force (as the API does)."""
    return action_context(conn, VIA, False, opened.link.person_id)


def _confirm(
    token: str, opened: Opened, *, error: str | None = None, comment: str | None = None
) -> str:
    data = request_json(opened.record)
    findings = (data["decision"] or {}).get("findings") or []
    view: dict[str, Any] = {
        "title": f"Decide on {data['deal_id']}",
        "data": data,
        "person_id": opened.link.person_id,
        "account": subjects.account_name(data),
        "ask": subjects.ask(data),
        "findings": [finding_line(f) for f in findings if f.get("status") != "not_requested"],
        "flags": (data["decision"] or {}).get("flags") or [],
        "step": data["steps"][opened.link.step_seq],
        "action_url": url_for("console.act_post", token=token),
        "error": error,
        "comment": comment or "",
    }
    return render_template("console/act.html", **view)


def _gone(why: Gone) -> tuple[str, int]:
    html = render_template(
        "console/act_gone.html", title="This link no longer works", why=why, detail=GONE_TEXT[why]
    )
    return html, 410


def _refused(exc: DealdeskError) -> tuple[str, int]:
    status, title = next((s, t) for kind, s, t in REFUSALS if isinstance(exc, kind))
    html = render_template(
        "console/act_refused.html", title=title, detail=exc.detail, status=status
    )
    return html, status
