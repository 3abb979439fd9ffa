"""One person's mail about one event: text and HTML (multipart/alternative), marked
`Auto-Submitted: auto-generated` so out-of-office responders stay quiet (RFC 3834)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.mail import subjects
from api.mail.recipients import ACTION_EVENTS, DECIDED, OVERRIDE_FILED, RETURNED

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

UNFOLDED = policy.default.clone(max_line_length=998)
"""Sent with headers on one line (up to RFC 5322's 998): Python folded a long subject just
before the em dash's encoded word keeping the space on both sides, so it read back with two
(`Acme Corp  — due 14:00 UTC`)."""


@dataclass(frozen=True, slots=True)
class View:
    """What a mail says, whichever its kind; both templates render it."""

    subject: str
    greeting: str
    lead: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    quote: str | None = None
    quote_label: str = ""
    action: tuple[str, str] | None = None
    more: tuple[str, str] | None = None


def compose(
    event_type: str,
    data: Mapping[str, Any],
    at: datetime,
    *,
    name: str,
    public_url: str,
    link: str | None = None,
) -> View:
    """`link`: this person's one-click action URL (step mails to eligible people)."""
    subject = subjects.subject(event_type, data, at)
    if event_type == OVERRIDE_FILED:
        return _override(data, subject, name, public_url)
    facts = _deal_facts(data)
    page = ("Open the request", f"{public_url}/console/requests/{data.get('id')}")
    if event_type in ACTION_EVENTS:
        lead = _STEP_LEADS[event_type].format(deal=data.get("deal_id"))
        due = subjects.due_at(data)
        if due is not None:
            facts.append(("Due", f"{due:%Y-%m-%d %H:%M} UTC"))
        action = ("Review and decide", link) if link else None
        return View(
            subject,
            f"Hello {name},",
            lead,
            facts,
            _findings(data),
            _flags(data),
            action=action,
            more=page,
        )
    if event_type == RETURNED:
        lead = (
            f"{subjects.returned_by(data) or 'An approver'} returned {data.get('deal_id')} to you."
        )
        return View(
            subject,
            f"Hello {name},",
            lead,
            facts,
            _findings(data),
            quote=subjects.coaching(data),
            quote_label="Coaching",
            more=page,
        )
    assert event_type == DECIDED
    lead = f"The approval request for {data.get('deal_id')} is {data.get('state')}."
    return View(subject, f"Hello {name},", lead, facts, more=page)


def render(view: View) -> tuple[str, str]:
    """(text, html)."""
    text = TEMPLATES.get_template("mail.txt").render(v=view)
    html = TEMPLATES.get_template("mail.html").render(v=view)
    return text, html


def build(view: View, sender: str, to: str, at: datetime, *, ref: str) -> EmailMessage:
    """The message for one recipient; `ref` (event and person) is written into its
    Message-ID, so a mail can be traced to its notification."""
    text, html = render(view)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = view.subject
    message["Date"] = format_datetime(at)
    message["Message-ID"] = make_msgid(idstring=ref, domain=_domain(sender))
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message.policy = UNFOLDED  # for sending; the parts keep the encodings chosen above
    return message


_STEP_LEADS = {
    "approval_step.assigned": "{deal} waits for your approval.",
    "approval_step.reminder": "A reminder: {deal} still waits for your approval.",
    "approval_step.overdue": "{deal} is overdue: it still waits for your approval.",
    "approval_step.escalated": (
        "{deal} is overdue and was escalated to you: it now waits for you too."
    ),
}


def _deal_facts(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    deal = data.get("deal") or {}
    facts = [("Deal", str(data.get("deal_id")))]
    account = subjects.account_name(data)
    if account:
        facts.append(("Account", account))
    if deal.get("list_amount") is not None:
        facts.append(("List amount", f"{deal['list_amount']} {deal.get('currency', '')}".strip()))
    facts.append(("Asked", subjects.ask(data)))
    for label, key in (("Owner", "owner"), ("Requested by", "requested_by")):
        party = data.get(key)
        if isinstance(party, Mapping) and party.get("id"):
            facts.append((label, f"{party['id']} ({party.get('tier')})"))
    return facts


def _findings(data: Mapping[str, Any]) -> list[str]:
    findings = (data.get("decision") or {}).get("findings") or []
    return [finding_line(f) for f in findings if f.get("status") != "not_requested"]


def finding_line(finding: Mapping[str, Any]) -> str:
    status = str(finding.get("status", "")).replace("_", " ")
    reason = finding.get("reason")
    head = f"{finding.get('lever')} {finding.get('value')}: {status}"
    return f"{head} — {reason}" if reason else head


def _flags(data: Mapping[str, Any]) -> list[str]:
    return [str(f) for f in (data.get("decision") or {}).get("flags") or []]


def _override(data: Mapping[str, Any], subject: str, name: str, public_url: str) -> View:
    executive = (data.get("executive") or {}).get("id")
    facts = [
        ("Deal", str(data.get("deal_id"))),
        ("Terms", subjects.lever_phrases(data.get("terms_after") or {}) or "-"),
        ("Executive", str(executive)),
        ("Reason", str(data.get("reason_code"))),
    ]
    lead = f"{executive} overrode the approval path on your deal {data.get('deal_id')}."
    action = ("Acknowledge", f"{public_url}/console/overrides/{data.get('id')}")
    return View(
        subject,
        f"Hello {name},",
        lead,
        facts,
        quote=data.get("justification"),
        quote_label="Justification",
        action=action,
    )


def _domain(sender: str) -> str:
    address = sender.rsplit("<", 1)[-1].rstrip(">")
    return address.rsplit("@", 1)[-1] if "@" in address else "dealdesk.invalid"
