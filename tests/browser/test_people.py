"""The console for the people in the loop in a real Chromium: an approver signs in with their
own key, opens My approvals, the request, and approves it; every new page is free of CSP
violations and serious axe findings at 1280 and 390 px."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect

from tests.browser.conftest import axe_serious, csp_violations, screenshot, sign_in_with
from tests.console.loop import plant, submit

COMMENT = "Fine for a three-year term."


def test_an_approver_signs_in_and_approves_from_the_request_page(
    page: Page,
    client: FlaskClient,
    org: Any,
    admin: dict[str, str],
    bound_key: Callable[..., str],
) -> None:
    request = submit(client, admin, "Q-1", account={"id": "ACME", "name": "Acme Corp"})
    sign_in_with(page, bound_key("sd.patel", "approvals", name="patel"))
    expect(page.locator("h1")).to_have_text("My approvals")  # where an approver lands
    expect(page.get_by_role("link", name="Overrides", exact=True)).to_have_count(0)
    expect(page.locator("#approvals tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Q-1").click()
    expect(page.locator("h1")).to_have_text("Request for Q-1")
    expect(page.locator("#request-state")).to_have_text("pending")
    page.get_by_label("Comment").fill(COMMENT)
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#notice")).to_have_text("You approved the Q-1 step.")
    expect(page.locator("#request-state")).to_have_text("approved")
    expect(page.locator("#no-action")).to_have_text(
        "The request is approved: no step waits for an approver."
    )
    assert csp_violations(page) == []
    api = client.get(f"/v1/approval-requests/{request['id']}", headers=admin).json
    assert api["state"] == "approved"
    assert [(s["acted_by"], s["comment"]) for s in api["steps"]] == [("sd.patel", COMMENT)]
    page.get_by_role("link", name="My approvals").click()
    expect(page.locator("#approvals tbody")).to_have_text("Nothing is waiting for you.")


def test_an_owner_acknowledges_an_override_with_the_keyboard(
    page: Page,
    client: FlaskClient,
    org: Any,
    admin: dict[str, str],
    bound_key: Callable[..., str],
) -> None:
    request = submit(client, admin, "Q-9")
    body = {
        "executive_id": "vp.garcia",
        "request_id": request["id"],
        "terms": {"discount_pct": "25"},
        "reason_code": "competitive_displacement",
        "justification": "The competitor offered 25% and the logo is strategic.",
    }
    override = client.post("/v1/overrides", json=body, headers=admin).json
    sign_in_with(page, bound_key("am.jones", "requests", name="jones"))
    expect(page.locator("h1")).to_have_text("My deals")
    button = page.get_by_role("button", name="Acknowledge vp.garcia's override of Q-9")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_have_text("You acknowledged vp.garcia's override of Q-9.")
    expect(page.locator("#acknowledged tbody tr")).to_have_count(1)
    api = client.get(f"/v1/overrides/{override['id']}", headers=admin).json
    assert api["owner_acknowledged"] is True


@pytest.mark.parametrize("width", [1280, 390], ids=["1280px", "390px"])
def test_the_new_pages_pass_csp_and_axe(
    page: Page,
    client: FlaskClient,
    org: Any,
    admin: dict[str, str],
    bound_key: Callable[..., str],
    db: str,
    width: int,
) -> None:
    waiting = submit(client, admin, "Q-1", account={"id": "ACME", "name": "Acme Corp"})
    returned = submit(client, admin, "Q-2")
    coaching = {"approver_id": "sd.patel", "comment": "Lead with a 3-year term first."}
    client.post(f"/v1/approval-requests/{returned['id']}/return", json=coaching, headers=admin)
    rescued = submit(client, admin, "Q-3")
    body = {
        "executive_id": "vp.garcia",
        "request_id": rescued["id"],
        "terms": {"discount_pct": "25"},
        "reason_code": "competitive_displacement",
        "justification": "The competitor offered 25% and the logo is strategic.",
    }
    assert client.post("/v1/overrides", json=body, headers=admin).status_code == 201
    late = submit(client, admin, "Q-4", discount_pct="12")  # sm.lee's, escalated to sd.patel
    plant(db, waiting["id"], datetime.now(UTC) - timedelta(hours=2))
    plant(db, late["id"], datetime.now(UTC) - timedelta(hours=1), "sd.patel")
    page.set_viewport_size({"width": width, "height": 900})
    key = bound_key("sd.patel", "approvals", "requests", "audit:read", name="patel")
    owner = bound_key("am.jones", "requests", name="jones")
    visits = [
        (key, "approvals", "/console/approvals"),  # two overdue rows, one escalated
        (key, "request", f"/console/requests/{waiting['id']}"),
        (key, "request-overridden", f"/console/requests/{rescued['id']}"),
        (key, "matrix", "/console/policies/matrix"),
        (owner, "deals", "/console/deals"),
    ]
    signed_in = None
    for who, name, path in visits:
        if who != signed_in:
            page.context.clear_cookies()
            sign_in_with(page, who, path)
            signed_in = who
        else:
            page.goto(path)
        page.wait_for_load_state("networkidle")
        assert page.locator("main table").count() >= 1, name
        if name == "approvals":
            expect(page.locator("#approvals tbody tr.overdue")).to_have_count(2)
            expect(page.locator("#approvals tbody tr").nth(1)).to_contain_text(
                "escalated from sm.lee"
            )
        assert csp_violations(page) == [], name
        assert axe_serious(page) == [], name
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways at {width}px"
        screenshot(page, f"people-{name}-{width}")
    favicon = page.request.get("/favicon.ico")
    assert favicon.status == 200 and favicon.headers["content-type"] == "image/x-icon"
