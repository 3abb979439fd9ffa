"""SCIM attribute paths and `eq` filters (RFC 7644 3.4.2.2, 3.5.2), as far as dealdesk needs.

Paths name a User attribute, optionally URN-qualified, with an optional value filter and
sub-attribute: `name.formatted`, `emails[type eq "work"].value`,
`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`. Names are matched
case-insensitively; attributes dealdesk does not keep resolve to None (and are ignored).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from api.identity.scim_error import ScimError
from api.identity.scim_user import CORE, DEALDESK, ENTERPRISE

ATTRIBUTES: dict[str | None, tuple[str, ...]] = {
    None: ("userName", "externalId", "name", "displayName", "emails", "active"),
    ENTERPRISE: ("manager",),
    DEALDESK: ("tier",),
}
PATH = re.compile(
    r"^(?P<attr>[A-Za-z][\w$-]*)(?:\[(?P<filter>[^\]]*)\])?(?:\.(?P<sub>[A-Za-z$][\w$-]*))?$"
)
COMPARISON = re.compile(
    r'^\s*(?P<path>\S.*?)\s+(?P<op>[A-Za-z]{2})\s+(?P<value>"(?:[^"\\]|\\.)*"|true|false|null)\s*$',
    re.IGNORECASE,
)
LIST_FILTERS = {"id", "username", "externalid", "emails", "emails.value"}


@dataclass(frozen=True, slots=True)
class Comparison:
    """`path eq value`; the only operator dealdesk answers."""

    path: str
    value: Any

    def matches(self, item: dict[str, Any]) -> bool:
        found = next((v for k, v in item.items() if k.lower() == self.path.lower()), None)
        if isinstance(found, str) and isinstance(self.value, str):
            return found.lower() == self.value.lower()
        return bool(found == self.value)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a path points: `container` is None for core attributes, else the extension URN;
    `attr` None means the whole extension."""

    container: str | None
    attr: str | None
    where: Comparison | None = None
    sub: str | None = None


def parse_comparison(text: str, scim_type: str = "invalidFilter") -> Comparison:
    match = COMPARISON.match(text)
    if match is None or match["op"].lower() != "eq":
        detail = f'Only `attribute eq "value"` filters are supported, not {text!r}.'
        raise ScimError(400, detail, scim_type)
    raw = match["value"]
    return Comparison(match["path"], json.loads(raw if raw.startswith('"') else raw.lower()))


def parse_path(text: str) -> Target | None:
    """The target of a PATCH path or no-path key; None for an attribute dealdesk ignores."""
    container, rest = _split_urn(text)
    if rest == "":
        return Target(container, None)
    match = PATH.match(rest)
    if match is None:
        raise ScimError(400, f"The path {text!r} is not a valid attribute path.", "invalidPath")
    attr = _canonical(container, match["attr"])
    if attr is None:
        return None
    where = parse_comparison(match["filter"], "invalidPath") if match["filter"] else None
    return Target(attr[0], attr[1], where, match["sub"])


def list_filter(text: str) -> tuple[str, str]:
    """A list filter as (field, value): field is id, userName, externalId or email."""
    comparison = parse_comparison(text)
    unsupported = ScimError(
        400, "Filters compare userName, externalId, emails.value or id with `eq`.", "invalidFilter"
    )
    try:
        target = parse_path(comparison.path)
    except ScimError:
        raise unsupported from None
    name = (target.attr or "").lower() if target else ""
    if target and target.sub:
        name += f".{target.sub.lower()}"
    if name not in LIST_FILTERS and comparison.path.lower() != "id":
        raise unsupported
    if not isinstance(comparison.value, str):
        raise ScimError(400, "A filter compares with a string.", "invalidFilter")
    field = {"username": "userName", "externalid": "externalId"}.get(name, "email")
    return ("id" if comparison.path.lower() == "id" else field), comparison.value


def _split_urn(text: str) -> tuple[str | None, str]:
    lowered = text.lower()
    for urn in (CORE, ENTERPRISE, DEALDESK):
        if lowered == urn.lower():
            return (None if urn == CORE else urn), ""
        if lowered.startswith(urn.lower() + ":"):
            return (None if urn == CORE else urn), text[len(urn) + 1 :]
    return None, text


def _canonical(container: str | None, name: str) -> tuple[str | None, str] | None:
    """The attribute's canonical (container, name); unqualified names also find extensions'."""
    scopes = [container] if container is not None else [None, ENTERPRISE, DEALDESK]
    for scope in scopes:
        for attr in ATTRIBUTES[scope]:
            if attr.lower() == name.lower():
                return scope, attr
    return None


def project(doc: dict[str, Any], attributes: str | None, excluded: str | None) -> dict[str, Any]:
    """`attributes` / `excludedAttributes` (RFC 7644 3.9) at attribute level: a named
    sub-attribute keeps or drops its whole attribute. `schemas` and `id` always stay."""
    if attributes:
        keep = _named(attributes)
        out = {k: v for k, v in doc.items() if k in ("schemas", "id") or (None, k) in keep}
        for urn in (ENTERPRISE, DEALDESK):
            inner = {
                k: v for k, v in doc.get(urn, {}).items() if (urn, k) in keep or (urn, None) in keep
            }
            if inner:
                out[urn] = inner
        return out
    if excluded:
        drop = _named(excluded)
        out = {k: v for k, v in doc.items() if k in ("schemas", "id") or (None, k) not in drop}
        for urn in (ENTERPRISE, DEALDESK):
            if urn in out:
                inner = {
                    k: v
                    for k, v in out[urn].items()
                    if (urn, k) not in drop and (urn, None) not in drop
                }
                out[urn] = inner
                if not inner:
                    del out[urn]
        return out
    return doc


def _named(text: str) -> set[tuple[str | None, str | None]]:
    names: set[tuple[str | None, str | None]] = set()
    for part in text.split(","):
        if part.strip().lower() == "meta":
            names.add((None, "meta"))
            continue
        target = parse_path(part.strip()) if part.strip() else None
        if target is not None:
            names.add((target.container, target.attr))
    return names
