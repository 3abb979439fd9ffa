"""The running app's Runtime, as views see it, and the Context an action takes."""

from __future__ import annotations

import psycopg
from flask import current_app

from api.runtime import Runtime
from api.service.context import Context


def runtime() -> Runtime:
    current: Runtime = current_app.extensions["dealdesk"]
    return current


def action_context(
    conn: psycopg.Connection, actor_key: str, may_override: bool, person_id: str | None
) -> Context:
    """An action's context under the policy set in force, read in `conn`'s own transaction so
    nothing decides under a set that a committed publish has replaced (API, console and mail
    links alike)."""
    rt = runtime()
    held = rt.policies.follow(conn)
    return Context(
        held.active,
        rt.today(),
        rt.now(),
        actor_key,
        may_override,
        held.policies.shadows,
        person_id,
    )
