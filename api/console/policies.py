"""The policies page: the set in force, every stored version, the plain-English diff between
any two, and a replay of an uploaded candidate over the decision log."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from flask import request

from api.console.blueprint import FINANCE, bp, needs, page, user
from api.errors import Forbidden, Invalid, InvalidPolicy
from api.http.context import runtime
from api.policy.decision import iso_utc
from api.policy.diff import diff
from api.policy.loader import parse_policy
from api.policy.model import Policy
from api.service.replay import replay
from api.storage import console_reads as reads
from api.storage import policy_sets as sets
from api.storage.database import transaction
from api.storage.policy_sets import set_in_force

MAX_CANDIDATE = 256 * 1024
REPLAY_SCOPE = "policies"


def _in_force(conn: psycopg.Connection) -> tuple[int, list[dict[str, Any]]]:
    """(generation, policies) of the set in force as the database says (as GET /v1/policies
    answers), or what this process decides under when nothing is published yet."""
    in_force = set_in_force(conn)
    if in_force.sha256s:
        rows = [
            (v.name, v.version, v.sha256, v.status)
            for v in sets.stored_versions(conn, in_force.sha256s)
        ]
        loaded_at = in_force.published_at
    else:
        held = runtime().policies.held
        rows = [(p.name, p.version, p.sha256, p.status.value) for p in held.policies.all]
        loaded_at = held.loaded_at
    when = iso_utc(loaded_at) if loaded_at else None
    return in_force.generation, [
        {"name": n, "version": v, "sha256": sha, "status": st, "loaded_at": when}
        for n, v, sha, st in rows
    ]


@bp.route("/policies")
@needs(FINANCE)
def policies() -> str:
    with transaction(runtime().pool) as conn:
        versions = reads.stored_versions(conn)
        generation, in_force = _in_force(conn)
    return page(
        "console/policies.html",
        title="Policies",
        me=user(),
        in_force=in_force,
        generation=generation,
        versions=versions,
        may_replay=user().has(REPLAY_SCOPE),
    )


def _stored(sha256: str, field: str) -> Policy:
    with transaction(runtime().pool) as conn:
        source = reads.version_source(conn, sha256)
    if source is None:
        raise Invalid("Unknown policy version.", {field: ["Choose a stored version."]})
    return parse_policy(source, sha256[:12])


@bp.route("/policies/diff")
@needs(FINANCE)
def policy_diff() -> str:
    old_sha, new_sha = request.args.get("old", ""), request.args.get("new", "")
    old, new = _stored(old_sha, "old"), _stored(new_sha, "new")
    return page(
        "console/diff_page.html",
        "console/diff.html",
        title="Policy diff",
        me=user(),
        old=old,
        new=new,
        lines=diff(old, new),
    )


@bp.route("/policies/replay", methods=["POST"])
@needs(FINANCE)
def policy_replay() -> str | tuple[str, int]:
    """What a candidate would change, replayed over logged decisions (like /simulate)."""
    if not user().has(REPLAY_SCOPE):
        raise Forbidden(f"Replaying a candidate needs an API key with the `{REPLAY_SCOPE}` scope.")
    upload = request.files.get("candidate")
    source = upload.read(MAX_CANDIDATE + 1) if upload is not None else b""
    errors: dict[str, list[str]] = {}
    if not source:
        errors["candidate"] = ["Choose a policy file (YAML) to replay."]
    elif len(source) > MAX_CANDIDATE:
        errors["candidate"] = ["A policy file of at most 256 KiB."]
    start, end = _date("from", errors), _date("to", errors)
    report = None
    if not errors:
        try:
            candidate = parse_policy(source, upload.filename or "candidate" if upload else "")
        except InvalidPolicy as exc:
            errors = {"candidate": [str(p) for p in exc.problems]}
        else:
            with transaction(runtime().pool) as conn:
                report = replay(conn, candidate, start, end)
    html = page(
        "console/replay_page.html",
        "console/replay.html",
        title="Replay",
        me=user(),
        report=report,
        errors=errors,
    )
    return (html, 422) if errors else html


def _date(name: str, errors: dict[str, list[str]]) -> date | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = ["A date as YYYY-MM-DD."]
        return None
