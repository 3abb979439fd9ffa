"""SCIM PATCH (RFC 7644 3.5.2) applied to a rendered User, as Okta and Entra send it.

Op names in any case (Entra's `Replace`), no-path replaces whose keys are paths (`active`,
`name.formatted`, `urn:...:enterprise:2.0:User:manager`), value filters on emails (with
Entra's add-when-unmatched and remove-with-value), a bare-string manager. A removed attribute
becomes null, which the reader takes as "cleared" (a removed tier or active keeps its value).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from api.identity.scim_error import ScimError
from api.identity.scim_path import Target, parse_path
from api.identity.scim_user import lookup

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OPS = ("add", "replace", "remove")
MAX_OPERATIONS = 1000


def apply_patch(resource: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """The resource after every operation, in order; the input is not changed."""
    operations = lookup(body, "Operations")[1]
    if not isinstance(operations, list) or not operations:
        raise _syntax("`Operations` must be a non-empty list.")
    if len(operations) > MAX_OPERATIONS:
        raise _syntax(f"At most {MAX_OPERATIONS} operations in one PATCH.")
    doc = copy.deepcopy(dict(resource))
    for index, operation in enumerate(operations):
        if not isinstance(operation, Mapping):
            raise _syntax(f"`Operations[{index}]` must be an object.")
        _operation(doc, operation, index)
    return doc


def _operation(doc: dict[str, Any], operation: Mapping[str, Any], index: int) -> None:
    op = lookup(operation, "op")[1]
    if not isinstance(op, str) or op.lower() not in OPS:
        raise _syntax(f"`Operations[{index}].op` must be add, replace or remove.")
    path, value = lookup(operation, "path")[1], lookup(operation, "value")[1]
    if path is None or path == "":
        if op.lower() == "remove":
            raise ScimError(400, "A remove operation needs a `path`.", "noTarget")
        _no_path(doc, op.lower(), value, index)
        return
    if not isinstance(path, str):
        raise ScimError(400, f"`Operations[{index}].path` must be a string.", "invalidPath")
    target = parse_path(path)
    if target is not None:
        _apply(doc, op.lower(), target, value)


def _no_path(doc: dict[str, Any], op: str, value: Any, index: int) -> None:
    if not isinstance(value, Mapping):
        raise ScimError(
            400,
            f"`Operations[{index}].value` must be an object when there is no path.",
            "invalidValue",
        )
    for key, item in value.items():
        if key.lower() == "schemas":
            continue
        target = parse_path(key)
        if target is not None:
            _apply(doc, op, target, item)


def _apply(doc: dict[str, Any], op: str, target: Target, value: Any) -> None:
    if target.attr is None:  # a whole extension (or the core schema) as an object
        if op == "remove":
            holder = _holder(doc, target.container)
            for key in list(holder):
                holder[key] = None
            return
        scoped = value if isinstance(value, Mapping) else {}
        for key, item in scoped.items():
            inner = parse_path(f"{target.container}:{key}" if target.container else key)
            if inner is not None:
                _apply(doc, op, inner, item)
        return
    holder = _holder(doc, target.container)
    if target.attr == "emails":
        holder["emails"] = _emails(list(holder.get("emails") or []), op, target, value)
    elif target.sub is not None:
        node = _complex(holder.get(target.attr))
        node[target.sub] = None if op == "remove" else value
        holder[target.attr] = node
    elif op == "remove":
        holder[target.attr] = None
    elif target.attr in ("name", "manager") and isinstance(value, Mapping):
        holder[target.attr] = {**_complex(holder.get(target.attr)), **value}
    else:
        holder[target.attr] = value


def _holder(doc: dict[str, Any], container: str | None) -> dict[str, Any]:
    if container is None:
        return doc
    current = doc.get(container)
    if not isinstance(current, dict):
        current = doc[container] = {}
    return current


def _complex(node: Any) -> dict[str, Any]:
    if isinstance(node, Mapping):
        return dict(node)
    return {} if node is None else {"value": node}


def _emails(items: list[Any], op: str, target: Target, value: Any) -> list[Any] | None:
    where, sub = target.where, target.sub
    if where is None and sub is None:
        if op == "remove":
            return _without(items, value) if value is not None else None
        added = value if isinstance(value, list) else [value]
        return _one_primary(items + added if op == "add" else added)
    matched = [i for i, e in enumerate(items) if isinstance(e, dict) and _hit(target, e)]
    if op == "remove":
        if sub is None:
            return [e for i, e in enumerate(items) if i not in matched] or None
        for i in matched:
            items[i] = {**items[i], sub: None}
        return items
    if not matched:  # Entra: replacing a filtered value that is not there adds it
        fresh = {where.path: where.value} if where is not None else {}
        fresh.update({sub: value} if sub else dict(value) if isinstance(value, Mapping) else {})
        fresh.setdefault("primary", not items)
        return _one_primary([*items, fresh])
    for i in matched:
        update = {sub: value} if sub else dict(value) if isinstance(value, Mapping) else {}
        items[i] = {**items[i], **update}
    return _one_primary(items)


def _hit(target: Target, email: dict[str, Any]) -> bool:
    if target.where is not None:
        return target.where.matches(email)
    return str(email.get("primary")).lower() == "true"  # unfiltered emails.value: the primary


def _without(items: list[Any], value: Any) -> list[Any] | None:
    """Entra's remove-with-value: drop the listed addresses only."""
    gone = value if isinstance(value, list) else [value]
    drop = {_address(v) for v in gone if isinstance(v, Mapping)}
    kept = [e for e in items if not isinstance(e, Mapping) or _address(e) not in drop]
    return kept or None


def _address(email: Mapping[str, Any]) -> str:
    return str(lookup(email, "value")[1] or "").lower()


def _one_primary(items: list[Any]) -> list[Any]:
    """A newly added primary email takes the flag from the others (RFC 7643 2.4)."""
    primaries = [
        i
        for i, e in enumerate(items)
        if isinstance(e, dict) and str(e.get("primary")).lower() == "true"
    ]
    for i in primaries[:-1]:
        items[i] = {**items[i], "primary": False}
    return items


def _syntax(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidSyntax")
