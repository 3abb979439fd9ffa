"""The domain's exceptions. They know nothing of HTTP; `api.http.errors` maps them once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DealdeskError(Exception):
    """Base of every error the domain raises on purpose."""

    def __init__(self, detail: str, errors: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}


class NotFound(DealdeskError):
    """The named resource does not exist."""


class Invalid(DealdeskError):
    """The input is well-formed but breaks a rule of the contract (a field-level problem)."""


class Refused(DealdeskError):
    """A business rule refuses the action (for example: this is an approval, not an override)."""


class Forbidden(DealdeskError):
    """This person may not do this."""


class Conflict(DealdeskError):
    """The resource's state does not allow the action."""


class PreconditionFailed(DealdeskError):
    """An If-Match version is stale."""


class Unavailable(DealdeskError):
    """The database cannot be reached; the client should retry later."""


class InvalidPolicy(DealdeskError):
    """A policy file or directory is refused; `problems` name file, line and path."""

    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        self.problems = list(problems)
        errors: dict[str, list[str]] = {}
        for problem in self.problems:
            errors.setdefault(f"{problem.file}:{problem.path}", []).append(problem.message)
        super().__init__("; ".join(str(p) for p in self.problems), errors)


class PolicyProblem:
    """One thing wrong with a policy file: where, and what."""

    __slots__ = ("file", "line", "message", "path")

    def __init__(self, file: str, path: str, message: str, line: int | None = None) -> None:
        self.file = file
        self.path = path
        self.message = message
        self.line = line

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '(file)'}: {self.message}"
