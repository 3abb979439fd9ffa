"""The review form: only for a people-bound key with audit:review, reviewing as that person;
the executive can never review their own override."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.console.conftest import csrf_of, sign_in

NOTE = "Checked against the competitor quote; the logo is worth it."


def open_override(client: FlaskClient, oid: str) -> str:
    response = client.get(f"/console/overrides/{oid}")
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def post_review(client: FlaskClient, oid: str, html: str, htmx: bool, **form: str) -> Any:
    headers = {"HX-Request": "true"} if htmx else {}
    data = {"csrf_token": csrf_of(html), "status": "accepted", "note": NOTE, **form}
    return client.post(f"/console/overrides/{oid}/reviews", data=data, headers=headers)


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain form"])
def test_a_bound_reviewer_reviews_as_their_person(
    client: FlaskClient,
    overrides: list[dict[str, Any]],
    bound_key: Callable[..., str],
    admin: dict[str, str],
    htmx: bool,
) -> None:
    oid = overrides[0]["id"]
    sign_in(client, bound_key("cfo.chen", "audit:read", "audit:review"))
    html = open_override(client, oid)
    assert '<form id="review-form"' in html
    assert "Record your review as cfo.chen" in html
    response = post_review(client, oid, html, htmx, status="questioned")
    if htmx:
        assert response.status_code == 200
        fragment = response.get_data(as_text=True)
        assert "<html" not in fragment and "Review recorded." in fragment
        assert '<th scope="row">cfo.chen</th><td>questioned</td>' in fragment
    else:
        assert response.status_code == 302
        assert response.headers["Location"] == f"/console/overrides/{oid}"
    api = client.get(f"/v1/overrides/{oid}", headers=admin).json
    assert api["review_status"] == "questioned"
    assert [(r["reviewer_id"], r["status"], r["note"]) for r in api["reviews"]] == [
        ("cfo.chen", "questioned", NOTE)
    ]
    page = open_override(client, oid)
    assert '<th scope="row">cfo.chen</th><td>questioned</td>' in page
    events = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    review = [e for e in events if e["type"] == "override.reviewed"]
    assert [(e["actor"], e["payload"]["via_key"]) for e in review] == [
        ("cfo.chen", "console-cfo.chen")
    ]


@pytest.mark.parametrize(
    ("person", "scopes", "why"),
    [
        (None, ("audit:read", "audit:review"), "Reviewing needs a key bound to a person"),
        ("cfo.chen", ("audit:read",), "Reviewing needs an API key with the audit:review scope."),
        (
            "vp.garcia",
            ("audit:read", "audit:review"),
            "You made this override: the executive can never review it.",
        ),
    ],
    ids=["unbound key", "bound key without audit:review", "the executive's own key"],
)
def test_no_review_form_and_a_refused_post(
    client: FlaskClient,
    overrides: list[dict[str, Any]],
    bound_key: Callable[..., str],
    admin: dict[str, str],
    person: str | None,
    scopes: tuple[str, ...],
    why: str,
) -> None:
    oid = overrides[0]["id"]  # made by vp.garcia
    sign_in(client, bound_key(person, *scopes, name=f"k-{person}-{len(scopes)}"))
    html = open_override(client, oid)
    assert '<form id="review-form"' not in html
    assert why in html
    response = post_review(client, oid, html, htmx=True)
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    expected = (
        "The executive who made an override can never review it."
        if person == "vp.garcia"
        else "Reviewing needs a people-bound API key with the audit:review scope."
    )
    assert expected in body
    assert client.get(f"/v1/overrides/{oid}", headers=admin).json["reviews"] == []


def test_the_executive_may_review_someone_elses_override(
    client: FlaskClient, overrides: list[dict[str, Any]], bound_key: Callable[..., str]
) -> None:
    sign_in(client, bound_key("vp.garcia", "audit:read", "audit:review"))
    assert '<form id="review-form"' in open_override(client, overrides[1]["id"])  # vp.west's


def test_a_review_without_a_note_names_the_field(
    client: FlaskClient,
    overrides: list[dict[str, Any]],
    bound_key: Callable[..., str],
    admin: dict[str, str],
) -> None:
    oid = overrides[0]["id"]
    sign_in(client, bound_key("cfo.chen", "audit:read", "audit:review"))
    html = open_override(client, oid)
    response = post_review(client, oid, html, htmx=True, note="", status="sideways")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="note-error"' in body and 'id="status-error"' in body
    assert "Must be one of: accepted, questioned, clawback." in body
    assert client.get(f"/v1/overrides/{oid}", headers=admin).json["reviews"] == []


def test_a_review_post_without_the_csrf_token_is_refused(
    client: FlaskClient,
    overrides: list[dict[str, Any]],
    bound_key: Callable[..., str],
    admin: dict[str, str],
) -> None:
    oid = overrides[0]["id"]
    sign_in(client, bound_key("cfo.chen", "audit:read", "audit:review"))
    open_override(client, oid)
    response = client.post(
        f"/console/overrides/{oid}/reviews", data={"status": "accepted", "note": NOTE}
    )
    assert response.status_code == 400
    assert "security token is missing or stale" in response.get_data(as_text=True)
    assert client.get(f"/v1/overrides/{oid}", headers=admin).json["reviews"] == []
