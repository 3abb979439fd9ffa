"""Archive files of the decision log: `decisions-YYYY-MM.parquet` (zstd, one row group per
batch, JSON as text) and `decisions-YYYY-MM.manifest.json` beside it.

Both are written to a temporary name, fsynced and renamed, the directory fsynced after, so a
crash leaves either the old state or the new one; the manifest is written after the file it
describes. The sha256 is of the bytes on disk; a reader checks it before trusting a file.
jsonb is archived in PostgreSQL's normalised text form (keys reordered, spaces added), not
the bytes the client sent.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("as_of", pa.date32()),
        ("deal_id", pa.string()),
        ("requester_id", pa.string()),
        ("owner_id", pa.string()),
        ("kind", pa.string()),
        ("policy_sha256", pa.string()),
        ("outcome", pa.string()),
        ("input", pa.string()),
        ("output", pa.string()),
        ("shadows", pa.string()),
    ]
)


class ArchiveError(Exception):
    """An archive file does not match its manifest or the database."""


@dataclass(frozen=True, slots=True)
class Manifest:
    month: str
    rows: int
    min_id: str | None
    max_id: str | None
    sha256: str
    schema_version: int
    written_at: str


def data_path(directory: Path, month: date) -> Path:
    return directory / f"decisions-{month:%Y-%m}.parquet"


def manifest_path(directory: Path, month: date) -> Path:
    return directory / f"decisions-{month:%Y-%m}.manifest.json"


def write(
    directory: Path, month: date, batches: Iterator[Sequence[Sequence[Any]]], version: int
) -> Manifest:
    """Write the month's file from batches of rows (in SCHEMA's column order), then its
    manifest; returns the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob(f"decisions-{month:%Y-%m}.*.tmp"):
        stale.unlink()  # an interrupted run's (the caller holds the archive lock)
    final = data_path(directory, month)
    temp = final.with_name(f"{final.name}.{os.getpid()}.tmp")  # a crashed run's is left aside
    rows, low, high = 0, None, None
    with open(temp, "wb") as handle:
        writer = pq.ParquetWriter(handle, SCHEMA, compression="zstd")
        for batch in batches:
            columns = list(zip(*batch, strict=True))
            writer.write_table(pa.Table.from_arrays(
                [pa.array(c, f.type) for c, f in zip(columns, SCHEMA, strict=True)],
                schema=SCHEMA,
            ))  # fmt: skip
            rows += len(batch)
            low = min(filter(None, (low, min(columns[0]))))
            high = max(filter(None, (high, max(columns[0]))))
            del columns
        writer.close()
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, final)
    _fsync_dir(directory)
    manifest = Manifest(
        f"{month:%Y-%m}", rows, low, high, file_sha256(final), version,
        datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )  # fmt: skip
    _write_atomically(manifest_path(directory, month), json.dumps(asdict(manifest), indent=2))
    _fsync_dir(directory)
    return manifest


def read_manifest(directory: Path, month: date) -> Manifest | None:
    path = manifest_path(directory, month)
    try:
        return Manifest(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def verify(directory: Path, manifest: Manifest) -> None:
    """Read the file back: its sha256, row count and id range must be the manifest's."""
    path = directory / f"decisions-{manifest.month}.parquet"
    if not path.exists() or file_sha256(path) != manifest.sha256:
        raise ArchiveError(f"{path.name}: its sha256 is not the manifest's")
    rows, low, high = 0, None, None
    for batch in pq.ParquetFile(path).iter_batches(columns=["id"]):
        ids = batch.column(0).to_pylist()
        rows += len(ids)
        if ids:
            low, high = min(filter(None, (low, *ids))), max(filter(None, (high, *ids)))
    if (rows, low, high) != (manifest.rows, manifest.min_id, manifest.max_id):
        raise ArchiveError(
            f"{path.name}: {rows} rows from {low} to {high}, the manifest says "
            f"{manifest.rows} from {manifest.min_id} to {manifest.max_id}"
        )


def manifests(directory: Path) -> list[Manifest]:
    found = []
    for path in sorted(directory.glob("decisions-*.manifest.json")):
        manifest = Manifest(**json.loads(path.read_text()))
        verify(directory, manifest)
        found.append(manifest)
    return found


def read_rows(directory: Path, manifest: Manifest, columns: list[str]) -> Iterator[dict[str, Any]]:
    path = directory / f"decisions-{manifest.month}.parquet"
    for batch in pq.ParquetFile(path).iter_batches(columns=columns, batch_size=10_000):
        yield from batch.to_pylist()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(temp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def archived(
    conn: Any, directory: Path, start: date | None, end: date | None
) -> Iterator[tuple[Any, ...]]:
    """(id, as_of, input, output) of the archived decisions in the window, oldest month first,
    skipping a month the database still holds (an archive interrupted before its drop)."""
    from api.storage.archives import months_in_database

    held = months_in_database(conn)
    low = None if start is None else datetime.combine(start, time(), UTC)
    high = None if end is None else datetime.combine(end, time(), UTC) + timedelta(days=1)
    for manifest in manifests(directory):
        month = date.fromisoformat(f"{manifest.month}-01")
        if month in held:
            continue
        for row in read_rows(directory, manifest, ["id", "created_at", "as_of", "input", "output"]):
            at = row["created_at"]
            if (low is None or at >= low) and (high is None or at < high):
                yield row["id"], row["as_of"], json.loads(row["input"]), json.loads(row["output"])
