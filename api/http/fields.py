"""marshmallow fields for exact numbers and ISO dates, as the contract sends and returns them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields

from api.policy.decimals import decimal_str, to_decimal

MAX_DIGITS = 28
"""Significant digits a value may carry: every one of them is kept (DESIGN 4)."""
MAX_MAGNITUDE = Decimal(10) ** MAX_DIGITS
MAX_PLACES = MAX_DIGITS


class Number(fields.Field):  # type: ignore[type-arg]
    """A JSON number or numeric string, loaded as an exact Decimal and dumped as a string."""

    def __init__(
        self,
        *,
        minimum: Decimal | int | None = None,
        maximum: Decimal | int | None = None,
        **kwargs: Any,
    ) -> None:
        self.minimum = None if minimum is None else Decimal(minimum)
        self.maximum = None if maximum is None else Decimal(maximum)
        schema: dict[str, Any] = {"type": "number"}
        text: dict[str, Any] = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
        if self.minimum is not None:
            schema["minimum"] = float(self.minimum)
        if self.maximum is not None:
            schema["maximum"] = float(self.maximum)
        metadata = {"oneOf": [schema, text], **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        number = to_decimal(value) if not isinstance(value, float) else None
        if number is None:
            raise ValidationError(
                "Must be a number or a numeric string (finite, not NaN or Infinity)."
            )
        _sign, digits, exponent = number.as_tuple()
        if len(digits) > MAX_DIGITS:
            raise ValidationError(f"Must have at most {MAX_DIGITS} significant digits.")
        if abs(number) >= MAX_MAGNITUDE:
            raise ValidationError(f"Must be less than 1e{MAX_DIGITS} in magnitude.")
        if isinstance(exponent, int) and exponent < -MAX_PLACES:
            raise ValidationError(f"Must have at most {MAX_PLACES} decimal places.")
        if self.minimum is not None and number < self.minimum:
            raise ValidationError(f"Must be at least {decimal_str(self.minimum)}.")
        if self.maximum is not None and number > self.maximum:
            raise ValidationError(f"Must be at most {decimal_str(self.maximum)}.")
        return number

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else decimal_str(Decimal(value))


class IsoDate(fields.Field):  # type: ignore[type-arg]
    """A YYYY-MM-DD date, kept as its ISO string (CEL compares ISO dates as strings)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "format": "date", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or len(value) != 10:
            raise ValidationError("Must be a date in YYYY-MM-DD form.")
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValidationError("Must be a date in YYYY-MM-DD form.") from None

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)


def load_number(value: Any, *, minimum: int = 0) -> Decimal:
    """Validate one extra numeric field (a policy-named lever) like a declared one."""
    result: Decimal = Number(minimum=minimum).deserialize(value)
    return result


class StrictBoolean(fields.Boolean):
    """JSON true or false only: 0, 1, "yes" and "true" are refused, as the spec says."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value
