"""The console for the people in the loop (DESIGN 14): sign-in with a people-bound key of any
scope, the pages each scope opens, My approvals, the request page and acting from it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.console.blueprint import when
from tests.console.conftest import csrf_of, sign_in
from tests.console.loop import person_client, plain, post_form, rows, submit, text

NAV = ("Overview", "My approvals", "My deals", "Overrides", "Reports", "Audit", "Policies")


def nav_of(html: str) -> list[str]:
    nav = html.split('<nav aria-label="Console">', 1)[1].split("</nav>", 1)[0]
    import re

    return [plain(a) for a in re.findall(r"<a [^>]*>(.*?)</a>", nav)]


def test_a_key_bound_to_nobody_is_not_offered_the_personal_pages(
    client: FlaskClient, org: Any, bound_key: Callable[..., str]
) -> None:
    key = bound_key(None, "audit:read", "approvals", "requests", name="finance-bot")
    assert sign_in(client, key).status_code == 302
    html = text(client.get("/console/"))
    assert nav_of(html) == [
        "Overview",
        "Overrides",
        "Reports",
        "Audit",
        "Policies",
        "Authority matrix",
        "API docs",
    ]
    refused = client.get("/console/approvals")
    assert refused.status_code == 403
    assert "My approvals belongs to a person" in text(refused)


@pytest.mark.parametrize(
    ("scopes", "landing", "nav"),
    [
        (("requests",), "/console/deals", ["My deals", "Authority matrix", "API docs"]),
        (("approvals",), "/console/approvals", ["My approvals", "Authority matrix", "API docs"]),
        (("evaluate",), "/console/policies/matrix", ["Authority matrix", "API docs"]),
        (
            ("audit:read", "approvals"),
            "/console/",
            [
                "Overview",
                "My approvals",
                "Overrides",
                "Reports",
                "Audit",
                "Policies",
                "Authority matrix",
                "API docs",
            ],
        ),
    ],
    ids=["requests", "approvals", "evaluate", "finance+approvals"],
)
def test_a_bound_key_of_any_scope_signs_in_and_sees_only_its_pages(
    app: Flask,
    org: Any,
    bound_key: Callable[..., str],
    scopes: tuple[str, ...],
    landing: str,
    nav: list[str],
) -> None:
    client = person_client(app, bound_key("sd.patel", *scopes, name="patel"))
    home = client.get("/console/")
    if landing == "/console/":
        assert home.status_code == 200
        html = text(home)
    else:
        assert home.status_code == 302
        assert home.headers["Location"] == landing
        html = text(client.get(landing))
    assert nav_of(html) == nav
    assert "Signed in with key <strong>patel</strong> as <strong>sd.patel</strong>" in html
    if "audit:read" not in scopes:
        refused = client.get("/console/overrides")
        assert refused.status_code == 403
        assert "This page needs the `audit:read` scope" in text(refused)
        assert client.get("/console/reports/rescues").status_code == 403
    if "approvals" not in scopes:
        refused = client.get("/console/approvals")
        assert refused.status_code == 403
        assert "This page needs the `approvals` scope" in text(refused)


def test_a_key_bound_to_nobody_still_needs_audit_read(
    client: FlaskClient, org: Any, make_key: Callable[..., str]
) -> None:
    response = sign_in(client, make_key("approvals", "requests", name="cpq"))
    assert response.status_code == 403
    assert "That API key is not bound to a person and lacks the `audit:read` scope." in text(
        response
    )
    assert client.get("/console/approvals").status_code == 302  # still signed out


def test_finance_signed_in_with_an_unbound_key_has_no_approvals_of_its_own(
    app: Flask, org: Any, make_key: Callable[..., str]
) -> None:
    client = person_client(app, make_key("audit:read", "approvals", name="desk"))
    response = client.get("/console/approvals")
    assert response.status_code == 403
    assert "My approvals belongs to a person: sign in as yourself" in text(response)


def due_text(made: dict[str, Any]) -> str:
    """A step's due time as the page shows it (the shipped policy's SLA: 24 hours)."""
    due = datetime.fromisoformat(made["steps"][0]["due_at"].replace("Z", "+00:00"))
    return when(due)


def test_my_approvals_lists_the_steps_the_person_may_act_on(
    app: Flask,
    client: FlaskClient,
    org: Any,
    admin: dict[str, str],
    bound_key: Callable[..., str],
) -> None:
    first = submit(client, admin, "Q-1", account={"id": "ACME", "name": "Acme Corp"})
    second = submit(client, admin, "Q-2", discount_pct="12")  # sales_manager: sm.lee
    within = submit(client, admin, "Q-3", discount_pct="5")  # approved at once: no step
    assert [first["state"], second["state"], within["state"]] == ["pending"] * 2 + ["approved"]
    patel = person_client(app, bound_key("sd.patel", "approvals", name="patel"))
    html = text(patel.get("/console/approvals"))
    assert rows(html, "approvals") == [
        {
            "Deal": "Q-1",
            "Account": "Acme Corp",
            "Owner": "am.jones",
            "Step": "sales_director (step 1)",
            "You act as": "approver",
            "What is asked": "discount_pct 18 (needs sales_director)",
            "List amount": "250000.00 USD",
            "Submitted (UTC)": first["created_at"].replace("T", " ")[:19],
            "Due (UTC)": due_text(first),
        }
    ]
    assert f'href="/console/requests/{first["id"]}"' in html
    assert "Steps waiting for you, soonest due first: 1" in html

    delegation = {
        "name": "Patel",
        "tier": "sales_director",
        "manager_id": "vp.garcia",
        "delegate": {"id": "vp.west", "from": "2026-06-01", "to": "2026-06-30"},
    }
    assert client.put("/v1/people/sd.patel", json=delegation, headers=admin).status_code == 200
    west = person_client(app, bound_key("vp.west", "approvals", name="west"))
    delegated = rows(text(west.get("/console/approvals")), "approvals")
    assert [(r["Deal"], r["You act as"]) for r in delegated] == [("Q-1", "delegate of sd.patel")]

    kim = person_client(app, bound_key("am.kim", "approvals", name="kim"))
    nothing = text(kim.get("/console/approvals"))
    assert rows(nothing, "approvals") == []
    assert '<tr><td colspan="9">Nothing is waiting for you.</td></tr>' in nothing
    lee = person_client(app, bound_key("sm.lee", "approvals", name="lee"))
    assert [r["Deal"] for r in rows(text(lee.get("/console/approvals")), "approvals")] == ["Q-2"]


@pytest.mark.parametrize(
    ("who", "scopes", "status"),
    [
        ("finance", ("audit:read",), 200),
        ("am.jones", ("requests",), 200),
        ("sd.patel", ("approvals",), 200),
        ("am.kim", ("requests", "approvals"), 403),
        ("vp.west", ("evaluate",), 403),
    ],
    ids=["finance", "owner", "approver", "stranger", "no request scope"],
)
def test_who_sees_a_request_page(
    app: Flask,
    client: FlaskClient,
    org: Any,
    admin: dict[str, str],
    bound_key: Callable[..., str],
    make_key: Callable[..., str],
    who: str,
    scopes: tuple[str, ...],
    status: int,
) -> None:
    request_id = submit(client, admin)["id"]
    key = make_key(*scopes, name="fin") if who == "finance" else bound_key(who, *scopes)
    browser = person_client(app, key)
    response = browser.get(f"/console/requests/{request_id}")
    assert response.status_code == status
    html = text(response)
    if status == 200:
        assert "<h1>Request for Q-1</h1>" in html
        assert 'id="request-state">pending</span>' in html
    elif "evaluate" in scopes:
        assert "This page needs the `audit:read` or `requests` or `approvals` scope" in html
    else:
        assert "You may see only requests you own, asked for, or approve" in html
    missing = browser.get("/console/requests/0190a0b4-0000-7000-8000-000000000000")
    assert missing.status_code == (404 if "evaluate" not in scopes else 403)


def act(browser: FlaskClient, request_id: str, **form: str) -> Any:
    page_url = f"/console/requests/{request_id}"
    return post_form(browser, page_url, f"{page_url}/act", **form)


def test_approving_from_the_request_page_acts_as_the_person(
    app: Flask,
    client: FlaskClient,
    org: Any,
    admin: dict[str, str],
    bound_key: Callable[..., str],
) -> None:
    request_id = submit(client, admin)["id"]
    patel = person_client(app, bound_key("sd.patel", "approvals", name="patel"))
    html = text(patel.get(f"/console/requests/{request_id}"))
    assert "You act on step 1 (sales_director) as its approver." in html
    assert '<input type="hidden" name="version" value="1">' in html
    response = act(
        patel, request_id, action="approve", comment="Fine for a 3-year term.", version="1"
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/console/requests/{request_id}"
    api = client.get(f"/v1/approval-requests/{request_id}", headers=admin).json
    assert api["state"] == "approved"
    assert [(s["state"], s["acted_by"], s["comment"]) for s in api["steps"]] == [
        ("approved", "sd.patel", "Fine for a 3-year term.")
    ]
    events = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    approved = [e for e in events if e["type"] == "request.approve"]
    assert [(e["actor"], e["subject"], e["payload"]["via_key"]) for e in approved] == [
        ("sd.patel", f"request:{request_id}", "patel")
    ]
    after = text(patel.get(f"/console/requests/{request_id}"))
    assert 'id="notice">You approved the Q-1 step.</div>' in after
    assert 'id="request-state">approved</span>' in after
    assert "The request is approved: no step waits for an approver." in after
    assert rows(after, "steps")[0]["Acted by"] == "sd.patel"
    again = text(patel.get(f"/console/requests/{request_id}"))
    assert 'id="notice"></div>' in again  # the notice shows once


def test_the_api_checks_hold_on_the_request_page(
    app: Flask,
    client: FlaskClient,
    org: Any,
    admin: dict[str, str],
    bound_key: Callable[..., str],
) -> None:
    request_id = submit(client, admin)["id"]
    patel = person_client(app, bound_key("sd.patel", "approvals", name="patel"))

    no_comment = act(patel, request_id, action="reject", version="1")
    assert no_comment.status_code == 422
    assert '<p class="field-error" id="comment-error">Missing data for required field.</p>' in text(
        no_comment
    )

    stale = act(patel, request_id, action="approve", version="7")
    assert stale.status_code == 412
    assert "The request is at version 1, not 7; reload it and retry." in text(stale)

    kim = person_client(app, bound_key("am.kim", "approvals", name="kim"))
    html = text(patel.get(f"/console/requests/{request_id}"))
    refused = kim.post(
        f"/console/requests/{request_id}/act",
        data={"csrf_token": csrf_of(text(kim.get("/console/approvals"))), "action": "approve"},
    )
    assert refused.status_code == 403  # not theirs to see, let alone act on
    assert 'id="act-form"' in html

    returned = act(patel, request_id, action="return", comment="Lead with a 3-year term first.")
    assert returned.status_code == 303
    late = act(patel, request_id, action="approve")
    assert late.status_code == 409
    assert "Not possible" in text(late)
    no_token = patel.post(f"/console/requests/{request_id}/act", data={"action": "approve"})
    assert no_token.status_code == 400
    api = client.get(f"/v1/approval-requests/{request_id}", headers=admin).json
    assert (api["state"], api["version"]) == ("returned", 2)


def test_an_active_delegate_acts_from_the_request_page(
    app: Flask,
    client: FlaskClient,
    org: Any,
    admin: dict[str, str],
    bound_key: Callable[..., str],
) -> None:
    request_id = submit(client, admin)["id"]
    delegation = {
        "name": "Patel",
        "tier": "sales_director",
        "manager_id": "vp.garcia",
        "delegate": {"id": "vp.west", "from": "2026-06-01", "to": "2026-06-30"},
    }
    assert client.put("/v1/people/sd.patel", json=delegation, headers=admin).status_code == 200
    west = person_client(app, bound_key("vp.west", "approvals", name="west"))
    html = text(west.get(f"/console/requests/{request_id}"))
    assert "You act on step 1 (sales_director) as its delegate (for sd.patel)." in html
    response = act(west, request_id, action="approve", version="1")
    assert response.status_code == 303
    api = client.get(f"/v1/approval-requests/{request_id}", headers=admin).json
    assert [(s["state"], s["acted_by"]) for s in api["steps"]] == [("approved", "vp.west")]
