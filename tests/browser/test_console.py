"""The console in a real Chromium: a finance auditor's journey, keyboard only, every page
free of CSP violations and serious axe findings, and a screenshot of each at 1280 and 390 px."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect
from psycopg_pool import ConnectionPool

from api.policy.model import Policy
from api.service.keys import withdraw_key
from api.storage.database import transaction
from tests.browser.conftest import axe_serious, csp_violations, screenshot, sign_in_with
from tests.console.test_policies import stored
from tests.console.test_reports import history

REPORT_NAMES = [
    "threshold-proximity",
    "period-end",
    "rescues",
    "seller-timeline",
    "customer-no",
    "approval-times",
]

# The right edge of every cell of a card table, and of the widest cell, against the viewport.
CELL_EDGES = """(() => {
  const cells = [...document.querySelectorAll('table.cards tbody td, table.cards tbody th')];
  const right = Math.max(0, ...cells.map(c => c.getBoundingClientRect().right));
  return {cells: cells.length, right: right, width: window.innerWidth};
})()"""

NOTE = "Checked the competitor's quote: the discount holds up."


def test_sign_in_filter_page_open_review_and_see_the_review(
    page: Page,
    overrides: list[dict[str, Any]],
    bound_key: Callable[..., str],
    client: FlaskClient,
    admin: dict[str, str],
) -> None:
    key = bound_key("cfo.chen", "audit:read", "audit:review", name="chen")
    sign_in_with(page, key)
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.locator("#tile-count")).to_have_text("3")
    expect(page.locator("#chain-status")).to_contain_text("The chain holds")

    page.get_by_role("link", name="Overrides", exact=True).click()
    expect(page.locator("#register tbody tr")).to_have_count(3)
    page.get_by_label("Executive id").fill("vp.garcia")
    page.get_by_role("button", name="Apply filter").click()
    expect(page.locator("#register tbody tr")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"executive_id=vp.garcia"))
    assert "<html" not in page.locator("#results").inner_html()  # swapped as a fragment

    page.goto("/console/overrides?limit=2")
    first = page.locator("#register tbody th a").all_inner_texts()
    assert first == ["Q-3", "Q-2"]  # newest first
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("#register tbody th a")).to_have_text(["Q-1"])
    expect(page).to_have_url(re.compile(r"cursor="))

    page.go_back()  # history is never cached: htmx keeps no copy of finance data locally
    expect(page.locator("#register tbody th a")).to_have_text(["Q-3", "Q-2"])
    assert page.evaluate("localStorage.getItem('htmx-history-cache')") is None
    assert page.evaluate("localStorage.length") == 0

    page.get_by_role("link", name="Q-3").click()
    expect(page.locator("h1")).to_have_text("Override of Q-3")
    page.get_by_label("Status").select_option("clawback")
    page.get_by_label("Note").fill(NOTE)
    page.get_by_role("button", name="Record review").click()
    expect(page.locator(".notice")).to_have_text("Review recorded.")
    expect(page.locator("#review-list tbody tr")).to_have_count(1)
    expect(page.locator("#review-list tbody tr")).to_contain_text("cfo.chen")
    expect(page.locator("#review-status")).to_have_text("clawback")
    assert csp_violations(page) == []

    api = client.get(f"/v1/overrides/{overrides[2]['id']}", headers=admin).json
    assert [(r["reviewer_id"], r["status"], r["note"]) for r in api["reviews"]] == [
        ("cfo.chen", "clawback", NOTE)
    ]
    page.reload()
    expect(page.locator("#review-list tbody tr")).to_contain_text(NOTE)


def test_keyboard_only(
    page: Page, overrides: list[dict[str, Any]], bound_key: Callable[..., str]
) -> None:
    key = bound_key("cfo.chen", "audit:read", "audit:review", name="chen")
    page.goto("/console/")
    page.keyboard.press("Tab")  # the skip link first
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.get_by_label("API key").focus()
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    expect(page.locator("h1")).to_have_text("Overview")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Overrides":
            break
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Override register")
    page.locator("#register tbody th a").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Override of Q-3")
    page.get_by_label("Status").focus()
    page.keyboard.press("ArrowDown")  # accepted -> questioned
    page.keyboard.press("Tab")
    page.keyboard.type(NOTE)
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Record review")
    page.keyboard.press("Enter")
    expect(page.locator("#review-status")).to_have_text("questioned")


def test_revoking_the_key_in_another_window_ends_the_session(
    page: Page,
    overrides: list[dict[str, Any]],
    make_key: Callable[..., str],
    pool: ConnectionPool,
) -> None:
    sign_in_with(page, make_key("audit:read", name="auditor"))
    expect(page.locator("h1")).to_have_text("Overview")
    with transaction(pool) as conn:
        withdraw_key(conn, "auditor", "test")
    page.get_by_role("link", name="Overrides", exact=True).click()
    expect(page.locator("h1")).to_have_text("Sign in")
    page.goto("/console/overrides")
    expect(page.locator("h1")).to_have_text("Sign in")


def visit_every_page(page: Page, oid: str) -> list[tuple[str, Callable[[], None]]]:
    def verify() -> None:
        page.goto("/console/audit")
        second = page.locator("#event-log tbody tr").nth(1).locator("code.hash").inner_text()
        page.get_by_label("Checkpoint event id (optional)").fill("2")
        page.get_by_label("Checkpoint hash (optional)").fill(second)
        page.get_by_role("button", name="Verify the chain").click()
        expect(page.locator("#verify-result")).to_contain_text("The chain holds")
        expect(page.locator("#checkpoint-outcome")).to_contain_text("Checkpoint confirmed")

    def policies() -> None:
        page.goto("/console/policies")
        page.get_by_role("button", name="Show the changes").click()
        expect(page.locator("#diff-result")).to_contain_text("From")

    def docs() -> None:
        page.goto("/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("dealdesk")

    def overview() -> None:
        page.goto("/console/")
        expect(page.locator("#chain-status")).to_contain_text("chain holds")

    def report(name: str) -> Callable[[], None]:
        def visit() -> None:
            page.goto(f"/console/reports/{name}")
            page.wait_for_function("window.Chart && Chart.getChart('chart')")
            drawn = page.evaluate(
                "(() => { const d = Chart.getChart('chart').data;"
                " return {labels: d.labels, datasets: d.datasets.map("
                "s => ({label: s.label, data: s.data}))}; })()"
            )
            island = page.evaluate("JSON.parse(document.getElementById('chart-data').textContent)")
            assert drawn["labels"] == island["labels"]
            assert [(d["label"], d["data"]) for d in drawn["datasets"]] == [
                (d["label"], d["data"]) for d in island["datasets"]
            ]
            assert page.locator("#report-table tbody tr").count() >= 1
            titles = page.evaluate(
                "(() => { const s = Chart.getChart('chart').options.scales;"
                " return [s.x.title.display, s.x.title.text, s.y.title.display, s.y.title.text];"
                " })()"
            )
            axes = island["axes"]
            assert titles == [True, axes["x"], True, axes["y"]], name
            assert axes["x"] and axes["y"], name

        return visit

    return [
        ("reports", lambda: page.goto("/console/reports")),
        *((f"report-{n}", report(n)) for n in REPORT_NAMES),
        ("overview", overview),
        ("register", lambda: page.goto("/console/overrides")),
        ("override", lambda: page.goto(f"/console/overrides/{oid}")),
        ("audit", verify),
        ("policies", policies),
        ("docs", docs),
    ]


@pytest.mark.parametrize("width", [1280, 390], ids=["1280px", "390px"])
def test_every_page_no_csp_violation_no_serious_axe_finding_and_a_screenshot(
    page: Page,
    overrides: list[dict[str, Any]],
    stored: tuple[Policy, Policy],
    history: None,
    bound_key: Callable[..., str],
    make_key: Callable[..., str],
    width: int,
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/console/sign-in")
    assert csp_violations(page) == []
    assert axe_serious(page) == []
    screenshot(page, f"sign-in-{width}")
    sign_in_with(page, bound_key("cfo.chen", "audit:read", "audit:review", "policies"))
    for name, visit in visit_every_page(page, overrides[0]["id"]):
        visit()
        page.wait_for_load_state("networkidle")
        assert csp_violations(page) == [], name
        if name != "docs":  # swagger-ui's own markup is not ours to fix
            assert axe_serious(page) == [], name
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} scrolls sideways at {width}px"
        if name in ("register", "audit", "policies") or name.startswith("report-"):
            edges = page.evaluate(CELL_EDGES)
            assert edges["cells"] >= 2, name
            assert edges["right"] <= edges["width"], f"{name}: a cell is cut at {width}px"
        screenshot(page, f"{name}-{width}")
