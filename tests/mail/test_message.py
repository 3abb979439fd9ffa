"""The pure parts: recipients, subjects, the message's form, and DEALDESK_SMTP_URL."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from typing import Any

import pytest

from api.config import ConfigError, Settings
from api.mail import message
from api.mail.recipients import Recipient, recipients
from api.mail.subjects import subject
from api.mail.target import Security, SmtpTarget, parse_target

AT = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


def request(**step: Any) -> dict[str, Any]:
    return {
        "id": "0190-req",
        "deal_id": "Q-00042",
        "state": "pending",
        "owner": {"id": "am.jones", "tier": "account_manager"},
        "requested_by": {"id": "sm.lee", "tier": "sales_manager"},
        "deal": {"discount_pct": "18", "account": {"id": "ACME", "name": "Acme Corp"}},
        "decision": {
            "findings": [
                {"lever": "discount_pct", "value": "18", "status": "needs_approval"},
                {"lever": "effective_discount_pct", "value": "19", "status": "needs_approval"},
                {"lever": "rebate_pct", "value": None, "status": "not_requested"},
            ],
            "flags": ["quarter_end"],
        },
        "steps": [
            {"tier": "sales_director", "approver_id": "sd.patel", "state": "pending", **step}
        ],
        "current_step": {"seq": 0, "tier": "sales_director", "approver_id": "sd.patel"},
    }


def test_step_mail_goes_to_everyone_eligible_when_the_step_lists_them() -> None:
    data = request(eligible=[{"id": "sd.patel", "tier": "sales_director"},
                             {"id": "vp.garcia", "tier": "vp_sales"}])  # fmt: skip
    for kind in ("approval_step.assigned", "approval_step.reminder", "approval_step.overdue"):
        assert recipients(kind, data) == [
            Recipient("sd.patel", 0),
            Recipient("vp.garcia", 0),
        ]


def test_without_eligible_the_approver_and_their_active_delegate() -> None:
    """The delegate is looked up where the notifications are written (registry, event day)."""
    assert recipients("approval_step.assigned", request()) == [
        Recipient("sd.patel", 0),
        Recipient("sd.patel", 0, delegate=True),
    ]


def test_an_escalation_mails_only_the_manager_it_just_reached() -> None:
    """The last of the step's `escalations`, with a link for the step; not the approver, the
    delegate or the managers reached before (they were told already). The first escalation
    mails no one: the overdue notice of the same moment mailed that manager."""
    escalations = [
        {"person_id": "vp.garcia", "at": "2026-12-05T09:00:00Z"},
        {"person_id": "ceo.morgan", "at": "2026-12-05T09:30:00Z"},
    ]
    tiers = {"sd.patel": "sales_director", "vp.garcia": "vp_sales", "ceo.morgan": "ceo"}
    eligible = [{"id": p, "tier": t} for p, t in tiers.items()]
    data = request(eligible=eligible, escalations=escalations)
    assert recipients("approval_step.escalated", data) == [Recipient("ceo.morgan", 0)]
    first = request(eligible=eligible[:2], escalations=escalations[:1])
    assert recipients("approval_step.escalated", first) == []
    assert recipients("approval_step.escalated", request(escalations=[])) == []
    assert recipients("approval_step.escalated", request()) == []
    assert recipients("approval_step.escalated", {**data, "current_step": None}) == []


def test_the_escalation_mail_says_it_was_escalated_and_carries_the_link() -> None:
    data = request(
        due_at="2026-12-05T14:00:00Z",
        escalations=[{"person_id": "vp.garcia", "at": "2026-12-05T14:00:00Z"}],
    )
    view = message.compose(
        "approval_step.escalated",
        data,
        AT,
        name="Garcia",
        public_url="https://deals.example.com",
        link="https://deals.example.com/console/act/TOKEN",
    )
    assert view.subject == (
        "Escalated to you: approve Q-00042: 18% discount for Acme Corp — due 14:00 UTC"
    )
    assert view.lead == "Q-00042 is overdue and was escalated to you: it now waits for you too."
    assert view.action == ("Review and decide", "https://deals.example.com/console/act/TOKEN")
    assert ("Due", "2026-12-05 14:00 UTC") in view.facts
    built = message.build(view, "dealdesk <dd@example.com>", "vp.garcia@example.com", AT, ref="e")
    parsed = message_from_bytes(built.as_bytes(), policy=policy.default)
    assert parsed["Subject"] == view.subject  # long, yet read back with one space per gap


def test_owner_and_requester_once_each_and_overrides_only_around_the_owner() -> None:
    data = request()
    assert recipients("approval_request.decided", data) == [
        Recipient("am.jones"),
        Recipient("sm.lee"),
    ]
    same = {**data, "requested_by": {"id": "am.jones", "tier": "account_manager"}}
    assert recipients("approval_request.decided", same) == [Recipient("am.jones")]
    assert recipients("approval_request.returned", data) == [Recipient("am.jones")]
    override = {"owner": {"id": "am.jones"}, "categories": ["bypassed_owner"]}
    assert recipients("override.filed", override) == [Recipient("am.jones")]
    other = {"owner": {"id": "am.jones"}, "categories": ["beyond_executive_authority"]}
    assert recipients("override.filed", other) == []
    assert recipients("approval_request.submitted", data) == []


def test_subjects_name_the_deal_the_ask_and_the_due_time() -> None:
    due = request(due_at="2026-12-05T14:00:00Z")
    assert subject("approval_step.assigned", due, AT) == (
        "Approve Q-00042: 18% discount for Acme Corp — due 14:00 UTC"
    )
    assert subject("approval_step.reminder", due, AT) == (
        "Reminder: approve Q-00042: 18% discount for Acme Corp — due 14:00 UTC"
    )
    later = request(due_at="2026-12-07T08:15:00Z")
    assert subject("approval_step.overdue", later, AT) == (
        "Overdue: approve Q-00042: 18% discount for Acme Corp — due 2026-12-07 08:15 UTC"
    )
    assert subject("approval_step.assigned", request(), AT) == (
        "Approve Q-00042: 18% discount for Acme Corp"
    )
    decided = {**request(), "state": "rejected"}
    assert subject("approval_request.decided", decided, AT) == (
        "Q-00042 rejected: 18% discount for Acme Corp"
    )
    override = {
        "deal_id": "Q-00043",
        "terms_after": {"discount_pct": "35", "payment_terms_days": 90},
    }
    assert subject("override.filed", override, AT) == (
        "Override on your deal Q-00043: 35% discount, 90-day payment terms — please acknowledge"
    )


def test_the_message_is_multipart_alternative_and_auto_submitted() -> None:
    view = message.compose(
        "approval_step.assigned",
        request(due_at="2026-12-05T14:00:00Z"),
        AT,
        name="Patel",
        public_url="https://deals.example.com",
        link="https://deals.example.com/console/act/TOKEN",
    )
    built = message.build(view, "dealdesk <dd@example.com>", "sd.patel@example.com", AT, ref="e.p")
    assert built["Subject"] == "Approve Q-00042: 18% discount for Acme Corp — due 14:00 UTC"
    assert built["Auto-Submitted"] == "auto-generated"
    assert built.get_content_type() == "multipart/alternative"
    text, html = (p.get_content() for p in built.iter_parts())
    assert "Review and decide: https://deals.example.com/console/act/TOKEN" in text
    assert "- discount_pct 18: needs approval" in text
    assert "rebate_pct" not in text
    assert "Flags: quarter_end" in text
    assert "Due: 2026-12-05 14:00 UTC" in text
    assert '<a href="https://deals.example.com/console/act/TOKEN"' in html
    assert built["Message-ID"].endswith("@example.com>")


def test_html_escapes_what_people_typed() -> None:
    data = request()
    data["deal"]["account"]["name"] = "<script>x</script>"
    text, html = message.render(
        message.compose("approval_request.returned", data, AT, name="Jo", public_url="https://d")
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>x</script>" in text


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("smtp://mail.example.com", SmtpTarget(Security.PLAIN, "mail.example.com", 25)),
        (
            "smtps://u:p%40ss@mail.example.com",
            SmtpTarget(Security.TLS, "mail.example.com", 465, "u", "p@ss"),
        ),
        (
            "smtp+starttls://mail.example.com:2525",
            SmtpTarget(Security.STARTTLS, "mail.example.com", 2525),
        ),
    ],
)
def test_smtp_urls(url: str, target: SmtpTarget) -> None:
    assert parse_target(url) == target
    assert "p@ss" not in repr(parse_target(url)) and "p@ss" not in str(parse_target(url))


@pytest.mark.parametrize(
    ("env", "message_part"),
    [
        ({"DEALDESK_SMTP_URL": "http://x"}, "scheme must be smtp, smtps or smtp+starttls"),
        ({"DEALDESK_SMTP_URL": "smtp://"}, "a host is required"),
        ({"DEALDESK_SMTP_URL": "smtp://h:99999"}, "the port must be a number"),
        ({"DEALDESK_SMTP_URL": "smtp://h"}, "DEALDESK_MAIL_FROM must be set"),
        (
            {"DEALDESK_SMTP_URL": "smtp://h", "DEALDESK_MAIL_FROM": "a@b"},
            "DEALDESK_PUBLIC_URL must be set",
        ),
    ],
)
def test_bad_mail_settings_are_refused_by_name(env: dict[str, str], message_part: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message_part)):
        Settings.from_env(env)


def test_the_password_never_shows_in_settings() -> None:
    env = {
        "DEALDESK_SMTP_URL": "smtp+starttls://relay:hunter2secret@mail.example.com:587",
        "DEALDESK_MAIL_FROM": "dealdesk <dd@example.com>",
        "DEALDESK_PUBLIC_URL": "https://deals.example.com/",
    }
    settings = Settings.from_env(env)
    assert settings.mail_on and settings.public_url == "https://deals.example.com"
    assert "hunter2secret" not in repr(settings)


def test_a_lease_shorter_than_a_slow_send_is_refused() -> None:
    from api.dispatch.mail import MailChannel

    env = {
        "DEALDESK_SMTP_URL": "smtp://127.0.0.1:2525",
        "DEALDESK_MAIL_FROM": "dd@example.com",
        "DEALDESK_PUBLIC_URL": "https://deals.example.com",
        "DEALDESK_WEBHOOK_LEASE_S": "5",
    }
    with pytest.raises(ConfigError, match="must exceed DEALDESK_SMTP_TIMEOUT_S"):
        MailChannel.from_settings(Settings.from_env(env))
    channel = MailChannel.from_settings(Settings.from_env({**env, "DEALDESK_SMTP_TIMEOUT_S": "2"}))
    assert channel is not None and str(channel.target) == "smtp://127.0.0.1:2525"
    assert MailChannel.from_settings(Settings()) is None
