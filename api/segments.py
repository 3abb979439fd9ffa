"""Audit segments on disk: written atomically (temp, fsync, rename), read back as a stream.

The chain's own checks are pure (api.audit.archive); this module is their file edge, and
`dealdesk audit export|verify` (api.cli_audit) joins it to the database.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from api.audit.archive import (
    SEGMENT_RE,
    BadArchive,
    Manifest,
    Problem,
    Walk,
    check_link,
    check_manifest,
    event_line,
    manifest_name,
    segment_name,
)
from api.audit.chain import GENESIS, Event

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
    """Write `events` (oldest first, continuing `after`) as segments of at most `max_rows`."""
    written: list[Manifest] = []
    prev_hash = after.last_hash if after else GENESIS
    batch: list[Event] = []
    for event in events:
        if event.prev_hash != prev_hash and not batch and not written:
            what = "the archive's last hash" if after else "the chain's start"
            reason = f"prev_hash is not {what}: the chain was altered; run audit verify"
            raise BadArchive(Problem("database", event.id, reason))
        batch.append(event)
        prev_hash = event.hash
        if len(batch) == max_rows:
            written.append(_write_segment(directory, batch))
            batch = []
    if batch:
        written.append(_write_segment(directory, batch))
    return written


def _write_segment(directory: Path, events: list[Event]) -> Manifest:
    first, last = events[0], events[-1]
    temp = directory / f".audit-{first.id}.tmp"
    with open(temp, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as out:
            for event in events:
                out.write(event_line(event.as_dict()))
        raw.flush()
        os.fsync(raw.fileno())
    manifest = Manifest(first.id, last.id, first.prev_hash, last.hash, len(events), _sha256(temp))
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


def verify_archive(directory: Path, walk: Walk) -> list[Segment]:
    """Check every segment in order (links, lines, manifests), then the database's link to
    the end. Raises BadArchive at the first problem; returns the segments checked."""
    segments = manifests(directory)
    previous: str | None = None
    for segment in segments:
        path = directory / segment.name
        if not path.exists():
            raise BadArchive(Problem(segment.name, None, "is missing (its manifest is here)"))
        check_link(segment.name, segment.manifest, walk, previous)
        digest = hashlib.sha256()
        with open(path, "rb") as raw:
            rows, first_id = walk.lines(segment.name, gzip_lines(raw, digest, segment.name))
        check_manifest(segment.name, segment.manifest, rows, first_id, walk, digest.hexdigest())
        previous = segment.name
    walk.database_follows()
    return segments


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
