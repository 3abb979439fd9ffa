"""Archive files of the decision log: `decisions-YYYY-MM.parquet` (zstd, row groups of
GROUP_ROWS, JSON as text) and `decisions-YYYY-MM.manifest.json` beside it.

Both are written to a temporary name, fsynced and renamed, the directory fsynced after, so a
crash leaves either the old state or the new one; the manifest is written after the file it
describes. The sha256 is of the bytes on disk; a reader checks it before trusting a file.
jsonb is archived in PostgreSQL's normalised text form (keys reordered, spaces added), not
the bytes the client sent.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from api.errors import DealdeskError

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


CSV_TYPES = {
    **{f.name: f.type for f in SCHEMA},
    "created_at": pa.int64(),  # microseconds since the epoch, cast after parsing
}
SMALL = ["as_of", "requester_id", "owner_id", "kind", "policy_sha256", "outcome"]
BLOCK_BYTES = 1 << 20  # CSV parsed at a time
GROUP_ROWS = 5_000  # rows in a row group: about 15 MB of decisions


class ArchiveError(DealdeskError):
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
    directory: Path, month: date, sources: Iterator[Iterator[bytes]], version: int
) -> Manifest:
    """Write the month's file from CSV streams (one per source, SCHEMA's columns, created_at
    in microseconds), parsed by Arrow without a Python object per value; then its manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob(f"decisions-{month:%Y-%m}.*.tmp"):
        stale.unlink()  # an interrupted run's (the caller holds the archive lock)
    final = data_path(directory, month)
    temp = final.with_name(f"{final.name}.{os.getpid()}.tmp")
    rows, low, high = 0, None, None
    with open(temp, "wb") as handle:
        writer = pq.ParquetWriter(
            handle,
            SCHEMA,
            compression="zstd",
            use_dictionary=SMALL,  # not the JSON: its values hardly repeat, and a dictionary
            write_statistics=[*SMALL, "id", "created_at"],  # of them would hold a block twice
        )
        for source in sources:
            for batch in _parsed(source):
                writer.write_table(batch)
                bounds = pc.min_max(batch.column(0)).as_py()
                rows += batch.num_rows
                low = min(filter(None, (low, bounds["min"])), default=None)
                high = max(filter(None, (high, bounds["max"])), default=None)
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


def _parsed(chunks: Iterator[bytes]) -> Iterator[pa.Table]:
    """Tables of about GROUP_ROWS rows (a Parquet row group each), parsed a BLOCK_BYTES block
    at a time: small reads keep Python's own allocations small (large ones, freed and made
    again, grew the heap where Arrow's pool did not)."""
    first = next(chunks, b"")
    if not first:
        return  # no rows here (Arrow refuses an empty CSV)
    reader = pacsv.open_csv(
        pa.PythonFile(_ChunkReader(itertools.chain([first], chunks)), mode="r"),
        read_options=pacsv.ReadOptions(
            column_names=SCHEMA.names, block_size=BLOCK_BYTES, use_threads=False
        ),
        parse_options=pacsv.ParseOptions(newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(column_types=CSV_TYPES),
    )
    held: list[pa.Table] = []
    for batch in reader:
        columns = batch.columns
        columns[1] = columns[1].cast(SCHEMA.field("created_at").type)
        held.append(pa.Table.from_arrays(columns, schema=SCHEMA))
        if sum(t.num_rows for t in held) >= GROUP_ROWS:
            yield pa.concat_tables(held).combine_chunks()
            held = []
    if held:
        yield pa.concat_tables(held).combine_chunks()


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (COPY's)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks, self._left = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill the buffer whole (Arrow takes each read as a block: COPY sends a row at a time)."""
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            if not self._left:
                self._left = next(self._chunks, b"")
                if not self._left:
                    break
            size = min(len(view) - filled, len(self._left))
            view[filled : filled + size] = self._left[:size]
            self._left = self._left[size:]
            filled += size
        return filled


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
