"""`dealdesk audit verify --archive DIR` over 1,000,000 exported events (target >= 100,000/s).

Builds the chain directly (no requests): the same events go to segment files in
`.dealdesk/bench-audit-archive/` (written by the export's own writer) and, by COPY, to a
scratch database `dealdesk_bench_audit`; both are kept between runs. Then times the real
command twice, as a subprocess: against the files alone (`--no-database`, what an auditor
with only the copies runs) and with the link to the database (every archived event compared
with its row), each with one process and one per CPU; then `audit export` of the whole
database (time, peak memory; BENCH_AUDIT_EXPORT=0 skips it). Run with
`python bench/audit_verify.py`; BENCH_EVENTS sets the size.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.audit.chain import GENESIS, Event, chain_hash  # noqa: E402
from api.segments import manifests, write_segments  # noqa: E402
from api.storage.database import init_database, start_embedded  # noqa: E402

EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))
ARCHIVE = ROOT / ".dealdesk" / "bench-audit-archive"
DEALDESK = str(Path(sys.executable).parent / "dealdesk")
START = datetime(2025, 1, 1, tzinfo=UTC)


def chain(n: int) -> Iterator[Event]:
    prev = GENESIS
    for i in range(1, n + 1):
        at = START + timedelta(milliseconds=i, microseconds=i % 997)
        payload = {"request_id": f"r-{i}", "after": "approved", "version": 2, "note": "é"}
        subject = f"request:r-{i}"
        digest = chain_hash(prev, i, at, "request.approve", "sd.patel", subject, payload)
        yield Event(i, at, "request.approve", "sd.patel", subject, payload, prev, digest)
        prev = digest


def scratch_url() -> str:
    server = os.environ.get("DATABASE_URL") or start_embedded(ROOT / ".dealdesk")
    with psycopg.connect(server, autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'dealdesk_bench_audit'"
        ).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE dealdesk_bench_audit"))
    params = conninfo_to_dict(server)
    params["dbname"] = "dealdesk_bench_audit"
    url = make_conninfo(**params)
    init_database(url)
    return url


def fill_database(url: str) -> None:
    with psycopg.connect(url) as conn:
        have = conn.execute("SELECT count(*) FROM audit_events").fetchone()
        if have is not None and have[0] == EVENTS:
            return
        print(f"writing {EVENTS:,} chained audit events to the database ...", flush=True)
        conn.execute("SET session_replication_role = replica")
        conn.execute("TRUNCATE audit_events")
        copy_sql = "COPY audit_events (id, at, type, actor, subject, payload, prev_hash, hash) "
        with conn.cursor().copy(copy_sql + "FROM STDIN") as copy:
            for e in chain(EVENTS):
                row = (e.id, e.at, e.type, e.actor, e.subject, json.dumps(e.payload))
                copy.write_row((*row, e.prev_hash, e.hash))
        conn.execute("SELECT setval('audit_events_id_seq', %s)", (EVENTS,))


def fill_archive() -> None:
    done = manifests(ARCHIVE) if ARCHIVE.exists() else []
    if done and done[-1].manifest.last_id == EVENTS:
        return
    shutil.rmtree(ARCHIVE, ignore_errors=True)
    ARCHIVE.mkdir(parents=True)
    print(f"writing {EVENTS:,} events as segments to {ARCHIVE} ...", flush=True)
    started = time.monotonic()
    write_segments(ARCHIVE, chain(EVENTS), None)
    print(f"  written in {time.monotonic() - started:.1f} s", flush=True)


def timed(args: list[str], url: str) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the command and its workers, its output)."""
    env = {**os.environ, "DATABASE_URL": url}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        [DEALDESK, "audit", "verify", "--archive", str(ARCHIVE), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode != 0:
        raise SystemExit(f"verify failed: {done.stdout}{done.stderr}")
    return seconds, cpu, done.stdout.strip()


def export_once(url: str) -> None:
    """`audit export` of the whole database into a fresh directory: time and peak memory."""
    target = ROOT / ".dealdesk" / "bench-audit-export"
    shutil.rmtree(target, ignore_errors=True)
    env = {**os.environ, "DATABASE_URL": url}
    started = time.monotonic()
    done = subprocess.run(
        [DEALDESK, "audit", "export", "--to", str(target)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if done.returncode != 0:
        raise SystemExit(f"export failed: {done.stdout}{done.stderr}")
    print(
        f"audit export: {EVENTS:,} events in {seconds:.1f} s = {EVENTS / seconds:,.0f} events/s, "
        f"peak RSS {peak_mb:.0f} MB"
    )
    shutil.rmtree(target, ignore_errors=True)


def main() -> int:
    url = scratch_url()
    fill_archive()
    fill_database(url)
    size = sum(p.stat().st_size for p in ARCHIVE.iterdir())
    print(f"archive: {len(manifests(ARCHIVE))} segments, {size / 1e6:.1f} MB gzip")
    if os.environ.get("BENCH_AUDIT_EXPORT", "1") == "1":
        export_once(url)  # first: its peak memory is then the only child's so far
    jobs = str(os.cpu_count() or 1)
    for label, args in (
        ("files only, 1 process", ["--no-database", "--jobs", "1"]),
        (f"files only, {jobs} processes", ["--no-database", "--jobs", jobs]),
        ("with database, 1 process", ["--jobs", "1"]),
        (f"with database, {jobs} processes", ["--jobs", jobs]),
    ):
        seconds, cpu, _ = timed(args, url)
        print(
            f"audit verify --archive ({label}): {EVENTS:,} events in {seconds:.2f} s wall "
            f"(process start included) = {EVENTS / seconds:,.0f} events/s; "
            f"{cpu:.2f} CPU-s in dealdesk = {EVENTS / cpu:,.0f} events per CPU-second"
        )
    print(f"load average while measured: {os.getloadavg()[0]:.1f} on {jobs} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
