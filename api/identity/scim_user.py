"""A SCIM User read into plain values, and a person rendered as a SCIM User (DESIGN 13).

The person's own columns (name, email, active, tier, manager) are derived from the SCIM
attributes; the descriptive attributes a person has no column for (name parts, displayName,
every email) are kept as sent, so an identity provider reads back what it wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.identity.scim_error import invalid_value

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DEALDESK = "urn:ietf:params:scim:schemas:extension:dealdesk:2.0:User"
NAME_PARTS = ("formatted", "familyName", "givenName", "middleName")
MAX_ID = 128
MAX_TEXT = 1024  # indexed values (externalId, emails, a manager reference) must fit a btree


@dataclass(frozen=True, slots=True)
class UserIn:
    """What a POST or PUT body says. `None` for tier/active/manager means: not sent."""

    user_name: str
    external_id: str | None
    name: dict[str, str] | None
    display_name: str | None
    emails: tuple[dict[str, Any], ...]
    active: bool | None
    tier: str | None
    manager: str | None
    manager_sent: bool

    @property
    def email(self) -> str | None:
        return primary_email(self.emails)

    def attrs(self) -> dict[str, Any]:
        """The descriptive attributes stored as sent (people.scim_attrs)."""
        kept: dict[str, Any] = {}
        if self.name:
            kept["name"] = self.name
        if self.display_name:
            kept["displayName"] = self.display_name
        if self.emails:
            kept["emails"] = list(self.emails)
        return kept


@dataclass(frozen=True, slots=True)
class Stored:
    """A person as the SCIM view needs it."""

    id: str
    user_name: str | None
    external_id: str | None
    name: str
    email: str | None
    active: bool
    tier: str
    manager_id: str | None
    manager_ref: str | None
    attrs: Mapping[str, Any]
    created: str
    modified: str


def lookup(obj: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    """SCIM attribute names are case-insensitive: (found, value)."""
    if key in obj:
        return True, obj[key]
    lowered = key.lower()
    for name, value in obj.items():
        if name.lower() == lowered:
            return True, value
    return False, None


def person_name(name: Mapping[str, Any] | None, display: str | None, user_name: str) -> str:
    """name.formatted, else displayName, else the given and family names, else userName."""
    name = name or {}
    if name.get("formatted"):
        return str(name["formatted"])
    if display:
        return display
    parts = [name.get(p) for p in ("givenName", "middleName", "familyName")]
    joined = " ".join(str(p) for p in parts if p)
    return joined or user_name


def primary_email(emails: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> str | None:
    chosen = next((e for e in emails if e.get("primary") is True), emails[0] if emails else None)
    return None if chosen is None else str(chosen["value"])


def read_user(doc: Mapping[str, Any]) -> UserIn:
    """A User body as values; a wrong type is 400 invalidValue naming the attribute."""
    user_name = lookup(doc, "userName")[1]
    if not isinstance(user_name, str) or not user_name.strip():
        raise invalid_value("`userName` is required: a non-empty string.")
    if len(user_name) > MAX_ID:
        raise invalid_value(f"`userName` is at most {MAX_ID} characters.")
    if "/" in user_name:
        raise invalid_value("`userName` must not contain `/`: a new user's id is its userName.")
    extension = _extension(doc, DEALDESK)
    enterprise = _extension(doc, ENTERPRISE)
    manager_sent, manager = lookup(enterprise, "manager")
    return UserIn(
        user_name=user_name,
        external_id=_text(doc, "externalId"),
        name=_name(doc),
        display_name=_text(doc, "displayName"),
        emails=_emails(doc),
        active=read_bool(lookup(doc, "active")[1], "active"),
        tier=_text(extension, "tier", f"{DEALDESK}:tier"),
        manager=manager_value(manager),
        manager_sent=manager_sent,
    )


def read_bool(value: Any, where: str) -> bool | None:
    """true/false, or the strings "True"/"False" that Microsoft Entra sends."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid_value(f"`{where}` must be a boolean.")


def manager_value(value: Any) -> str | None:
    """`{"value": id}`, or the bare string Microsoft Entra sends; null or "" removes."""
    if isinstance(value, Mapping):
        value = lookup(value, "value")[1]
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid_value(f"`{ENTERPRISE}:manager.value` must be a string.")
    if len(value) > MAX_TEXT:
        raise invalid_value(f"`{ENTERPRISE}:manager.value` is at most {MAX_TEXT} characters.")
    return value


def _extension(doc: Mapping[str, Any], urn: str) -> Mapping[str, Any]:
    found, value = lookup(doc, urn)
    if not found or value is None:
        return {}
    if not isinstance(value, Mapping):
        raise invalid_value(f"`{urn}` must be an object.")
    return value


def _text(obj: Mapping[str, Any], key: str, where: str | None = None) -> str | None:
    value = lookup(obj, key)[1]
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid_value(f"`{where or key}` must be a string.")
    if len(value) > MAX_TEXT:
        raise invalid_value(f"`{where or key}` is at most {MAX_TEXT} characters.")
    return value


def _name(doc: Mapping[str, Any]) -> dict[str, str] | None:
    value = lookup(doc, "name")[1]
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise invalid_value("`name` must be an object.")
    parts = {p: _text(value, p, f"name.{p}") for p in NAME_PARTS}
    return {k: v for k, v in parts.items() if v is not None} or None


def _emails(doc: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    value = lookup(doc, "emails")[1]
    if value is None:
        return ()
    if not isinstance(value, list):
        raise invalid_value("`emails` must be a list.")
    emails = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise invalid_value(f"`emails[{index}]` must be an object.")
        address = _text(item, "value", f"emails[{index}].value")
        if address is None:
            continue
        email: dict[str, Any] = {"value": address}
        kind = _text(item, "type", f"emails[{index}].type")
        if kind is not None:
            email["type"] = kind
        primary = read_bool(lookup(item, "primary")[1], f"emails[{index}].primary")
        if primary is not None:
            email["primary"] = primary
        emails.append(email)
    if sum(1 for e in emails if e.get("primary")) > 1:
        raise invalid_value("At most one of `emails` may be primary.")
    return tuple(emails)


def render(person: Stored, base: str) -> dict[str, Any]:
    """The person as a SCIM User; `base` is the SCIM root URL (for `location` and `$ref`)."""
    user_name = person.user_name or person.id
    doc: dict[str, Any] = {"schemas": [CORE], "id": person.id, "userName": user_name}
    if person.external_id:
        doc["externalId"] = person.external_id
    doc.update(_descriptive(person, user_name))
    doc["active"] = person.active
    if person.manager_id or person.manager_ref:
        manager: dict[str, str] = {"value": person.manager_id or person.manager_ref or ""}
        if person.manager_id:
            manager["$ref"] = f"{base}/Users/{person.manager_id}"
        doc["schemas"].append(ENTERPRISE)
        doc[ENTERPRISE] = {"manager": manager}
    doc["schemas"].append(DEALDESK)
    doc[DEALDESK] = {"tier": person.tier}
    doc["meta"] = {
        "resourceType": "User",
        "created": person.created,
        "lastModified": person.modified,
        "location": f"{base}/Users/{person.id}",
    }
    return doc


def _descriptive(person: Stored, user_name: str) -> dict[str, Any]:
    """The kept attributes, unless PUT /v1/people changed the name or email since."""
    attrs = person.attrs
    out: dict[str, Any] = {}
    name, display = attrs.get("name"), attrs.get("displayName")
    if person_name(name, display, user_name) == person.name:
        if name:
            out["name"] = dict(name)
        if display:
            out["displayName"] = display
    else:
        out["name"] = {"formatted": person.name}
    emails = list(attrs.get("emails") or [])
    if primary_email(emails) != person.email:
        emails = [{"value": person.email, "primary": True}] if person.email else []
    if emails:
        out["emails"] = emails
    return out
