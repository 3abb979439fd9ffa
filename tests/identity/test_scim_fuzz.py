"""Any JSON as a PATCH or a User body: read, or refused with a ScimError, never another error."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from api.identity.scim_error import ScimError
from api.identity.scim_patch import apply_patch
from api.identity.scim_user import DEALDESK, ENTERPRISE, read_user

NAMES = st.sampled_from(
    [
        "userName",
        "active",
        "name",
        "name.formatted",
        "displayName",
        "emails",
        "externalId",
        'emails[type eq "work"].value',
        'emails[value eq "a@b"]',
        "emails.value",
        "title",
        f"{ENTERPRISE}:manager",
        ENTERPRISE,
        DEALDESK,
        f"{DEALDESK}:tier",
        "",
        "x[",
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "manager.value",
        "primary",
    ]
)
SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(NAMES | st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
OPERATION = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "Replace", "remove", "merge"])},
    optional={"path": NAMES | JSON, "value": JSON},
)
BASE: dict[str, Any] = {
    "userName": "ann",
    "emails": [{"value": "a@b", "type": "work", "primary": True}],
    DEALDESK: {"tier": "t"},
}


@settings(max_examples=400, deadline=None)
@given(st.lists(OPERATION, max_size=4) | JSON)
def test_any_patch_is_applied_or_refused(operations: Any) -> None:
    try:
        read_user(apply_patch(BASE, {"Operations": operations}))
    except ScimError as exc:
        assert exc.status == 400


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(NAMES, JSON, max_size=6))
def test_any_user_body_is_read_or_refused(body: dict[str, Any]) -> None:
    try:
        read_user(body)
    except ScimError as exc:
        assert (exc.status, exc.scim_type) == (400, "invalidValue")
