"""`dealdesk audit export --to DIR` and `audit verify --archive DIR` on the real database:
segments equal to the API's events, incremental exports, and every tamper named."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from api.cli import main
from api.storage.audit import append_event


def append(db: str, n: int, start: int = 0) -> None:
    with psycopg.connect(db) as conn:
        for i in range(start, start + n):
            payload = {
                "i": i,
                "note": 'é😀\n"q"',
                "amount": "12.50",
                "nested": {"b": 1, "a": [1.5]},
            }
            append_event(conn, "test.event", "tester", f"deal:{i}", payload)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().out


@pytest.fixture()
def archive(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABASE_URL", db)
    return tmp_path / "archive"


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def segment_lines(path: Path) -> list[bytes]:
    return gzip.decompress(path.read_bytes()).splitlines(keepends=True)


def test_export_then_verify_then_export_only_new_events(
    db: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    append(db, 25)
    code, out = run(["audit", "export", "--to", str(archive), "--max-rows", "10"], capsys)
    assert (code, out) == (0, f"exported 25 events (ids 1..25) in 3 segments to {archive}\n")
    assert names(archive) == [
        "audit-1-10.jsonl.gz", "audit-1-10.manifest.json",
        "audit-11-20.jsonl.gz", "audit-11-20.manifest.json",
        "audit-21-25.jsonl.gz", "audit-21-25.manifest.json",
    ]  # fmt: skip
    manifest = json.loads((archive / "audit-11-20.manifest.json").read_bytes())
    first = json.loads(segment_lines(archive / "audit-11-20.jsonl.gz")[0])
    last = json.loads(segment_lines(archive / "audit-11-20.jsonl.gz")[-1])
    import hashlib

    assert manifest == {
        "first_id": 11,
        "last_id": 20,
        "first_prev_hash": first["prev_hash"],
        "last_hash": last["hash"],
        "rows": 10,
        "sha256": hashlib.sha256((archive / "audit-11-20.jsonl.gz").read_bytes()).hexdigest(),
    }
    code, out = run(["audit", "verify", "--archive", str(archive)], capsys)
    assert code == 0
    with psycopg.connect(db) as conn:
        head = conn.execute("SELECT hash FROM audit_events WHERE id = 25").fetchone()
    assert head is not None
    assert out.startswith(
        f"audit archive OK: 3 segments, 25 events (last id 25, last hash {head[0]}), "
        "linked to the database; "
    )
    code, out = run(["audit", "export", "--to", str(archive)], capsys)
    assert (code, out) == (0, "nothing new to export (last exported id 25)\n")

    append(db, 4, start=25)
    code, out = run(["audit", "export", "--to", str(archive)], capsys)
    assert (code, out) == (0, f"exported 4 events (ids 26..29) in 1 segment to {archive}\n")
    assert [len(segment_lines(archive / n)) for n in names(archive) if n.endswith(".gz")] == [
        10, 10, 5, 4
    ]  # fmt: skip
    assert run(["audit", "verify", "--archive", str(archive)], capsys)[1].startswith(
        "audit archive OK: 4 segments, 29 events (last id 29"
    )
    # the database moved on after the export: its next event still links to the archive
    append(db, 1, start=29)
    assert run(["audit", "verify", "--archive", str(archive)], capsys)[0] == 0
    # and the files alone verify without a database
    assert run(["audit", "verify", "--archive", str(archive), "--no-database"], capsys)[
        1
    ].startswith("audit archive OK: 4 segments, 29 events (last id 29")


def test_segment_lines_are_the_api_events_byte_for_byte(
    db: str, archive: Path, client: FlaskClient, admin: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    append(db, 3)
    client.put(
        "/v1/people/am.jones", json={"name": "Jo é", "tier": "account_manager"}, headers=admin
    )
    assert run(["audit", "export", "--to", str(archive)], capsys)[0] == 0
    body = client.get("/v1/audit/events?limit=500", headers=admin).get_data()
    events: list[dict[str, Any]] = json.loads(body)["items"]
    assert [e["type"] for e in events] == ["key.created"] + ["test.event"] * 3 + ["person.created"]
    [segment] = [n for n in names(archive) if n.endswith(".gz")]
    assert segment == "audit-1-5.jsonl.gz"
    lines = segment_lines(archive / segment)
    # each line is the very bytes the API wrote for that item inside its page
    expected = [
        json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for e in events
    ]
    assert lines == expected
    assert b",".join(line.rstrip(b"\n") for line in lines) in body


def tamper_line(path: Path, event_id: int, payload: dict[str, Any]) -> None:
    lines = segment_lines(path)
    edited = []
    for line in lines:
        event = json.loads(line)
        if event["id"] == event_id:
            event["payload"] = payload
            line = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        edited.append(line)
    path.write_bytes(gzip.compress(b"".join(edited)))


def exported(db: str, archive: Path, capsys: pytest.CaptureFixture[str], n: int = 30) -> None:
    append(db, n)
    assert run(["audit", "export", "--to", str(archive), "--max-rows", "10"], capsys)[0] == 0


def test_a_tampered_segment_is_named_with_its_event(
    db: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported(db, archive, capsys)
    tamper_line(archive / "audit-11-20.jsonl.gz", 14, {"i": 13, "amount": "1.00"})
    code, out = run(["audit", "verify", "--archive", str(archive)], capsys)
    assert (code, out) == (
        1,
        "audit archive BAD: audit-11-20.jsonl.gz: event 14: hash does not match its content\n",
    )


def test_a_recompressed_segment_with_a_fixed_up_manifest_hash_is_still_caught(
    db: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Recompressing the same lines changes the file's bytes: the manifest's sha256 names it."""
    exported(db, archive, capsys)
    path = archive / "audit-21-30.jsonl.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1))
    code, out = run(["audit", "verify", "--archive", str(archive)], capsys)
    assert (code, out) == (
        1,
        "audit archive BAD: audit-21-30.jsonl.gz: sha256 differs from the manifest's\n",
    )


def test_a_deleted_middle_segment_is_named(
    db: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported(db, archive, capsys)
    (archive / "audit-11-20.jsonl.gz").unlink()
    (archive / "audit-11-20.manifest.json").unlink()
    code, out = run(["audit", "verify", "--archive", str(archive), "--no-database"], capsys)
    assert (code, out) == (
        1,
        "audit archive BAD: audit-21-30.jsonl.gz: does not follow audit-1-10.jsonl.gz (its "
        "first_prev_hash is not that segment's last_hash): a segment between them (ids 11..20) "
        "is missing or altered\n",
    )


def test_a_segment_file_gone_with_its_manifest_left_is_named(
    db: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported(db, archive, capsys)
    (archive / "audit-1-10.jsonl.gz").unlink()
    code, out = run(["audit", "verify", "--archive", str(archive)], capsys)
    assert (code, out) == (
        1,
        "audit archive BAD: audit-1-10.jsonl.gz: is missing (its manifest is here)\n",
    )


def test_a_deleted_first_segment_is_named(
    db: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported(db, archive, capsys)
    (archive / "audit-1-10.jsonl.gz").unlink()
    (archive / "audit-1-10.manifest.json").unlink()
    code, out = run(["audit", "verify", "--archive", str(archive), "--no-database"], capsys)
    assert (code, out) == (
        1,
        "audit archive BAD: audit-11-20.jsonl.gz: the first segment does not start the chain: "
        "an earlier segment is missing\n",
    )


def test_a_corrupted_manifest_sha256_is_named(
    db: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported(db, archive, capsys)
    path = archive / "audit-21-30.manifest.json"
    manifest = json.loads(path.read_bytes())
    manifest["sha256"] = "0" * 64
    path.write_text(json.dumps(manifest))
    code, out = run(["audit", "verify", "--archive", str(archive)], capsys)
    assert (code, out) == (
        1,
        "audit archive BAD: audit-21-30.jsonl.gz: sha256 differs from the manifest's\n",
    )
    path.write_text("{not json")
    code, out = run(["audit", "verify", "--archive", str(archive)], capsys)
    assert (code, out) == (1, "audit archive BAD: audit-21-30.manifest.json: is not JSON\n")


def test_a_truncated_segment_is_named(
    db: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported(db, archive, capsys)
    path = archive / "audit-11-20.jsonl.gz"
    path.write_bytes(path.read_bytes()[:-20])
    code, out = run(["audit", "verify", "--archive", str(archive)], capsys)
    assert code == 1
    assert out.startswith("audit archive BAD: audit-11-20.jsonl.gz: ")


def attack(db: str, statement: str, *params: Any) -> None:
    """What an attacker with the table owner's rights does: bypass the append-only triggers."""
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(statement, params)


def test_an_event_altered_in_the_database_is_named_at_the_link(
    db: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported(db, archive, capsys)
    attack(db, """UPDATE audit_events SET payload = '{"i": 16, "amount": "0.01"}' WHERE id = 17""")
    code, out = run(["audit", "verify", "--archive", str(archive)], capsys)
    assert (code, out) == (
        1,
        "audit archive BAD: database: event 17: differs from the archived event (altered)\n",
    )
    # the files on their own are intact
    assert run(["audit", "verify", "--archive", str(archive), "--no-database"], capsys)[0] == 0


def test_an_event_deleted_from_the_database_is_named(
    db: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported(db, archive, capsys)
    attack(db, "DELETE FROM audit_events WHERE id = 5")
    code, out = run(["audit", "verify", "--archive", str(archive)], capsys)
    assert (code, out) == (
        1,
        "audit archive BAD: database: event 5: is archived but no longer in the database "
        "(deleted)\n",
    )


def test_a_chain_rewritten_after_the_export_is_named_at_the_link(
    db: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Events after the archive whose prev_hash no longer meets the archive's last hash."""
    exported(db, archive, capsys)
    append(db, 2, start=30)
    attack(db, "UPDATE audit_events SET prev_hash = %s WHERE id = 31", "f" * 64)
    code, out = run(["audit", "verify", "--archive", str(archive)], capsys)
    assert (code, out) == (
        1,
        "audit archive BAD: database: event 31: prev_hash is not the archive's last hash: the "
        "chain was altered after the export\n",
    )
    code, out = run(["audit", "export", "--to", str(archive)], capsys)
    assert (code, out) == (
        1,
        "audit export refused: database: event 31: prev_hash is not the archive's last hash: "
        "the chain was altered; run audit verify\n",
    )


def test_an_interrupted_export_is_finished_by_the_next(
    db: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported(db, archive, capsys, n=20)
    (archive / "audit-11-20.manifest.json").unlink()  # as if killed between the two renames
    (archive / ".audit-21.tmp").write_bytes(b"partial")
    code, out = run(["audit", "export", "--to", str(archive), "--max-rows", "10"], capsys)
    assert (code, out) == (
        0,
        "removed .audit-21.tmp, left by an interrupted export\n"
        "removed audit-11-20.jsonl.gz, left by an interrupted export\n"
        f"exported 10 events (ids 11..20) in 1 segment to {archive}\n",
    )
    assert run(["audit", "verify", "--archive", str(archive)], capsys)[0] == 0


def test_the_overrides_csv_export_still_takes_dates(
    db: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(["audit", "export", "--to", "2000-01-01"], capsys)
    assert code == 0 and out.count("\n") == 1 and out.startswith("id,")
    assert main(["audit", "export", "--to", "2000-13-45"]) == 2
