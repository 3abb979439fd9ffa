"""Console pages through the Flask client: their numbers are the API's, fragments for htmx."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape as html_escape
from typing import Any

import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.storage import overrides as store
from api.storage.database import transaction
from tests.console.conftest import csrf_of, sign_in

HX = {"HX-Request": "true"}
ROW = re.compile(
    r'<tr>\s*<td data-label="Created \(UTC\)"><time datetime="([^"]+)">[^<]+</time></td>\s*'
    r'<th scope="row" data-label="Deal"><a href="/console/overrides/([^"]+)">'
)
CELL = re.compile(r"<td class=\"num\" data-label=\"Excess value\">([^<]+)</td>")


@pytest.fixture()
def auditor(client: FlaskClient, make_key: Callable[..., str]) -> str:
    key = make_key("audit:read", "policies", name="auditor")
    assert sign_in(client, key).status_code == 302
    return key


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def test_overview_numbers_are_the_summary_api(
    client: FlaskClient, overrides: list[dict[str, Any]], admin: dict[str, str], auditor: str
) -> None:
    summary = client.get("/v1/overrides/summary?group_by=fiscal_quarter", headers=admin).json
    assert summary["items"] == [
        {
            "key": "FY2027-Q2",
            "count": 3,
            "period_end_count": 0,
            "excess_value": "30000.00",
            "pending_review": 3,
        }
    ]
    html = text(client.get("/console/"))
    assert "Fiscal FY2027-Q2, as of 2026-06-10; 51 days to the quarter's end." in html
    assert re.search(r'id="tile-count">3</dd>', html)
    assert re.search(r'id="tile-excess">30000.00 USD</dd>', html)
    assert 'id="tile-period-end">0.0%<span class="sub"> of overrides (0), 0.0% of excess' in html
    assert re.search(r'id="tile-pending"><a [^>]+>3</a><span class="sub"> in all, 3 this', html)
    verify = client.get("/v1/audit/verify", headers=admin).json
    assert f'<code class="hash">{verify["head_hash"]}</code>' in html


def test_register_rows_are_the_api_page(
    client: FlaskClient, overrides: list[dict[str, Any]], admin: dict[str, str], auditor: str
) -> None:
    api = client.get("/v1/overrides", headers=admin).json["items"][::-1]  # finance: newest first
    html = text(client.get("/console/overrides"))
    assert [oid for _, oid in ROW.findall(html)] == [o["id"] for o in api]
    assert [created for created, _ in ROW.findall(html)] == [o["created_at"] for o in api]
    assert CELL.findall(html) == [f"{o['excess_value']} USD" for o in api]
    assert '<caption id="register-caption">Overrides, newest first: 3 on this page' in html


@pytest.mark.parametrize(
    "query",
    [
        "executive_id=vp.west",
        "executive_id=vp.garcia&review_status=pending",
        "fiscal_year=2027&fiscal_quarter=2&period_end=false",
        "category=bypassed_owner",
        "category=beyond_policy",
        "owner_id=am.kim",
    ],
)
def test_every_filter_matches_the_api(
    client: FlaskClient,
    overrides: list[dict[str, Any]],
    admin: dict[str, str],
    auditor: str,
    query: str,
) -> None:
    api = client.get(f"/v1/overrides?{query}", headers=admin).json["items"]
    html = text(client.get(f"/console/overrides?{query}"))
    assert [oid for _, oid in ROW.findall(html)] == [o["id"] for o in api][::-1]


def test_blank_filters_count_as_not_given(
    client: FlaskClient, overrides: list[dict[str, Any]], auditor: str
) -> None:
    html = text(client.get("/console/overrides?from=&to=&executive_id=&category="))
    assert len(ROW.findall(html)) == 3


def test_a_bad_filter_names_its_field(
    client: FlaskClient, overrides: list[dict[str, Any]], auditor: str
) -> None:
    response = client.get("/console/overrides?fiscal_quarter=7&from=yesterday")
    assert response.status_code == 422
    html = text(response)
    assert "<code>fiscal_quarter</code>: Must be greater than or equal to 1" in html
    assert "<code>from</code>:" in html
    assert ROW.findall(html) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("cursor=not-a-cursor", "cursor"),
        ("fiscal_quarter=7", "fiscal_quarter"),
        ("category=nonsense", "category"),
        ("from=yesterday", "from"),
        ("from=2026-07-01&to=2026-06-30", "from"),
        ("from=2026-07-01&to=2026-06-30", "to"),
    ],
    ids=[
        "bad-cursor",
        "quarter-out-of-range",
        "unknown-category",
        "bad-date",
        "from-after-to",
        "to-before-from",
    ],
)
def test_a_bad_filter_reads_as_the_api_says_it(
    client: FlaskClient, admin: dict[str, str], auditor: str, query: str, field: str
) -> None:
    """The register parses its filters with the API's own function: the same messages."""
    api = client.get(f"/v1/overrides?{query}", headers=admin)
    assert api.status_code == 422
    messages = api.json["errors"][field]
    assert messages and all(isinstance(m, str) for m in messages)
    response = client.get(f"/console/overrides?{query}")
    assert response.status_code == 422
    shown = html_escape(" ".join(messages), quote=True)
    assert f"<li><code>{field}</code>: {shown}</li>" in text(response)


def test_keyset_paging(client: FlaskClient, overrides: list[dict[str, Any]], auditor: str) -> None:
    first = text(client.get("/console/overrides?limit=2"))
    assert [oid for _, oid in ROW.findall(first)] == [overrides[2]["id"], overrides[1]["id"]]
    next_url = re.search(r'href="([^"]+)"[^>]*id="next-page"', first)
    assert next_url is not None
    second = text(client.get(next_url.group(1).replace("&amp;", "&"), headers=HX))
    assert [oid for _, oid in ROW.findall(second)] == [overrides[0]["id"]]
    assert "End of the list." in second and "First page" in second


def test_htmx_gets_a_fragment_and_a_plain_request_the_page(
    client: FlaskClient, overrides: list[dict[str, Any]], auditor: str
) -> None:
    page = text(client.get("/console/overrides?executive_id=vp.west"))
    fragment = text(client.get("/console/overrides?executive_id=vp.west", headers=HX))
    assert page.startswith("<!doctype html>") and '<form id="filters"' in page
    assert "<html" not in fragment and '<form id="filters"' not in fragment
    assert ROW.findall(fragment) == ROW.findall(page)
    restore = {**HX, "HX-History-Restore-Request": "true"}
    assert text(client.get("/console/overrides", headers=restore)).startswith("<!doctype html>")


def test_csv_is_the_api_export_of_the_same_filter(
    client: FlaskClient, overrides: list[dict[str, Any]], admin: dict[str, str], auditor: str
) -> None:
    for query in ("", "?executive_id=vp.garcia", "?period_end=true"):
        api = client.get(f"/v1/overrides{query}", headers={**admin, "Accept": "text/csv"})
        expected = api.get_data()
        mine = client.get(f"/console/overrides.csv{query}")
        assert mine.get_data() == expected
        assert mine.mimetype == "text/csv"
        assert mine.headers["Content-Disposition"] == "attachment; filename=overrides.csv"
    lines = client.get("/console/overrides.csv?executive_id=vp.garcia").get_data().splitlines()
    assert len(lines) == 3  # header and vp.garcia's two


def test_the_register_links_the_csv_of_the_filter_on_screen(
    client: FlaskClient, overrides: list[dict[str, Any]], auditor: str
) -> None:
    html = text(client.get("/console/overrides?executive_id=vp.west&limit=1"))
    assert 'href="/console/overrides.csv?executive_id=vp.west" download' in html


def test_an_override_page_shows_what_the_api_holds(
    client: FlaskClient, overrides: list[dict[str, Any]], admin: dict[str, str], auditor: str
) -> None:
    oid = overrides[0]["id"]
    api = client.get(f"/v1/overrides/{oid}", headers=admin).json
    html = text(client.get(f"/console/overrides/{oid}"))
    assert f'<code class="hash" id="event-hash">{api["event_hash"]}</code>' in html
    assert '<dd id="excess-value">10000.00 USD</dd>' in html
    terms = re.findall(
        r'<tr><th scope="row">(\w+)</th><td class="num">([^<]+)</td>'
        r'<td class="num">([^<]+)</td></tr>',
        html,
    )
    expected = [
        (lever, _dash(api["terms_before"][lever]), _dash(api["terms_after"][lever]))
        for lever in sorted(api["terms_after"])
    ]
    assert terms == expected
    assert ("discount_pct", "—", "35") in terms
    excess = re.findall(
        r'<tr><th scope="row">(\w+)</th><td class="num">([^<]+)</td>'
        r'<td class="num">([^<]+)</td><td class="num">([^<]+)</td></tr>',
        html,
    )
    assert excess == [
        (e["lever"], e["value"], e["approvable_max"] or "none", e["excess"]) for e in api["excess"]
    ]
    assert ("discount_pct", "35", "30", "5") in excess
    assert api["justification"] in html
    assert f"{api['policy']['name']} {api['policy']['version']}" in html
    assert all(f'<span class="tag">{c}</span>' in html for c in api["categories"])


def _dash(value: str | None) -> str:
    return "—" if value is None else value


def test_an_unknown_override_is_a_404_page(client: FlaskClient, auditor: str) -> None:
    response = client.get("/console/overrides/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert "No override 00000000-0000-0000-0000-000000000000." in text(response)
    assert client.get("/console/overrides/not-a-uuid").status_code == 404


def test_audit_events_page_like_the_api(
    client: FlaskClient, overrides: list[dict[str, Any]], admin: dict[str, str], auditor: str
) -> None:
    events = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    html = text(client.get("/console/audit"))
    ids = [int(i) for i in re.findall(r'<tr><th scope="row" data-label="Id">(\d+)</th>', html)]
    assert ids == [e["id"] for e in events][:50]
    hashes = re.findall(
        r'<td data-label="Hash"><code class="hash">([0-9a-f]{64})</code></td>', html
    )
    assert hashes == [e["hash"] for e in events][:50]
    later = text(client.get(f"/console/audit?after={events[-2]['id']}", headers=HX))
    assert re.findall(r'<tr><th scope="row" data-label="Id">(\d+)</th>', later) == [
        str(events[-1]["id"])
    ]
    assert "End of the log." in later


def test_verify_and_a_pasted_checkpoint(
    client: FlaskClient, overrides: list[dict[str, Any]], admin: dict[str, str], auditor: str
) -> None:
    verify = client.get("/v1/audit/verify", headers=admin).json
    events = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    html = text(client.get("/console/audit/verify", headers=HX))
    assert f"<strong>The chain holds:</strong> {verify['events']} events" in html
    assert verify["head_hash"] in html
    third = events[2]
    held = text(
        client.get(
            f"/console/audit/verify?checkpoint_id={third['id']}&checkpoint_hash={third['hash']}",
            headers=HX,
        )
    )
    assert f"the log still holds event {third['id']} with that hash" in held
    wrong = text(
        client.get(
            f"/console/audit/verify?checkpoint_id={third['id']}&checkpoint_hash={'0' * 64}",
            headers=HX,
        )
    )
    assert f"<strong>Checkpoint not held:</strong> event {third['id']} is missing" in wrong
    gone = text(
        client.get(
            f"/console/audit/verify?checkpoint_id=99999&checkpoint_hash={third['hash']}",
            headers=HX,
        )
    )
    assert "Checkpoint not held" in gone
    bad = client.get("/console/audit/verify?checkpoint_id=x&checkpoint_hash=abc", headers=HX)
    assert bad.status_code == 422
    assert "<code>checkpoint_id</code>: An audit event id" in text(bad)
    assert "<code>checkpoint_hash</code>: A sha256 hash" in text(bad)


def test_verify_names_a_broken_chain(
    client: FlaskClient, overrides: list[dict[str, Any]], auditor: str, db: str
) -> None:
    import psycopg

    with psycopg.connect(db) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE audit_events SET actor = 'someone.else' WHERE id = 4")
    html = text(client.get("/console/audit/verify", headers=HX))
    assert "<strong>The chain is broken</strong> at event 4" in html


def test_store_agrees_with_the_table(
    client: FlaskClient, overrides: list[dict[str, Any]], pool: ConnectionPool, auditor: str
) -> None:
    with transaction(pool) as conn:
        rows = store.list_overrides(conn, {"executive_id": "vp.garcia"}, 10, newest_first=True)
    html = text(client.get("/console/overrides?executive_id=vp.garcia"))
    assert [oid for _, oid in ROW.findall(html)] == [str(r.id) for r in rows]
    assert csrf_of(html)


def test_a_long_chain_is_checked_on_request_not_on_every_visit(
    client: FlaskClient,
    overrides: list[dict[str, Any]],
    auditor: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from api.console import views

    small = client.get("/console/").get_data(as_text=True)
    assert 'hx-trigger="load"' in small
    monkeypatch.setattr(views, "AUTO_VERIFY", 5)
    big = client.get("/console/").get_data(as_text=True)
    assert 'hx-trigger="load"' not in big
    assert '<button type="submit">Verify the whole chain</button>' in big


def test_register_categories_wrap_only_after_underscores(
    client: FlaskClient, overrides: list[dict[str, Any]], admin: dict[str, str], auditor: str
) -> None:
    """At 390 px a card's value column broke `beyond_executive_authority` mid-word; each
    category may now wrap only after an underscore (`<wbr>`, not copied with the text)."""
    api = client.get("/v1/overrides", headers=admin).json["items"]
    cells = re.findall(
        r'<td data-label="Categories">(.*?)</td>', text(client.get("/console/overrides"))
    )
    assert cells == [", ".join(c.replace("_", "_<wbr>") for c in o["categories"]) for o in api]
    assert any("beyond_<wbr>executive_<wbr>authority" in cell for cell in cells)
