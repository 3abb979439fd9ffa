"""Request bodies: JSON with exact decimals, no duplicate keys, loaded through a schema."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from api.http.fastload import compile_loader
from api.http.problems import HttpProblem, flatten

MAX_DEPTH = 32
_fast_loaders: dict[Schema, Callable[[Any], dict[str, Any] | None]] = {}


def json_body(schema: Schema) -> dict[str, Any]:
    """Parse and validate the body: 415 wrong type, 400 malformed JSON, 422 invalid fields."""
    data = raw_json()
    quick = fast_loader(schema)(data)
    if quick is not None:
        return quick
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        raise invalid(flatten(exc.messages)) from None
    return loaded


def fast_loader(schema: Schema) -> Callable[[Any], dict[str, Any] | None]:
    """The schema's compiled loader (api/http/fastload.py): None where marshmallow decides."""
    fast = _fast_loaders.get(schema)
    if fast is None:
        fast = _fast_loaders[schema] = compile_loader(schema)
    return fast


def raw_json() -> dict[str, Any]:
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise HttpProblem(
            415,
            "unsupported-media-type",
            "Send the body as JSON with Content-Type: application/json.",
        )
    return parse_json(request.get_data(cache=True))


def parse_json(raw: bytes) -> dict[str, Any]:
    """A JSON object with exact decimals and no duplicate keys: 400 malformed, 422 not an
    object or holding what PostgreSQL cannot store."""
    try:
        data = _DECODER.decode(raw.decode(_encoding(raw), "surrogatepass"))
    except RecursionError:
        raise HttpProblem(400, "malformed-json", "The JSON body is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpProblem(400, "malformed-json", f"The body is not valid JSON: {exc}") from None
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and _depth(data) > MAX_DEPTH:
        raise HttpProblem(
            400, "malformed-json", f"The JSON body is nested deeper than {MAX_DEPTH}."
        )
    if not isinstance(data, dict):
        raise invalid({"body": ["Must be a JSON object."]})
    # Only an escape (or a UTF-16/32 body) can put NUL or a lone surrogate into a string.
    if b"\\u" in raw or b"\x00" in raw:
        bad = dict(_unstorable(data, ""))
        if bad:
            raise invalid(bad)
    return data


def _encoding(raw: bytes) -> str:
    """json.loads' guess of the encoding, without its BOM checks for the usual body: one that
    opens an object in UTF-8 (no BOM starts with `{`; UTF-16 would put a NUL second)."""
    if raw[:1] == b"{" and raw[1:2] not in (b"", b"\x00"):
        return "utf-8"
    return json.detect_encoding(raw)


def invalid(errors: dict[str, list[str]]) -> HttpProblem:
    return HttpProblem(422, "validation-error", "The request body is not valid.", errors)


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return result


# made once: json.loads with these arguments builds a new decoder (and scanner) per call
_DECODER = json.JSONDecoder(
    parse_float=Decimal, parse_constant=_constant, object_pairs_hook=_unique_keys
)


def _depth(value: Any, level: int = 1) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def _unstorable(value: Any, path: str) -> Iterator[tuple[str, list[str]]]:
    """Strings PostgreSQL cannot store: NUL characters and lone surrogates (not UTF-8)."""
    if isinstance(value, str):
        if "\x00" in value:
            yield path or "body", ["Must not contain NUL (\\u0000) characters."]
        else:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                yield path or "body", ["Must be valid Unicode (no lone surrogates)."]
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield from _unstorable(key, child)
            yield from _unstorable(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unstorable(item, f"{path}.{index}" if path else str(index))
