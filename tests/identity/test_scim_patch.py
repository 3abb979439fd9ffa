"""The pure SCIM core: PATCH as Okta and Entra send it, read back as a person's values."""

from __future__ import annotations

from typing import Any

import pytest

from api.identity.scim_error import ScimError
from api.identity.scim_patch import apply_patch
from api.identity.scim_path import list_filter
from api.identity.scim_user import DEALDESK, ENTERPRISE, read_user

BASE: dict[str, Any] = {
    "userName": "ann@example.com",
    "name": {"givenName": "Ann", "familyName": "Lee"},
    "emails": [{"value": "ann@example.com", "type": "work", "primary": True}],
    "active": True,
    DEALDESK: {"tier": "sales_manager"},
}


def patched(*operations: dict[str, Any]) -> dict[str, Any]:
    return apply_patch(BASE, {"Operations": list(operations)})


CASES = [
    ("okta no-path deactivate", [{"op": "replace", "value": {"active": False}}], "active", False),
    (
        "entra string False",
        [{"op": "Replace", "path": "active", "value": "False"}],
        "active",
        False,
    ),
    (
        "entra dotted key",
        [{"op": "Replace", "value": {"name.formatted": "Ann L."}}],
        "name",
        {"givenName": "Ann", "familyName": "Lee", "formatted": "Ann L."},
    ),
    (
        "case-insensitive names",
        [{"op": "REPLACE", "path": "DISPLAYNAME", "value": "A"}],
        "display_name",
        "A",
    ),
    (
        "bare-string manager",
        [{"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "boss"}],
        "manager",
        "boss",
    ),
    (
        "urn key without path",
        [{"op": "replace", "value": {f"{ENTERPRISE}:manager": "b"}}],
        "manager",
        "b",
    ),
    (
        "manager object",
        [{"op": "add", "path": f"{ENTERPRISE}:manager", "value": {"value": "c"}}],
        "manager",
        "c",
    ),
    ("remove manager", [{"op": "Remove", "path": f"{ENTERPRISE}:manager"}], "manager", None),
    (
        "tier by whole extension",
        [{"op": "replace", "path": DEALDESK, "value": {"tier": "ceo"}}],
        "tier",
        "ceo",
    ),
    ("removed tier is kept", [{"op": "remove", "path": f"{DEALDESK}:tier"}], "tier", None),
    (
        "work email replaced",
        [{"op": "Replace", "path": 'emails[type eq "work"].value', "value": "a@new.example"}],
        "email",
        "a@new.example",
    ),
    (
        "home email added unmatched",
        [{"op": "Add", "path": 'emails[type eq "home"].value', "value": "a@home.example"}],
        "email",
        "ann@example.com",
    ),
    (
        "remove with value",
        [{"op": "Remove", "path": "emails", "value": [{"value": "ANN@example.com"}]}],
        "email",
        None,
    ),
    (
        "unknown attribute ignored",
        [{"op": "replace", "path": "title", "value": "VP"}],
        "user_name",
        "ann@example.com",
    ),
]


@pytest.mark.parametrize(
    ("ops", "field", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_patch_reads_as(ops: list[dict[str, Any]], field: str, expected: Any) -> None:
    assert getattr(read_user(patched(*ops)), field) == expected


def test_an_added_home_email_is_kept_beside_the_work_one() -> None:
    doc = patched({"op": "Add", "path": 'emails[type eq "home"].value', "value": "h@x"})
    assert doc["emails"] == [
        {"value": "ann@example.com", "type": "work", "primary": True},
        {"type": "home", "value": "h@x", "primary": False},
    ]
    assert BASE["emails"] == [{"value": "ann@example.com", "type": "work", "primary": True}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "Ann"', ("userName", "Ann")),
        ('USERNAME EQ "Ann"', ("userName", "Ann")),
        ('externalId eq "00u1"', ("externalId", "00u1")),
        ('emails[type eq "work"].value eq "a@b"', ("email", "a@b")),
        ('emails.value eq "a@b"', ("email", "a@b")),
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"', ("userName", "x")),
        ('id eq "am.jones"', ("id", "am.jones")),
        ('userName eq "quote \\" inside"', ("userName", 'quote " inside')),
    ],
)
def test_list_filters(text: str, expected: tuple[str, str]) -> None:
    assert list_filter(text) == expected


@pytest.mark.parametrize(
    "text", ['userName sw "a"', "userName eq", 'displayName eq "a"', "userName eq true", "x"]
)
def test_unsupported_filters_are_invalid_filter(text: str) -> None:
    with pytest.raises(ScimError) as raised:
        list_filter(text)
    assert (raised.value.status, raised.value.scim_type) == (400, "invalidFilter")
