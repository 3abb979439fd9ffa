"""Report pages: the table holds exactly the API's items, every chart point is a table cell,
htmx gets the figure alone, the CSV is the API's, and bad filters name their field."""

from __future__ import annotations

import html as htmllib
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from api.console.figures import _text
from tests.console.conftest import sign_in
from tests.http.reporting import act, items, override, revise, submit, withdraw

pytestmark = pytest.mark.usefixtures("org")
PAGES = [
    "threshold-proximity?lever=discount_pct&group_by=tier",
    "threshold-proximity?lever=discount_pct&group_by=owner&band=0.5",
    "period-end?lever=discount_pct",
    "rescues",
    "seller-timeline?flag=seller_timeline",
    "customer-no",
    "approval-times?group_by=tier",
    "approval-times?group_by=approver",
]
ISLAND = re.compile(r'<script type="application/json" id="chart-data">(.*?)</script>', re.S)


@pytest.fixture()
def history(client: FlaskClient, admin: dict[str, str], org: Any) -> None:
    for i, pct in enumerate(["10", "9.5", "9", "8.5", "7.5", "11", "3"]):
        submit(client, admin, f"H-{i}", discount_pct=pct)
    rid = submit(client, admin, "H-R", discount_pct="12")["id"]
    revise(client, admin, rid, "H-R", discount_pct="9.5")
    submit(client, admin, "H-K", owner_id="am.kim", discount_pct="10")
    rid = submit(client, admin, "C-1", discount_pct="14")["id"]
    override(client, admin, "vp.garcia", {"discount_pct": "20"}, request_id=rid)
    act(client, admin, submit(client, admin, "C-2", discount_pct="12")["id"], "return", "sm.lee")
    act(client, admin, submit(client, admin, "C-5", discount_pct="12")["id"], "approve", "sm.lee")
    withdraw(client, admin, submit(client, admin, "C-3", discount_pct="8")["id"], "duplicate")
    no = submit(client, admin, "C-4", discount_pct="8")["id"]
    withdraw(client, admin, no, "customer_declined")
    submit(client, admin, "C-4", discount_pct="9.5")


@pytest.fixture()
def auditor(client: FlaskClient, make_key: Callable[..., str]) -> None:
    assert sign_in(client, make_key("audit:read", name="auditor")).status_code == 302


TABLE = '<table id="report-table" class="cards">'


def table(html: str) -> list[list[str]]:
    body = html.split(TABLE)[1].split("</table>")[0]
    rows = re.findall(r"<tr><th scope=\"row\"[^>]*>(.*?)</th>(.*?)</tr>", body.split("<tbody>")[1])
    return [
        [htmllib.unescape(head), *map(htmllib.unescape, re.findall(r"<td[^>]*>(.*?)</td>", rest))]
        for head, rest in rows
    ]


def labels(html: str) -> list[list[str]]:
    """Each body row's cells by their data-label: the card a phone shows."""
    body = html.split(TABLE)[1].split("</table>")[0].split("<tbody>")[1]
    return [
        [htmllib.unescape(x) for x in re.findall(r'<t[hd] [^>]*data-label="([^"]*)"', row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]


def columns(html: str) -> list[str]:
    head = html.split(TABLE)[1].split("</thead>")[0]
    return [htmllib.unescape(c) for c in re.findall(r"<th scope=\"col\"[^>]*>(.*?)</th>", head)]


def chart(html: str) -> dict[str, Any]:
    found = ISLAND.search(html)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def cells(item: dict[str, Any]) -> list[str]:
    """An API item as the table's row: nested counts in order, every value as text."""
    out: list[str] = []
    for value in item.values():
        if isinstance(value, dict):
            out += [_text(v) for v in value.values()]
        else:
            out.append(_text(value))
    return out


@pytest.mark.usefixtures("history", "auditor")
@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.replace("?", " ").replace("&", " "))
def test_table_is_the_api_and_every_chart_point_a_table_cell(
    client: FlaskClient, admin: dict[str, str], path: str
) -> None:
    api = items(client, admin, path)
    assert api, "the history gives every report rows"
    response = client.get(f"/console/reports/{path}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = table(html)
    heads = columns(html)
    name = path.split("?")[0]
    if name == "period-end":  # the console adds requests per day beside the API's count
        assert heads[3] == "requests per day"
        assert [r[3] for r in rows] == ["3.00"]  # 15 requests over Jun 6-10: 5 days so far
        rows = [r[:3] + r[4:] for r in rows]
        heads = heads[:3] + heads[4:]
    assert rows == [cells(i) for i in api]
    spec = chart(html)
    for dataset in spec["datasets"]:
        assert len(dataset["data"]) == len(spec["labels"])
        for label, value in zip(spec["labels"], dataset["data"], strict=True):
            cell = _cell(name, rows, heads, dataset["label"], label)
            assert value == (None if cell == "—" else float(cell)), (dataset["label"], label)
    assert 'role="img" aria-label="' in html and "The table below holds the same numbers." in html


AXES = {
    "threshold-proximity?lever=discount_pct&group_by=tier": (
        "offset from own discount_pct ceiling (bands of 1 discount_pct)",
        "asks",
    ),
    "threshold-proximity?lever=discount_pct&group_by=owner&band=0.5": (
        "offset from own discount_pct ceiling (bands of 0.5 discount_pct)",
        "asks",
    ),
    "period-end?lever=discount_pct": ("days to quarter end at submission", "requests"),
    "rescues": ("approver or executive", "steps and rescues"),
    "seller-timeline?flag=seller_timeline": ("owner", "requests and revisions"),
    "customer-no": ("owner", "withdrawals and submissions"),
    "approval-times?group_by=tier": ("tier", "hours from assigned to acted"),
    "approval-times?group_by=approver": ("approver", "hours from assigned to acted"),
}


@pytest.mark.usefixtures("history", "auditor")
@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.replace("?", " ").replace("&", " "))
def test_every_cell_is_labelled_with_its_column_and_both_axes_name_their_unit(
    client: FlaskClient, path: str
) -> None:
    """At phone width each row is a card of `label: value` lines (data-label, via CSS)."""
    html = client.get(f"/console/reports/{path}").get_data(as_text=True)
    heads = columns(html)
    found = labels(html)
    assert len(found) == len(table(html)) >= 1
    # each label is its column's name, free to wrap after an underscore (a zero-width space)
    assert all(row == [h.replace("_", "_\u200b") for h in heads] for row in found), found
    axes = chart(html)["axes"]
    assert (axes["x"], axes["y"]) == AXES[path]


def _cell(name: str, rows: list[list[str]], heads: list[str], series: str, label: str) -> str:
    """The table cell behind one chart point, found the way a reader would."""
    if name == "threshold-proximity":  # a dataset per group, a label per band
        row = next(r for r in rows if r[0] == series)
        return row[heads.index(label)]
    if name == "period-end":  # a dataset per quarter, a label per bucket; no row = 0
        row = next((r for r in rows if r[0] == series and r[1] == label), None)
        return row[heads.index("requests")] if row else "0"
    row = next(r for r in rows if r[0] == label)  # a label per person, a dataset per column
    column = {
        "flagged": "flagged seller_timeline",
        "slips": "slips to a later quarter",
        "customer_declined": "withdrawn: customer_declined",
        "after_no": "pushed again after a no",
        "deeper_after_no": "asked deeper after a no",
    }.get(series, series)
    return row[heads.index(column)]


@pytest.mark.usefixtures("history", "auditor")
def test_htmx_gets_the_figure_and_a_plain_request_the_page(client: FlaskClient) -> None:
    page = client.get("/console/reports/rescues").get_data(as_text=True)
    fragment = client.get("/console/reports/rescues", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert page.startswith("<!doctype html>") and "vendor/chart.umd.min.js" in page
    assert "<html" not in body and TABLE in body
    assert table(body) == table(page)


@pytest.mark.usefixtures("history", "auditor")
@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.replace("?", " ").replace("&", " "))
def test_csv_is_the_api_csv(client: FlaskClient, admin: dict[str, str], path: str) -> None:
    name, _, query = path.partition("?")
    api = client.get(f"/v1/reports/{path}", headers={**admin, "Accept": "text/csv"}).get_data()
    mine = client.get(f"/console/reports/{name}.csv" + (f"?{query}" if query else ""))
    assert mine.get_data() == api
    assert mine.mimetype == "text/csv"


@pytest.mark.usefixtures("auditor")
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("threshold-proximity?band=0", "band"),
        ("threshold-proximity?group_by=region", "group_by"),
        ("period-end?lever=free_lunch", "lever"),
        ("rescues?from=2026-06-10&to=2026-06-01", "from"),
        ("approval-times?group_by=owner", "group_by"),
    ],
)
def test_a_bad_filter_names_its_field(client: FlaskClient, path: str, field: str) -> None:
    response = client.get(f"/console/reports/{path}")
    assert response.status_code == 422
    assert f"<code>{field}</code>:" in response.get_data(as_text=True)


@pytest.mark.usefixtures("auditor")
def test_the_reports_index_links_every_report(client: FlaskClient) -> None:
    html = client.get("/console/reports").get_data(as_text=True)
    links = re.findall(r'href="/console/reports/([a-z-]+)"', html)
    assert links == [
        "threshold-proximity",
        "period-end",
        "rescues",
        "seller-timeline",
        "customer-no",
        "approval-times",
    ]
    assert (
        '<a href="/console/reports/approval-times">Approval times</a>: How long do steps wait'
        in html
    )
    assert client.get("/console/reports/nonsense").status_code == 404


@pytest.mark.usefixtures("history", "auditor")
def test_money_columns_name_their_currency(client: FlaskClient) -> None:
    html = client.get("/console/reports/period-end?lever=discount_pct").get_data(as_text=True)
    assert columns(html)[-1] == "excess value (USD)"  # the shipped policy's currency


@pytest.mark.usefixtures("history", "auditor")
def test_long_names_in_card_labels_wrap_at_their_underscores(client: FlaskClient) -> None:
    """At 390 px the label column is 40% of a card: `beyond_executive_authority` broke as
    `beyond_executi ve_authority`. The label may now wrap only after an underscore; the
    column header a screen reader reads is the plain name."""
    html = client.get("/console/reports/rescues").get_data(as_text=True)
    assert "overrides: beyond_executive_authority" in columns(html)
    assert labels(html)[0][5] == "overrides: beyond_\u200bexecutive_\u200bauthority"
