"""Reports over HTTP on hand-built history whose answers were worked out by hand:
threshold proximity (every band edge), the period-end dash, empty ranges, CSV = JSON,
and the 422s. Real PostgreSQL throughout."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.http.reporting import (
    act,
    csv_rows,
    flat,
    items,
    on,
    override,
    report,
    revise,
    submit,
    withdraw,
)

pytestmark = pytest.mark.usefixtures("org")
ZERO = {k: 0 for k in ("-5", "-4", "-3", "-2", "-1", "1", "2", "3", "4", "5")}


def bands(**counts: int) -> dict[str, int]:
    return {**ZERO, **{k.replace("m", "-").replace("p", ""): v for k, v in counts.items()}}


@pytest.fixture()
def hugging(client: FlaskClient, admin: dict[str, str], org: Any) -> None:
    """am.jones (account manager, discount ceiling 10; 5 on public-sector deals) asks 9
    times, am.kim once. Offsets from the requester's own ceiling, worked by hand:
    0, -0.5, -1, -1.5, -2.5, +1, -7, -0.5 (a revision), -0.5 (public sector: 4.5 vs 5)."""
    for i, pct in enumerate(["10", "9.5", "9", "8.5", "7.5", "11", "3"]):
        submit(client, admin, f"H-{i}", discount_pct=pct)
    rid = submit(client, admin, "H-R", discount_pct="12")["id"]  # offset +2
    revise(client, admin, rid, "H-R", discount_pct="9.5")  # offset -0.5
    submit(
        client,
        admin,
        "H-P",
        discount_pct="4.5",
        account={"id": "GOV", "name": "City", "segment": "public_sector"},
    )
    submit(client, admin, "H-K", owner_id="am.kim", discount_pct="10")


@pytest.mark.usefixtures("hugging")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            "lever=discount_pct&group_by=owner",
            [
                {
                    "key": "am.jones",
                    "bands": bands(m1=4, m2=2, m3=1, p1=1, p2=1),
                    "asks": 10,
                    "bunching": "2.6667",  # 4 / mean(2, 1)
                    "flagged": False,  # count(-1) is 4, under 10
                },
                {
                    "key": "am.kim",
                    "bands": bands(m1=1),
                    "asks": 1,
                    "bunching": None,  # mean(count(-2), count(-3)) is 0
                    "flagged": False,
                },
            ],
            id="by-owner-band-1",
        ),
        pytest.param(
            "lever=discount_pct",
            [
                {
                    "key": "account_manager",
                    "bands": bands(m1=5, m2=2, m3=1, p1=1, p2=1),
                    "asks": 11,
                    "bunching": "3.3333",
                    "flagged": False,
                }
            ],
            id="by-tier-is-the-default",
        ),
        pytest.param(
            "lever=discount_pct&group_by=owner&band=0.5&to=2999-01-01",
            [
                {
                    "key": "am.jones",
                    # 0 -> -1; -0.5 (x3) -> -2; -1 -> -3; -1.5 -> -4; -2.5 -> -6 (out);
                    # +1 -> 2; +2 -> 4; -7 out
                    "bands": bands(m1=1, m2=3, m3=1, m4=1, p2=1, p4=1),
                    "asks": 10,
                    "bunching": "0.5",  # 1 / mean(3, 1)
                    "flagged": False,
                },
                {
                    "key": "am.kim",
                    "bands": bands(m1=1),
                    "asks": 1,
                    "bunching": None,
                    "flagged": False,
                },
            ],
            id="band-0.5",
        ),
        pytest.param("lever=rebate_pct", [], id="a-lever-nobody-asked"),
        pytest.param("lever=discount_pct&from=2020-01-01&to=2020-12-31", [], id="empty-range"),
    ],
)
def test_threshold_proximity(
    client: FlaskClient, admin: dict[str, str], query: str, expected: list[dict[str, Any]]
) -> None:
    assert items(client, admin, f"threshold-proximity?{query}") == expected


@pytest.mark.parametrize(
    ("pct", "band"),
    [
        pytest.param("10", "-1", id="offset-exactly-0-is-band-minus-1"),
        pytest.param("9", "-2", id="offset-exactly-minus-1-is-band-minus-2"),
        pytest.param("9.99", "-1", id="just-under-the-ceiling"),
        pytest.param("10.01", "1", id="just-over-the-ceiling"),
        pytest.param("5.01", "-5", id="offset-minus-4.99-is-band-minus-5"),
        pytest.param("15", "5", id="offset-plus-5-is-band-5"),
    ],
)
def test_every_band_edge(client: FlaskClient, admin: dict[str, str], pct: str, band: str) -> None:
    submit(client, admin, "E-1", discount_pct=pct)
    [item] = items(client, admin, "threshold-proximity?lever=discount_pct")
    assert item["bands"] == {**ZERO, band: 1}
    assert item["asks"] == 1


def test_offsets_beyond_band_5_count_only_in_asks(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    submit(client, admin, "E-1", discount_pct="5")  # offset exactly -5: band -6
    submit(client, admin, "E-2", discount_pct="15.01")  # offset +5.01: band 6
    [item] = items(client, admin, "threshold-proximity?lever=discount_pct")
    assert (item["bands"], item["asks"]) == (ZERO, 2)


def test_period_end_by_quarter_and_bucket(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    """FY2027-Q2 runs 2026-05-01 .. 2026-07-31 (fiscal year from 02-01)."""
    for i, pct in enumerate(range(1, 11)):  # ten asks in the last week: mean 5.5, p90 9
        on(app, "2026-07-25" if i % 2 else "2026-07-31")
        submit(client, admin, f"P-{i}", discount_pct=str(pct))
    on(app, "2026-07-24")  # 7 days to go
    submit(client, admin, "P-7d", discount_pct="12")
    on(app, "2026-07-18")  # 13 days to go
    submit(client, admin, "P-13d", discount_pct="13")
    on(app, "2026-07-17")  # 14 days to go
    submit(client, admin, "P-14d", discount_pct="2.5")
    on(app, "2026-06-05")  # 56 days to go
    submit(client, admin, "P-56d", rebate_pct="1")  # asks no discount
    on(app, "2026-10-31")  # the last day of FY2027-Q3
    override(client, admin, "vp.garcia", {"discount_pct": "35"}, deal={**_bare("P-O")})
    rid = submit(client, admin, "P-Q3", discount_pct="18")["id"]
    override(client, admin, "vp.garcia", {"discount_pct": "32"}, request_id=rid)
    expected = [
        _bucket("FY2027-Q2", "0-6", 10, "5.5", "9"),
        _bucket("FY2027-Q2", "7-13", 2, "12.5", "13"),
        _bucket("FY2027-Q2", "14-27", 1, "2.5", "2.5"),
        _bucket("FY2027-Q2", "56+", 1, None, None),
        # 35 and 32 against vp_sales's 30 on 250,000: 12,500 + 5,000
        _bucket("FY2027-Q3", "0-6", 1, "18", "18", overrides=2, excess="17500.00"),
    ]
    assert items(client, admin, "period-end?lever=discount_pct") == expected
    assert items(client, admin, "period-end?lever=discount_pct&to=2000-01-01") == []
    body = report(client, admin, "period-end?from=2026-01-01&to=2999-12-31")
    assert body["items"] == expected  # the lever defaults to the policy's first, discount_pct
    assert (body["from"], body["to"]) == ("2026-01-01", "2999-12-31")
    generated = datetime.strptime(body["generated_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs((datetime.now(UTC).replace(tzinfo=None) - generated).total_seconds()) < 60


def _bare(deal_id: str) -> dict[str, Any]:
    from tests.http.conftest import deal

    return deal(deal_id=deal_id, discount_pct="18")


def _bucket(
    key: str,
    bucket: str,
    requests: int,
    mean: str | None,
    p90: str | None,
    overrides: int = 0,
    excess: str = "0.00",
) -> dict[str, Any]:
    return {
        "key": key,
        "bucket": bucket,
        "requests": requests,
        "mean": mean,
        "p90": p90,
        "overrides": overrides,
        "excess_value": excess,
    }


REPORTS = [
    "threshold-proximity?lever=discount_pct&group_by=owner",
    "period-end?lever=discount_pct",
    "rescues",
    "seller-timeline",
    "customer-no",
]


@pytest.mark.usefixtures("hugging")
@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.split("?")[0])
def test_csv_has_the_same_rows_as_json(
    client: FlaskClient, admin: dict[str, str], path: str
) -> None:
    rid = submit(client, admin, "C-1", discount_pct="14")["id"]
    override(client, admin, "vp.garcia", {"discount_pct": "20"}, request_id=rid)
    act(client, admin, submit(client, admin, "C-2", discount_pct="12")["id"], "return", "sm.lee")
    withdraw(client, admin, submit(client, admin, "C-3", discount_pct="8")["id"], "duplicate")
    no = submit(client, admin, "C-4", discount_pct="8")["id"]
    withdraw(client, admin, no, "customer_declined")
    submit(client, admin, "C-4", discount_pct="9")
    json_items = items(client, admin, path)
    assert json_items, "the fixture gives every report rows"
    assert csv_rows(client, admin, path) == [flat(item) for item in json_items]


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.split("?")[0])
def test_an_empty_history_is_an_empty_report(
    client: FlaskClient, admin: dict[str, str], path: str
) -> None:
    body = report(client, admin, path)
    assert (body["items"], body["from"], body["to"]) == ([], None, None)
    response = client.get(f"/v1/reports/{path}", headers={**admin, "Accept": "text/csv"})
    assert response.get_data(as_text=True).count("\r\n") == 1  # the header alone


@pytest.mark.parametrize(
    ("path", "errors"),
    [
        pytest.param(
            "threshold-proximity?lever=free_months",
            {
                "lever": [
                    "Not a lever of the active policy: discount_pct, rebate_pct, "
                    "payment_terms_days, effective_discount_pct."
                ]
            },
            id="unknown-lever",
        ),
        pytest.param(
            "period-end?lever=nope",
            {
                "lever": [
                    "Not a lever of the active policy: discount_pct, rebate_pct, "
                    "payment_terms_days, effective_discount_pct."
                ]
            },
            id="unknown-lever-period-end",
        ),
        pytest.param(
            "threshold-proximity?band=0", {"band": ["Must be greater than 0."]}, id="band-0"
        ),
        pytest.param(
            "threshold-proximity?band=-1", {"band": ["Must be greater than 0."]}, id="band-negative"
        ),
        pytest.param(
            "threshold-proximity?band=wide",
            {"band": ["Must be a number or a numeric string (finite, not NaN or Infinity)."]},
            id="band-not-a-number",
        ),
        pytest.param(
            "threshold-proximity?group_by=manager",
            {"group_by": ["Must be one of: tier, owner."]},
            id="unknown-group-by",
        ),
        pytest.param(
            "rescues?from=2026-07-01&to=2026-06-30",
            {
                "from": ["Must be on or before to (2026-06-30)."],
                "to": ["Is before from (2026-07-01)."],
            },
            id="from-after-to",
        ),
        pytest.param(
            "customer-no?from=2026-13-01",
            {"from": ["Must be a date in YYYY-MM-DD form."]},
            id="not-a-date",
        ),
    ],
)
def test_bad_parameters_are_422_naming_them(
    client: FlaskClient, admin: dict[str, str], path: str, errors: dict[str, list[str]]
) -> None:
    response = client.get(f"/v1/reports/{path}", headers=admin)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["errors"] == errors
    assert response.json["status"] == 422


def test_reports_need_audit_read(client: FlaskClient, make_key: Any) -> None:
    headers = {"Authorization": f"Bearer {make_key('requests', 'overrides')}"}
    response = client.get("/v1/reports/rescues", headers=headers)
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    reader = {"Authorization": f"Bearer {make_key('audit:read', name='reader')}"}
    assert client.get("/v1/reports/rescues", headers=reader).json["items"] == []
