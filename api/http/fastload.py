"""A fast path for loading request bodies, compiled from the same marshmallow schemas.

marshmallow costs a few hundred microseconds per deal, several times the policy engine. The
compiled loader takes a body only when it can vouch for the result: every value of the right
type and within its validators, nothing unknown where the schema raises. Then it returns
exactly what `schema.load` would. Otherwise it returns None and marshmallow loads the body,
so every error message (and every odd case) still comes from marshmallow itself.
tests/http/test_fastload.py holds the two to the same results on generated bodies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, ValidationError, fields, validate
from marshmallow.constants import missing

from api.http.fields import IsoDate, Number, StrictBoolean

Loader = Callable[[Any], Any]
"""Takes a raw value; returns the loaded value, or _REFUSE when marshmallow must decide."""


class _Refuse:
    """Marker: the fast path does not vouch for this value."""


_REFUSE: Any = _Refuse()


class Unsupported(Exception):
    """The schema uses something the fast path does not reproduce; use marshmallow."""


def compile_loader(schema: Schema) -> Callable[[Any], dict[str, Any] | None]:
    """`load(data)` → the loaded dict, or None to let `schema.load` answer. A schema the
    compiler does not understand gets a loader that always answers None."""
    try:
        load = _schema(schema)
    except Unsupported:
        return lambda data: None

    def run(data: Any) -> dict[str, Any] | None:
        result: dict[str, Any] | None = load(data)
        return None if result is _REFUSE else result

    return run


def _schema(schema: Schema) -> Loader:
    if any(schema._hooks.values()) or schema.partial or schema.many:
        raise Unsupported(type(schema).__name__)
    plan: list[tuple[str, Loader, bool, Any]] = []
    for name, field in schema.load_fields.items():
        if field.data_key not in (None, name) or field.attribute not in (None, name):
            raise Unsupported(name)
        plan.append((name, _field(field), field.required, field.load_default))
    known = frozenset(name for name, *_ in plan)
    unknown = schema.unknown
    if unknown not in (RAISE, INCLUDE, EXCLUDE):
        raise Unsupported(str(unknown))

    def load(data: Any) -> Any:
        if not isinstance(data, Mapping):
            return _REFUSE
        out: dict[str, Any] = {}
        for name, convert, required, default in plan:
            value = data.get(name, missing)
            if value is missing:
                if required:
                    return _REFUSE
                if default is not missing:
                    out[name] = default() if callable(default) else default
                continue
            loaded = convert(value)
            if loaded is _REFUSE:
                return _REFUSE
            out[name] = loaded
        if len(data) != len(out) or any(k not in known for k in data):
            extra = [k for k in data if k not in known]
            if extra and unknown == RAISE:
                return _REFUSE
            if unknown == INCLUDE:
                for key in extra:
                    out[key] = data[key]
        return out

    return load


def _field(field: fields.Field) -> Loader:  # type: ignore[type-arg]
    if field.pre_load or field.post_load:
        raise Unsupported(repr(field))
    convert = _convert(field)
    checks = [_validator(v) for v in field.validators]
    allow_none = field.allow_none

    def load(value: Any) -> Any:
        if value is None:
            return None if allow_none else _REFUSE
        result = convert(value)
        if result is _REFUSE:
            return _REFUSE
        for check in checks:
            if not check(result):
                return _REFUSE
        return result

    return load


def _convert(field: fields.Field) -> Loader:  # type: ignore[type-arg]
    kind = type(field)
    if kind is fields.String:
        return lambda v: v if isinstance(v, str) else _REFUSE
    if kind is StrictBoolean:
        return lambda v: v if isinstance(v, bool) else _REFUSE
    if kind in (Number, IsoDate):
        return _own(field)
    if kind is fields.Nested and isinstance(field, fields.Nested):
        nested = field.schema
        if field.many or field.only or field.exclude or nested.many:
            raise Unsupported(repr(field))
        return _schema(nested)
    if kind is fields.List and isinstance(field, fields.List):
        inner = _field(field.inner)
        return lambda v: _list(v, inner)
    if kind is fields.Dict and isinstance(field, fields.Dict):
        return _dict(field)
    raise Unsupported(kind.__name__)


def _own(field: fields.Field) -> Loader:  # type: ignore[type-arg]
    """Our own fields: their `_deserialize` is the definition, so call it."""
    deserialize = field._deserialize

    def load(value: Any) -> Any:
        try:
            return deserialize(value, None, None)
        except ValidationError:
            return _REFUSE

    return load


def _list(value: Any, inner: Loader) -> Any:
    if not isinstance(value, list):
        return _REFUSE
    out = [inner(item) for item in value]
    return _REFUSE if any(item is _REFUSE for item in out) else out


def _dict(field: fields.Dict) -> Loader:
    if field.value_field is not None:
        raise Unsupported("Dict values")
    keys = _field(field.key_field) if field.key_field is not None else None

    def load(value: Any) -> Any:
        if not isinstance(value, Mapping):
            return _REFUSE
        if keys is None:
            return dict(value)
        out = {}
        for key, item in value.items():
            loaded = keys(key)
            if loaded is _REFUSE:
                return _REFUSE
            out[loaded] = item
        return out

    return load


def _validator(rule: Any) -> Callable[[Any], bool]:
    if type(rule) is validate.Length:
        low, high, equal = rule.min, rule.max, rule.equal
        if equal is not None:
            return lambda v: len(v) == equal
        return lambda v: (low is None or len(v) >= low) and (high is None or len(v) <= high)
    if type(rule) is validate.Regexp:
        pattern: re.Pattern[Any] = rule.regex
        return lambda v: pattern.match(v) is not None
    if type(rule) is validate.OneOf:
        choices = rule.choices
        return lambda v: v in choices
    raise Unsupported(repr(rule))
