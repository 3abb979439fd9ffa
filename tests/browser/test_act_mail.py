"""The one-click link in Chromium: opened from the mail aiosmtpd received, approved on the
page, the request and its audit event checked, and the spent link answered 410."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Page

from tests.browser.conftest import axe_serious, csp_violations, screenshot
from tests.mail.conftest import (
    PUBLIC,
    dispatcher,
    mail_off_afterwards,
    mailbox,
    only_link,
    people,
    rows,
    settings,
    smtp_port,
    submit,
)
from tests.mail.smtpd import Handler


@pytest.mark.usefixtures("people", "mailbox", "dispatcher")
def test_approve_from_the_mail_in_chromium(
    page: Page, live: str, client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    request = submit(client, admin, discount_pct="14")
    [mail] = mailbox.wait_for(1)
    link = only_link(mail).replace(PUBLIC, live)

    page.goto(link)
    assert page.get_by_role("heading", level=1).inner_text() == "Decide on Q-1"
    assert "14% discount" in page.locator("main").inner_text()
    assert (
        page.locator("#findings li")
        .first.inner_text()
        .startswith("discount_pct 14: needs approval")
    )
    assert csp_violations(page) == []
    assert axe_serious(page) == []
    screenshot(page, "act-confirm")
    page.get_by_label("Comment (coaching, required to return)").fill("Approved: 3-year term.")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state("networkidle")
    outcome = page.locator("#outcome")
    assert outcome.get_attribute("data-state") == "approved"
    assert csp_violations(page) == []

    [(state, version)] = rows(
        db, "SELECT state, version FROM approval_requests WHERE id = %s", uuid.UUID(request["id"])
    )
    assert (state, version) == ("approved", 2)
    [(actor, payload)] = rows(
        db, "SELECT actor, payload FROM audit_events WHERE type = 'request.approve'"
    )
    assert (actor, payload["via"], payload["comment"]) == (
        "sm.lee",
        "email_link",
        "Approved: 3-year term.",
    )

    reused = page.goto(link)
    assert reused is not None and reused.status == 410
    assert page.locator("#gone-reason").get_attribute("data-reason") == "used"
    assert "already been used" in page.locator("#gone-reason").inner_text()
    assert axe_serious(page) == []
    screenshot(page, "act-used")
