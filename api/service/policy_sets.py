"""Publishing a policy set to the whole deployment, and reading back the one in force.

`publish` is the only way a set comes into force: one transaction that locks the row, keeps
the files' bytes, bumps the generation and appends one `policy.published` audit event. A set
identical to the one in force (the same active sha256 and the same shadows) changes nothing.
The caller has already loaded the set, so a bad directory never gets this far.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from api.events.types import EventType
from api.policy.loader import PolicySet, load_policy_sources
from api.policy.model import Policy
from api.storage import audit, outbox
from api.storage.decisions import store_policy_version
from api.storage.policy_sets import SetInForce, replace_set, set_in_force, stored_versions

PUBLISHED = "policy.published"


@dataclass(frozen=True, slots=True)
class Published:
    """What a publish left in force; `changed` is False when the set was already in force."""

    in_force: SetInForce
    policies: PolicySet
    changed: bool

    @property
    def generation(self) -> int:
        return self.in_force.generation


def describe(policies: PolicySet) -> list[dict[str, Any]]:
    return [
        {"name": p.name, "version": p.version, "sha256": p.sha256, "status": p.status.value}
        for p in policies.all
    ]


def same_set(in_force: SetInForce, policies: PolicySet) -> bool:
    return in_force.active_sha256 == policies.active.sha256 and sorted(
        in_force.shadow_sha256s
    ) == sorted(p.sha256 for p in policies.shadows)


def publish(conn: psycopg.Connection, policies: PolicySet, actor: str) -> Published:
    """Put `policies` in force for every worker of every instance, in the caller's
    transaction; returns what is in force afterwards."""
    current = set_in_force(conn, lock=True)
    if same_set(current, policies):
        return Published(current, policies, changed=False)
    for policy in policies.all:
        store_policy_version(conn, policy)
    shadows = [p.sha256 for p in policies.shadows]
    in_force = replace_set(conn, policies.active.sha256, shadows, actor)
    event = audit.append_event(
        conn,
        PUBLISHED,
        actor,
        f"policy_set:{in_force.generation}",
        {"generation": in_force.generation, "policies": describe(policies)},
    )
    outbox.emit_for(conn, event, EventType.POLICY_PUBLISHED, event.payload)
    return Published(in_force, policies, changed=True)


def load_in_force(
    conn: psycopg.Connection, parse: Callable[[bytes, str], Policy] | None = None
) -> tuple[SetInForce, PolicySet | None]:
    """The set in force, parsed from its stored bytes (None when nothing is published)."""
    in_force = set_in_force(conn)
    if not in_force.sha256s:
        return in_force, None
    versions = stored_versions(conn, in_force.sha256s)
    sources = [(v.file, bytes(v.source)) for v in versions]
    return in_force, load_policy_sources(sources, f"policy set {in_force.generation}", parse)
