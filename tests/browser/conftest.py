"""Browser fixtures: the real app served on 127.0.0.1, Debian's Chromium driven by Playwright
(never `playwright install`), CSP violations collected, axe-core injected for scans."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from tests.conftest import ROOT, chromium_path
from tests.console.conftest import (
    ORG,
    admin,
    app,
    bound_key,
    deal,
    make_key,
    org,
    overrides,
)

ARTIFACTS = ROOT / "tests" / "artifacts"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Runs in every page before its own scripts (injected by the driver, so the page's CSP does
# not apply to it): it records every Content-Security-Policy violation the page causes.
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push({directive: e.violatedDirective, blocked: e.blockedURI, line: e.lineNumber});
});
"""


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    assert path is not None  # tests/conftest.py does not collect this folder without one
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def live(app: Flask) -> Iterator[str]:
    """The test app (real database) served over HTTP on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-console", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture()
def page(browser: Browser, live: str) -> Iterator[Page]:
    context = browser.new_context(base_url=live, viewport={"width": 1280, "height": 900})
    context.add_init_script(WATCH_CSP)
    tab = context.new_page()
    messages: list[str] = []
    tab.on("console", lambda m: messages.append(m.text) if m.type == "error" else None)
    tab.messages = messages  # type: ignore[attr-defined]
    yield tab
    context.close()


def csp_violations(page: Page) -> list[Any]:
    found: list[Any] = page.evaluate("window.__csp || []")
    found += [m for m in page.messages if "Content Security Policy" in m]  # type: ignore[attr-defined]
    return found


def axe_serious(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical (evaluated by the driver: CSP-free)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result: dict[str, Any] = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in_with(page: Page, key: str, path: str = "/console/") -> None:
    page.goto(path)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
