"""Audit segments on disk: written atomically (temp, fsync, rename), read back as a stream.

The chain's own checks are pure (api.audit.archive); this module is their file edge, and
`dealdesk audit export|verify` (api.cli_audit) joins it to the database.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import multiprocessing
import os
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import psycopg

from api.audit.archive import (
    SEGMENT_RE,
    BadArchive,
    Manifest,
    Problem,
    Walk,
    check_link,
    check_manifest,
    database_follows,
    event_line,
    manifest_name,
    segment_name,
)
from api.audit.chain import GENESIS, Event
from api.storage.audit import archived_rows, next_event

CHUNK = 1 << 20
MAX_ROWS = 100_000
GZIP_LEVEL = 6


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    manifest: Manifest


def manifests(directory: Path) -> list[Segment]:
    """The archive's segments in id order, each by its manifest; BadArchive names a manifest
    that cannot be read, or a segment file without one."""
    found: list[Segment] = []
    names = sorted(p.name for p in directory.iterdir()) if directory.exists() else []
    for name in names:
        match = SEGMENT_RE.match(name)
        if match is None:
            continue
        first, last, kind = int(match[1]), int(match[2]), match[3]
        if kind == "jsonl.gz":
            if manifest_name(first, last) not in names:
                raise BadArchive(Problem(name, None, "has no manifest"))
            continue
        try:
            manifest = Manifest.parse((directory / name).read_bytes())
        except ValueError as exc:
            raise BadArchive(Problem(name, None, str(exc))) from None
        if (manifest.first_id, manifest.last_id) != (first, last):
            raise BadArchive(Problem(name, None, "ids differ from the file's name"))
        found.append(Segment(segment_name(first, last), manifest))
    return sorted(found, key=lambda s: s.manifest.first_id)


def drop_unfinished(directory: Path) -> list[str]:
    """Remove what an interrupted export left: temp files, and segments whose manifest was
    never written (they are rewritten from the database). Returns the names removed."""
    removed = []
    for path in sorted(directory.iterdir()):
        match = SEGMENT_RE.match(path.name)
        orphan = match is not None and match[3] == "jsonl.gz"
        unfinished = orphan and not (directory / _manifest_of(path.name)).exists()
        if unfinished or (path.name.startswith(".audit-") and path.name.endswith(".tmp")):
            removed.append(path.name)
            path.unlink()
    return removed


def _manifest_of(segment: str) -> str:
    return segment.removesuffix(".jsonl.gz") + ".manifest.json"


def write_segments(
    directory: Path, events: Iterable[Event], after: Manifest | None, max_rows: int = MAX_ROWS
) -> list[Manifest]:
    """Write `events` (oldest first, continuing `after`) as segments of at most `max_rows`,
    each streamed to its file as the events come: memory stays flat however many."""
    written: list[Manifest] = []
    stream = _linked(events, after)
    while (manifest := _write_segment(directory, itertools.islice(stream, max_rows))) is not None:
        written.append(manifest)
    return written


def _linked(events: Iterable[Event], after: Manifest | None) -> Iterator[Event]:
    """The events, after checking the first links to the archive's end (or the chain's start)."""
    expected = after.last_hash if after else GENESIS
    for number, event in enumerate(events):
        if number == 0 and event.prev_hash != expected:
            what = "the archive's last hash" if after else "the chain's start"
            reason = f"prev_hash is not {what}: the chain was altered; run audit verify"
            raise BadArchive(Problem("database", event.id, reason))
        yield event


def _write_segment(directory: Path, events: Iterator[Event]) -> Manifest | None:
    first = next(events, None)
    if first is None:
        return None
    last, rows = first, 0
    temp = directory / f".audit-{first.id}.tmp"
    with open(temp, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as out:
            for event in itertools.chain((first,), events):
                out.write(event_line(event.as_dict()))
                last, rows = event, rows + 1
        raw.flush()
        os.fsync(raw.fileno())
    manifest = Manifest(first.id, last.id, first.prev_hash, last.hash, rows, _sha256(temp))
    temp.rename(directory / segment_name(first.id, last.id))
    body = orjson.dumps(manifest.as_dict(), option=orjson.OPT_INDENT_2) + b"\n"
    _write_atomically(directory / manifest_name(first.id, last.id), body)
    _fsync_directory(directory)
    return manifest


def _write_atomically(path: Path, body: bytes) -> None:
    temp = path.with_name(f".audit-{path.name}.tmp")
    with open(temp, "wb") as out:
        out.write(body)
        out.flush()
        os.fsync(out.fileno())
    temp.rename(path)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Summary:
    segments: int
    events: int
    last_id: int
    last_hash: str


@dataclass(frozen=True, slots=True)
class Job:
    """One segment to check, from where the one before it ended (picklable: for a worker)."""

    directory: Path
    segment: Segment
    prev_last_id: int
    db_url: str | None


def verify_archive(directory: Path, db_url: str | None = None, workers: int = 1) -> Summary:
    """Check the links between manifests, then every segment (lines, chain, manifest, and
    with `db_url` the database's rows in its range) on `workers` processes, then the
    database's link to the archive's end. Raises BadArchive naming the first problem."""
    segments = manifests(directory)
    jobs, link_problem = _jobs(directory, segments, db_url)
    rows = 0
    for problem, count in _run(jobs, workers):
        if problem is not None:
            raise BadArchive(problem)
        rows += count
    if link_problem is not None:
        raise link_problem
    last = segments[-1].manifest if segments else None
    last_id, last_hash = (last.last_id, last.last_hash) if last else (0, GENESIS)
    if db_url is not None:
        with psycopg.connect(db_url) as conn:
            database_follows(next_event(conn, last_id), last_hash)
    return Summary(len(segments), rows, last_id, last_hash)


def _jobs(
    directory: Path, segments: list[Segment], db_url: str | None
) -> tuple[list[Job], BadArchive | None]:
    """A job per segment up to the first broken link (which is reported after them)."""
    jobs: list[Job] = []
    prev_last_id, prev_hash, previous = 0, GENESIS, None
    for segment in segments:
        try:
            check_link(segment.name, segment.manifest, prev_hash, prev_last_id, previous)
        except BadArchive as exc:
            return jobs, exc
        jobs.append(Job(directory, segment, prev_last_id, db_url))
        prev_last_id, prev_hash = segment.manifest.last_id, segment.manifest.last_hash
        previous = segment.name
    return jobs, None


def _run(jobs: list[Job], workers: int) -> Iterator[tuple[Problem | None, int]]:
    if workers <= 1 or len(jobs) <= 1:
        yield from map(check_segment, jobs)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context) as pool:
        yield from pool.map(check_segment, jobs)


def check_segment(job: Job) -> tuple[Problem | None, int]:
    """(the first problem or None, events read) for one segment."""
    name, manifest = job.segment.name, job.segment.manifest
    path = job.directory / name
    if not path.exists():
        return Problem(name, None, "is missing (its manifest is here)"), 0
    try:
        if job.db_url is None:
            return None, _walk(
                path, name, manifest, Walk(manifest.first_prev_hash, job.prev_last_id)
            )
        with psycopg.connect(job.db_url) as conn:
            rows = archived_rows(conn, job.prev_last_id, manifest.last_id)
            try:
                walk = Walk(manifest.first_prev_hash, job.prev_last_id, db=rows)
                return None, _walk(path, name, manifest, walk)
            finally:
                rows.close()
    except BadArchive as exc:
        return exc.problem, 0


def _walk(path: Path, name: str, manifest: Manifest, walk: Walk) -> int:
    digest = hashlib.sha256()
    with open(path, "rb") as raw:
        rows, first_id = walk.lines(name, gzip_lines(raw, digest, name))
    check_manifest(name, manifest, rows, first_id, walk, digest.hexdigest())
    return rows


def gzip_lines(raw: BinaryIO, digest: Any, name: str) -> Iterator[bytes]:
    """The lines of a gzip stream (members concatenated), hashing the compressed bytes."""
    inflate = zlib.decompressobj(wbits=31)
    rest, member_open = b"", False
    try:
        while chunk := raw.read(CHUNK):
            digest.update(chunk)
            while chunk:
                data = inflate.decompress(chunk)
                chunk, member_open = b"", True
                if inflate.eof:
                    chunk, member_open = inflate.unused_data, False
                    inflate = zlib.decompressobj(wbits=31)
                lines = (rest + data).split(b"\n")
                rest = lines.pop()
                yield from lines
    except zlib.error as exc:
        raise BadArchive(Problem(name, None, f"is not a valid gzip file ({exc})")) from None
    if member_open:
        raise BadArchive(Problem(name, None, "is truncated (its gzip stream does not end)"))
    if rest:
        yield rest
