"""The compiled body loader against marshmallow: whenever it vouches for a body, marshmallow
loads that body to exactly the same result; when it cannot, it steps aside."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields

from api.http.fastload import compile_loader
from api.http.schemas import ApproveIn, EvaluationIn, SubmissionIn

VALID_DEAL: dict[str, Any] = {
    "deal_id": "Q-00042",
    "owner_id": "am.jones",
    "currency": "USD",
    "account": {"id": "ACME", "name": "Acme Corp", "segment": "enterprise", "tier": "gold"},
    "list_amount": Decimal("250000.00"),
    "discount_pct": "18",
    "rebate_pct": Decimal("1.5"),
    "payment_terms_days": 60,
    "term_months": 36,
    "special_billing": False,
    "close_date": "2026-12-29",
    "customer_target_date": "2027-02-15",
    "lines": [{"sku": "PLAT-1", "quantity": 10, "list_price": "25000.00", "discount_pct": 18}],
    "attributes": {"region": "EMEA", "nested": {"x": [1, 2]}},
}

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.decimals(allow_nan=False, allow_infinity=False, places=12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "2026-02-30", "2026-12-29", "USD", "usd", "1e3", "NaN", " 5 ", "x" * 130]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def same_or_refused(schema: Schema, data: Any) -> Any:
    fast = compile_loader(schema)(data)
    if fast is None:
        return None
    assert fast == schema.load(data), data
    return fast


@pytest.mark.parametrize(
    ("schema", "body"),
    [
        (EvaluationIn(), {"deal": VALID_DEAL, "requested_by": "am.jones", "as_of": "2026-12-29"}),
        (SubmissionIn(), {"deal": VALID_DEAL, "requested_by": "am.jones"}),
        (ApproveIn(), {"approver_id": "sd.patel", "comment": "fine"}),
        (ApproveIn(), {"approver_id": "sd.patel"}),
    ],
    ids=["evaluation", "submission", "approve-with-comment", "approve"],
)
def test_valid_bodies_take_the_fast_path(schema: Schema, body: dict[str, Any]) -> None:
    loaded = same_or_refused(schema, body)
    assert loaded is not None
    assert list(loaded) == [k for k in schema.load(body)]


@settings(max_examples=400, deadline=None)
@given(
    field=st.sampled_from([*sorted(VALID_DEAL), "extra_field", "discount_pct"]),
    value=ODD_VALUES,
    top=st.sampled_from(["deal", "requested_by", "as_of", "unknown", None]),
    top_value=ODD_VALUES,
)
def test_mutated_deals_agree_with_marshmallow(
    field: str, value: Any, top: str | None, top_value: Any
) -> None:
    body: dict[str, Any] = {"deal": {**VALID_DEAL, field: value}, "requested_by": "am.jones"}
    if top is not None:
        body[top] = top_value
    same_or_refused(EvaluationIn(), body)


@settings(max_examples=200, deadline=None)
@given(
    part=st.sampled_from(["account", "lines"]),
    key=st.sampled_from(["id", "name", "segment", "sku", "quantity", "list_price", "other"]),
    value=ODD_VALUES,
)
def test_mutated_nested_values_agree_with_marshmallow(part: str, key: str, value: Any) -> None:
    deal = dict(VALID_DEAL)
    if part == "account":
        deal["account"] = {**VALID_DEAL["account"], key: value}
    else:
        deal["lines"] = [{**VALID_DEAL["lines"][0], key: value}]
    same_or_refused(EvaluationIn(), {"deal": deal, "requested_by": "am.jones"})


def test_refused_bodies_leave_the_errors_to_marshmallow() -> None:
    body = {"deal": {**VALID_DEAL, "discount_pct": -1}, "requested_by": "am.jones"}
    assert compile_loader(EvaluationIn())(body) is None
    with pytest.raises(ValidationError) as raised:
        EvaluationIn().load(body)
    assert raised.value.messages == {"deal": {"discount_pct": ["Must be at least 0."]}}


def test_a_schema_it_does_not_know_is_left_to_marshmallow() -> None:
    class Odd(Schema):
        when = fields.DateTime(required=True)

    assert compile_loader(Odd())({"when": "2026-12-29T10:00:00Z"}) is None
