"""Reading one value of a policy file: each check records a problem (with its path and line)
and returns None or a default instead of raising, so a file's every problem is reported."""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from decimal import Decimal
from typing import Any

from api.errors import PolicyProblem
from api.policy.conditions import Expression, ExpressionError, compile_expression
from api.policy.yamlnodes import child


class FieldReader:
    """Walks the parsed YAML, collecting every problem instead of stopping at the first."""

    def __init__(self, file: str, lines: dict[str, int]) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[PolicyProblem] = []
        self.tiers: tuple[str, ...] = ()

    def problem(self, path: str, message: str) -> None:
        line = self.lines.get(path)
        probe = path
        while line is None and probe:
            probe = probe.rsplit(".", 1)[0] if "." in probe else ""
            line = self.lines.get(probe)
        self.problems.append(PolicyProblem(self.file, path, message, line))

    def mapping(
        self,
        value: Any,
        path: str,
        allowed: AbstractSet[str],
        required: AbstractSet[str] = frozenset(),
    ) -> dict[str, Any]:
        if value is None:
            return {}  # a missing section: its parent reports it as required
        if not isinstance(value, dict):
            self.problem(path, "must be a mapping")
            return {}
        for key in value:
            if key not in allowed:
                self.problem(
                    child(path, key), f"unknown key {key!r}; allowed: {', '.join(sorted(allowed))}"
                )
        for key in sorted(required - value.keys()):
            self.problem(child(path, key), "is required")
        return value

    def text(
        self, value: Any, path: str, pattern: re.Pattern[str] | None = None, what: str = ""
    ) -> str | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self.problem(path, "must be a non-empty string")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(path, f"{value!r} is not {what or 'valid'}")
            return None
        return value

    def number(self, value: Any, path: str) -> Decimal | None:
        if isinstance(value, bool) or not isinstance(value, Decimal):
            self.problem(path, f"must be a number, not {value!r}")
            return None
        if value < 0:
            self.problem(path, f"must not be negative, not {value}")
            return None
        return value

    def tier(self, value: Any, path: str) -> str | None:
        if value not in self.tiers:
            self.problem(path, f"{value!r} is not a tier of this policy ({', '.join(self.tiers)})")
            return None
        return str(value)

    def expression(self, value: Any, path: str) -> Expression | None:
        source = self.text(value, path)
        if source is None:
            return None
        try:
            return compile_expression(source)
        except ExpressionError as exc:
            self.problem(path, f"CEL does not parse: {exc}")
            return None

    def choice(self, value: Any, path: str, enum: Callable[[str], Any], default: Any) -> Any:
        if value is None:
            return default
        try:
            return enum(value)
        except ValueError:
            self.problem(path, f"{value!r} is not one of {', '.join(m.value for m in enum)}")  # type: ignore[attr-defined]
            return default

    def whole_number(self, value: Any, path: str) -> int:
        number = self.number(value, path)
        if number is None:
            return 0
        if number != number.to_integral_value():
            self.problem(path, f"must be a whole number, not {number}")
        return int(number)
