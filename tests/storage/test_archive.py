"""`dealdesk decisions archive`: planted months become Parquet files equal to the rows, with
manifests whose sha256 is the file's; the months' partitions are gone after; an interrupted
run is finished by the next; replay --archive sees the archived rows."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from api.cli import main
from api.config import ConfigError, Settings
from api.dispatch import records
from api.policy.loader import PolicySet
from api.service import archive_files
from api.service.archive import _sources
from api.service.replay import replay
from api.storage import migrate as migration
from api.storage.partitions import add_months, create_month, month_name, parts
from tests.storage.planting import (
    in_month,
    months_back,
    plant,
    previous_release,
    scratch_database,
    this_month,
    v7_at,
)

COLUMNS = [
    "id", "created_at", "as_of", "deal_id", "requester_id", "owner_id", "kind",
    "policy_sha256", "outcome", "input", "output", "shadows",
]  # fmt: skip
DB_ROWS = (
    "SELECT id::text, created_at, as_of, deal_id, requester_id, owner_id, kind, policy_sha256,"
    " outcome, input::text, output::text, shadow::text FROM decisions"
)


@pytest.fixture()
def planted(server_url: str, shipped: PolicySet) -> Iterator[str]:
    """Two past months of version 7 decisions in their own partitions, one in this month."""
    with scratch_database(server_url, "archive") as url:
        migration.migrate(url)
        with psycopg.connect(url) as conn:
            for back in (2, 1):
                create_month(conn, months_back(back))
            rows = [
                (v7_at(in_month(months_back(b), d)), in_month(months_back(b), d), disc)
                for b, count in ((2, 3), (1, 4))
                for d, disc in zip(range(1, count + 1), ("4", "12", "55", "8"), strict=False)
            ]
            rows.append((v7_at(in_month(this_month(), 1)), in_month(this_month(), 1), "4"))
            plant(conn, shipped.active, rows)
        yield url


def month_rows(url: str, back: int) -> list[dict[str, object]]:
    month = months_back(back)
    with psycopg.connect(url) as conn:
        cur = conn.execute(
            DB_ROWS + " WHERE created_at >= %s AND created_at < %s ORDER BY id",
            (
                in_month(month, 1).replace(hour=0),
                in_month(months_back(back - 1), 1).replace(hour=0),
            ),
        )
        return [dict(zip(COLUMNS, row, strict=True)) for row in cur.fetchall()]


def archive(url: str, target: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("DATABASE_URL", url)
    return main(["decisions", "archive", "--before", f"{this_month():%Y-%m}", "--to", str(target)])


def check_month(target: Path, back: int, expected: list[dict[str, object]]) -> None:
    month = months_back(back)
    path = target / f"decisions-{month:%Y-%m}.parquet"
    manifest = json.loads((target / f"decisions-{month:%Y-%m}.manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (manifest["month"], manifest["rows"], manifest["schema_version"]) == (
        f"{month:%Y-%m}", len(expected), 1,
    )  # fmt: skip
    assert (manifest["min_id"], manifest["max_id"]) == (expected[0]["id"], expected[-1]["id"])
    assert sorted(manifest) == sorted(
        ["month", "rows", "min_id", "max_id", "sha256", "schema_version", "written_at"]
    )
    parquet = pq.ParquetFile(path)
    assert parquet.schema_arrow.names == COLUMNS
    assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"
    found = parquet.read().to_pylist()
    for row, want in zip(found, expected, strict=True):
        for name in ("input", "output", "shadows"):
            assert json.loads(row[name]) == json.loads(str(want[name]))  # the DB's JSON
        assert row == want


def test_archive_writes_checks_and_drops_whole_months(
    planted: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    expected = {back: month_rows(planted, back) for back in (2, 1)}
    assert [len(expected[2]), len(expected[1])] == [3, 4]
    assert archive(planted, tmp_path, monkeypatch) == 0
    assert capsys.readouterr().out == (
        f"{months_back(2):%Y-%m}: 3 rows archived (written) and dropped\n"
        f"{months_back(1):%Y-%m}: 4 rows archived (written) and dropped\n"
    )
    for back in (2, 1):
        check_month(tmp_path, back, expected[back])
    with psycopg.connect(planted) as conn:
        names = {p.name for p in parts(conn)}
        assert not names & {month_name(months_back(2)), month_name(months_back(1))}
        assert month_name(this_month()) in names
        assert conn.execute("SELECT count(*) FROM decisions").fetchone() == (1,)
        assert conn.execute("SELECT to_regclass(%s)", (month_name(months_back(1)),)).fetchone() == (
            None,
        )
    assert archive(planted, tmp_path, monkeypatch) == 0
    assert capsys.readouterr().out == f"nothing to archive before {this_month():%Y-%m}\n"


def test_an_interrupted_archive_is_finished_by_the_next_run(
    planted: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    expected = {back: month_rows(planted, back) for back in (2, 1)}
    with psycopg.connect(
        planted, autocommit=True
    ) as conn:  # stopped after the file, before the drop
        archive_files.write(tmp_path, months_back(2), _sources(conn, months_back(2)), 1)
    stale = tmp_path / f"decisions-{months_back(1):%Y-%m}.parquet.4242.tmp"
    stale.write_bytes(b"half a file")  # and one stopped halfway through its file
    kept = (tmp_path / f"decisions-{months_back(2):%Y-%m}.parquet").read_bytes()
    assert archive(planted, tmp_path, monkeypatch) == 0
    assert capsys.readouterr().out == (
        f"{months_back(2):%Y-%m}: 3 rows archived (kept from an earlier run) and dropped\n"
        f"{months_back(1):%Y-%m}: 4 rows archived (written) and dropped\n"
    )
    assert (tmp_path / f"decisions-{months_back(2):%Y-%m}.parquet").read_bytes() == kept
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []
    for back in (2, 1):
        check_month(tmp_path, back, expected[back])


def test_a_pending_detach_is_finalized(
    planted: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = month_name(months_back(2))
    with psycopg.connect(planted, autocommit=True) as conn:
        archive_files.write(tmp_path, months_back(2), _sources(conn, months_back(2)), 1)
    with psycopg.connect(planted) as reader, psycopg.connect(planted, autocommit=True) as conn:
        reader.execute("SELECT count(*) FROM decisions")  # an open transaction stalls phase 2
        conn.execute("SET statement_timeout = 500")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute(f"ALTER TABLE decisions DETACH PARTITION {name} CONCURRENTLY")
        reader.rollback()
        pending = conn.execute(
            "SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = %s::regclass", (name,)
        ).fetchone()
        assert pending == (True,)
    assert archive(planted, tmp_path, monkeypatch) == 0
    with psycopg.connect(planted) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM decisions").fetchone() == (1,)


def test_replay_with_the_archive_sees_archived_months(
    planted: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shipped: PolicySet
) -> None:
    assert archive(planted, tmp_path, monkeypatch) == 0
    with psycopg.connect(planted) as conn:
        assert replay(conn, shipped.active, None, None)["evaluated"] == 1
        full = replay(conn, shipped.active, None, None, archive=tmp_path)
        assert (full["evaluated"], full["changed"]) == (8, 0)
        back = months_back(1)
        window = replay(conn, shipped.active, back, back.replace(day=2), archive=tmp_path)
        assert window["evaluated"] == 2  # days 1 and 2 of that month
    monkeypatch.setenv("DATABASE_URL", planted)
    candidate = Path(__file__).resolve().parents[2] / "policies" / "deal-authority.yaml"
    assert main(["policy", "replay", str(candidate), "--archive", str(tmp_path)]) == 0


def test_an_upgraded_database_archives_its_legacy_rows(
    server_url: str, shipped: PolicySet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scratch_database(server_url, "legacy") as url:
        previous_release(url)
        month = months_back(3)
        rows = [(uuid.uuid4(), in_month(month, d), "4") for d in (3, 4, 5)]
        rows.append((v7_at(in_month(months_back(1), 2)), in_month(months_back(1), 2), "8"))
        with psycopg.connect(url) as conn:
            plant(conn, shipped.active, rows)
        migration.migrate(url)
        expected = month_rows(url, 3)
        assert archive(url, tmp_path, monkeypatch) == 0
        check_month(tmp_path, 3, expected)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM decisions").fetchone() == (0,)
            full = replay(conn, shipped.active, None, None, archive=tmp_path)
            assert full["evaluated"] == 4


def test_the_dispatcher_job_archives_past_retention_and_makes_months(
    planted: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=planted, decision_retention_months=1, archive_dir=tmp_path)
    with psycopg.connect(planted) as conn:
        conn.execute(f"DROP TABLE {month_name(add_months(this_month(), 3))}")
    stop = threading.Event()
    thread = records.start(settings, planted, stop)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / f"decisions-{months_back(2):%Y-%m}.manifest.json").exists():
            assert time.monotonic() < deadline, "the job did not archive in 30 s"
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(10)
    with psycopg.connect(planted) as conn:
        names = {p.name for p in parts(conn)}
    assert month_name(months_back(2)) not in names  # past retention: archived and dropped
    assert month_name(months_back(1)) in names  # within it: kept
    assert month_name(add_months(this_month(), 3)) in names  # made again
    assert not (tmp_path / f"decisions-{months_back(1):%Y-%m}.parquet").exists()


def test_retention_needs_an_archive_dir() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"DEALDESK_DECISION_RETENTION_MONTHS": "24"})
    assert "needs DEALDESK_ARCHIVE_DIR" in str(caught.value)
    chosen = Settings.from_env(
        {"DEALDESK_DECISION_RETENTION_MONTHS": "24", "DEALDESK_ARCHIVE_DIR": "/srv/a"}
    )
    assert (chosen.decision_retention_months, chosen.archive_dir) == (24, Path("/srv/a"))


def test_archive_refuses_the_current_month(
    planted: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", planted)
    after = add_months(this_month(), 1)
    assert main(["decisions", "archive", "--before", f"{after:%Y-%m}", "--to", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        "dealdesk: Only whole months can be archived.\n"
        f"  before: must not be after the current month ({this_month():%Y-%m})\n"
    )
    with pytest.raises(SystemExit) as exited:
        main(["decisions", "archive", "--before", "2026-13", "--to", str(tmp_path)])
    assert exited.value.code == 2
    assert "'2026-13' is not a month in YYYY-MM form" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_replay_refuses_a_tampered_archive(
    planted: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert archive(planted, tmp_path, monkeypatch) == 0
    path = tmp_path / f"decisions-{months_back(1):%Y-%m}.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    capsys.readouterr()
    candidate = Path(__file__).resolve().parents[2] / "policies" / "deal-authority.yaml"
    assert main(["policy", "replay", str(candidate), "--archive", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"dealdesk: {path.name}: its sha256 is not the manifest's\n"
