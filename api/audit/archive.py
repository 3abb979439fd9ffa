"""Exported segments of the chain: their names, manifests, and the checks verify makes.

A segment holds events `first..last` as JSON lines, exactly as GET /v1/audit/events gives
them. Its manifest names the hash before it and its last hash, so segments link like the
events inside them: a missing or edited segment breaks a link. No I/O here: the caller
reads the files (and the database) and feeds lines and rows in.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from api.audit.chain import GENESIS, ChainRow, canonical

SEGMENT_RE = re.compile(r"^audit-(\d+)-(\d+)\.(jsonl\.gz|manifest\.json)$")
MANIFEST_FIELDS = ("first_id", "last_id", "first_prev_hash", "last_hash", "rows", "sha256")


def segment_name(first_id: int, last_id: int) -> str:
    return f"audit-{first_id}-{last_id}.jsonl.gz"


def manifest_name(first_id: int, last_id: int) -> str:
    return f"audit-{first_id}-{last_id}.manifest.json"


def event_line(event: Mapping[str, Any]) -> bytes:
    """One segment line: the bytes GET /v1/audit/events writes for this event (api.http.replies)."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


@dataclass(frozen=True, slots=True)
class Manifest:
    first_id: int
    last_id: int
    first_prev_hash: str
    last_hash: str
    rows: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in MANIFEST_FIELDS}

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        """The manifest in `data`; ValueError naming what is wrong when it is not one."""
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise ValueError("is not JSON") from None
        if not isinstance(body, dict) or set(body) != set(MANIFEST_FIELDS):
            raise ValueError(f"must hold exactly {', '.join(MANIFEST_FIELDS)}")
        ints = [body[k] for k in ("first_id", "last_id", "rows")]
        texts = [body[k] for k in ("first_prev_hash", "last_hash", "sha256")]
        if not all(type(v) is int for v in ints) or not all(isinstance(v, str) for v in texts):
            raise ValueError("has a field of the wrong type")
        return cls(**body)


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing wrong: the file it is in and, when it is one event, that event."""

    file: str
    event_id: int | None
    reason: str

    def __str__(self) -> str:
        event = f" event {self.event_id}:" if self.event_id is not None else ""
        return f"{self.file}:{event} {self.reason}"


class BadArchive(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(slots=True)
class Walk:
    """The chain through the archive so far: fed every line in order, it raises BadArchive at
    the first event that does not follow (edited, deleted, reordered) and counts the rest.

    Given `db` (the database's events oldest first, as chain_rows gives them, from just after
    the previous segment), every archived event must also be the database's next row, field
    for field. One Walk per segment, started from its manifest's first_prev_hash and the
    previous segment's last id: segments are checked independently (and in parallel)."""

    prev_hash: str = GENESIS
    last_id: int = 0
    db: Iterator[ChainRow] | None = None
    events: int = 0

    def lines(self, file: str, lines: Iterable[bytes]) -> tuple[int, int]:
        """Check one segment's lines; returns (rows, first_id) for the manifest check."""
        rows, first_id = 0, 0
        prev_hash, last_id, db = self.prev_hash, self.last_id, self.db
        for line in lines:
            event = _event(file, rows + 1, line)
            event_id = event["id"]
            if rows == 0:
                first_id = event_id
            rows += 1
            if event_id <= last_id:
                raise BadArchive(Problem(file, event_id, f"id does not follow {last_id}"))
            if event["prev_hash"] != prev_hash:
                raise BadArchive(
                    Problem(file, event_id, "prev_hash is not the previous event's hash")
                )
            digest = hashlib.sha256(prev_hash.encode())
            digest.update(canonical(event_id, event["at"], event["type"], event["actor"],
                                    event["subject"], event["payload"]))  # fmt: skip
            prev_hash = event["hash"]
            if digest.hexdigest() != prev_hash:
                raise BadArchive(Problem(file, event_id, "hash does not match its content"))
            if db is not None:
                _same_in_database(next(db, None), event)
            last_id = event_id
        self.prev_hash, self.last_id, self.events = prev_hash, last_id, self.events + rows
        return rows, first_id


DATABASE = "database"
NOT_LINKED = "prev_hash is not the archive's last hash: the chain was altered after the export"


def database_follows(next_event: tuple[int, str] | None, last_hash: str) -> None:
    """After the last segment: the database's next event (id, prev_hash), if any, must link to
    the archive's end."""
    if next_event is not None and next_event[1] != last_hash:
        raise BadArchive(Problem(DATABASE, next_event[0], NOT_LINKED))


def _same_in_database(row: ChainRow | None, event: Mapping[str, Any]) -> None:
    if row is None:
        reason = "is archived but no longer in the database (deleted)"
        raise BadArchive(Problem(DATABASE, event["id"], reason))
    if row[0] < event["id"]:
        raise BadArchive(Problem(DATABASE, row[0], "is in the database but not in the archive"))
    if row[0] > event["id"]:
        reason = "is archived but no longer in the database (deleted)"
        raise BadArchive(Problem(DATABASE, event["id"], reason))
    if not same_event(row, event):
        raise BadArchive(Problem(DATABASE, row[0], "differs from the archived event (altered)"))


KEYS = ("id", "at", "type", "actor", "subject", "payload", "prev_hash", "hash")


def _event(file: str, number: int, line: bytes) -> dict[str, Any]:
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise BadArchive(Problem(file, None, f"line {number} is not JSON")) from None
    if not isinstance(event, dict) or tuple(event) != KEYS or type(event["id"]) is not int:
        raise BadArchive(Problem(file, None, f"line {number} is not an audit event"))
    return event


def check_manifest(
    file: str, manifest: Manifest, rows: int, first_id: int, walk: Walk, sha256: str
) -> None:
    """After a segment's lines: its manifest must describe exactly what was read."""
    if manifest.sha256 != sha256:
        raise BadArchive(Problem(file, None, "sha256 differs from the manifest's"))
    seen = (rows, first_id, walk.last_id, walk.prev_hash)
    told = (manifest.rows, manifest.first_id, manifest.last_id, manifest.last_hash)
    if seen != told:
        raise BadArchive(Problem(file, None, f"holds (rows, first, last, hash) {seen}, "
                                             f"its manifest says {told}"))  # fmt: skip


def check_link(
    file: str, manifest: Manifest, prev_hash: str, prev_last_id: int, previous: str | None
) -> None:
    """Before a segment: it must start where the one before it ended."""
    if manifest.first_prev_hash == prev_hash and manifest.first_id > prev_last_id:
        return
    if previous is None:
        reason = "the first segment does not start the chain: an earlier segment is missing"
    else:
        between = (
            f" (ids {prev_last_id + 1}..{manifest.first_id - 1})"
            if manifest.first_id > prev_last_id + 1
            else ""
        )
        reason = (
            f"does not follow {previous} (its first_prev_hash is not that segment's "
            f"last_hash): a segment between them{between} is missing or altered"
        )
    raise BadArchive(Problem(file, None, reason))


def pg_time(at: str) -> str:
    """An event's `at` (`2025-01-01T00:00:00.001000Z`) as PostgreSQL's ISO output of a
    timestamptz in UTC gives it (`2025-01-01 00:00:00.001+00`): trailing zeros dropped."""
    fraction = at[20:26].rstrip("0")
    return f"{at[:10]} {at[11:19]}{'.' + fraction if fraction else ''}+00"


def same_event(event: ChainRow, archived: Mapping[str, Any]) -> bool:
    """A database row (as archived_rows gives it) equals the archived event, field by field."""
    event_id, at, type_, actor, subject, payload, prev_hash, digest = event
    return (
        event_id == archived["id"]
        and at == pg_time(archived["at"])
        and (type_, actor, subject) == (archived["type"], archived["actor"], archived["subject"])
        and (prev_hash, digest) == (archived["prev_hash"], archived["hash"])
        and orjson.loads(payload) == archived["payload"]
    )
