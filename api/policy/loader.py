"""Reads policy files into `Policy` objects, refusing anything the contract does not allow.

A file's sections are checked and assembled in sections.py, each value read in fields.py;
this module reads the files and their bytes, and checks the set they make."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from api.errors import InvalidPolicy, PolicyProblem
from api.policy.model import Policy, PolicyStatus
from api.policy.sections import PolicyBuilder
from api.policy.yamlnodes import YamlProblem, read_yaml


@dataclass(frozen=True, slots=True)
class PolicySet:
    """What a policy directory holds: the one active policy and any shadows beside it."""

    active: Policy
    shadows: tuple[Policy, ...] = ()

    @property
    def all(self) -> tuple[Policy, ...]:
        return (self.active, *self.shadows)


def load_policy_dir(directory: Path) -> PolicySet:
    """Load every `*.yaml` in a directory; refuse unless exactly one policy is active."""
    if not directory.is_dir():
        raise InvalidPolicy([PolicyProblem(str(directory), "", "policy directory not found")])
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    return load_policy_sources([(str(file), file.read_bytes()) for file in files], str(directory))


def load_policy_sources(
    sources: Sequence[tuple[str, bytes]],
    where: str,
    parse: Callable[[bytes, str], Policy] | None = None,
) -> PolicySet:
    """Build a set from (file name, bytes) pairs, as a directory's files or the database's
    stored versions; refuse unless exactly one policy is active. `parse` may be a cache."""
    parse = parse or parse_policy
    problems: list[PolicyProblem] = []
    policies: list[Policy] = []
    for file, source in sources:
        try:
            policies.append(parse(source, file))
        except InvalidPolicy as exc:
            problems.extend(exc.problems)
    problems.extend(_set_problems(where, policies, bool(sources)))
    if problems:
        raise InvalidPolicy(problems)
    active = next(p for p in policies if p.status is PolicyStatus.ACTIVE)
    return PolicySet(active, tuple(p for p in policies if p is not active))


def _set_problems(directory: str, policies: list[Policy], any_files: bool) -> list[PolicyProblem]:
    problems = []
    seen: dict[str, str] = {}
    for policy in policies:
        if policy.name in seen:
            problems.append(
                PolicyProblem(
                    policy.file,
                    "metadata.name",
                    f"name {policy.name!r} is also used by {seen[policy.name]}",
                )
            )
        seen[policy.name] = policy.file
    active = [p for p in policies if p.status is PolicyStatus.ACTIVE]
    if len(active) > 1:
        names = ", ".join(f"{p.name} ({p.file})" for p in active)
        problems.append(
            PolicyProblem(
                str(directory),
                "metadata.status",
                f"two or more active policies: {names}; exactly one may be active",
            )
        )
    if not active and (policies or not any_files):
        problems.append(PolicyProblem(str(directory), "metadata.status", "no active policy"))
    return problems


def parse_policy(source: bytes, file: str) -> Policy:
    """Build a Policy from a file's bytes, or raise InvalidPolicy listing every problem."""
    try:
        data, lines = read_yaml(source)
    except YamlProblem as exc:
        raise InvalidPolicy([PolicyProblem(file, exc.path, exc.message, exc.line)]) from None
    builder = PolicyBuilder(file, lines)
    policy = builder.policy(data, source)
    if builder.problems or policy is None:
        raise InvalidPolicy(builder.problems)
    return policy
