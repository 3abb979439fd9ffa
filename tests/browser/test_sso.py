"""Single sign-on in a real Chromium through the real test OpenID provider: click "Sign in
with single sign-on", land signed in as the person, with their roles' scopes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from psycopg_pool import ConnectionPool
from werkzeug.serving import make_server

from api.app import create_app
from api.config import Settings
from api.policy.loader import PolicySet
from tests.browser.conftest import LAUNCH_ARGS, WATCH_CSP, axe_serious, csp_violations
from tests.identity.conftest import people, session_rows, sso_settings
from tests.identity.idp_server import IdentityProvider, idp


class Later:
    """A WSGI app given once the server's port (hence the public URL) is known."""

    app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)


@pytest.fixture()
def sso_live(
    settings: Settings, pool: ConnectionPool, shipped: PolicySet, idp: IdentityProvider
) -> Iterator[str]:
    later = Later()
    server = make_server("127.0.0.1", 0, later, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    configured = sso_settings(settings, idp.issuer, public_url=url)
    later.app = create_app(configured, pool=pool, policy_set=shipped)
    thread = threading.Thread(target=server.serve_forever, name="live-sso", daemon=True)
    thread.start()
    yield url
    server.shutdown()
    thread.join(5)


@pytest.fixture()
def sso_page(browser: Browser, sso_live: str) -> Iterator[Page]:
    context = browser.new_context(base_url=sso_live, viewport={"width": 1280, "height": 900})
    context.add_init_script(WATCH_CSP)
    tab = context.new_page()
    tab.messages = []  # type: ignore[attr-defined]
    yield tab
    context.close()


@pytest.mark.usefixtures("people")
def test_sign_in_with_single_sign_on_lands_signed_in_as_the_person(
    sso_page: Page, idp: IdentityProvider, db: str
) -> None:
    page = sso_page
    idp.claims(email="CFO.Chen@example.com", groups=["staff", "finance"])
    page.goto("/console/overrides")
    expect(page.locator("h1")).to_have_text("Sign in")
    assert axe_serious(page) == []
    page.get_by_role("link", name="Sign in with single sign-on").click()
    page.wait_for_url("**/console/overrides")
    expect(page.locator("h1")).to_have_text("Override register")
    expect(page.locator("form.who span")).to_have_text(
        "Signed in as cfo.chen (Chen) through single sign-on"
    )
    assert [(r["person_id"], r["scopes"], r["api_key_id"]) for r in session_rows(db)] == [
        ("cfo.chen", ["audit:read", "audit:review"], None)
    ]
    assert csp_violations(page) == []

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("h1")).to_have_text("Sign in")
    assert session_rows(db) == []
