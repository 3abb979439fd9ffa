"""`dealdesk audit ...`: verify the chain (in the database, or an exported archive against
it), export the chain as segments, or export overrides as CSV."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from api.cli_shared import connect, iso_date
from api.config import Settings

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def add_audit_commands(sub: Any) -> None:
    """The `audit` group, on the top-level parser's subparsers."""
    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(
        required=True, metavar="ACTION"
    )
    verify = audit.add_parser("verify", help="walk the hash chain; exit 1 if it is broken")
    verify.add_argument(
        "--archive", type=Path, metavar="DIR", help="check the segments exported to DIR"
    )
    verify.add_argument(
        "--no-database",
        action="store_true",
        help="with --archive: check the files alone, not their link to the database",
    )
    verify.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="with --archive: segments checked in parallel (default: one per CPU)",
    )
    verify.set_defaults(handler=_verify)
    export = audit.add_parser(
        "export",
        help="--to DIR: the chain's new events as gzip JSON-lines segments with manifests; "
        "--from/--to DATE: overrides as CSV (created_at dates, inclusive)",
    )
    export.add_argument("--from", dest="start", type=iso_date)
    export.add_argument("--to", dest="to", metavar="DIR|DATE")
    export.add_argument("--max-rows", type=int, default=100_000, help="events per segment")
    export.set_defaults(handler=_export)


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    if args.archive is not None:
        with_database = not args.no_database
        return _verify_archive(args.archive, settings, with_database=with_database, jobs=args.jobs)
    from api.audit.chain import verify
    from api.storage.audit import chain_rows

    with connect(settings) as conn:
        result = verify(chain_rows(conn))
    print(json.dumps(result.as_dict()))
    return 0 if result.ok else 1


def _verify_archive(directory: Path, settings: Settings, *, with_database: bool, jobs: int) -> int:
    from api.audit.archive import BadArchive
    from api.cli_shared import database_url
    from api.segments import verify_archive

    if not directory.is_dir():
        print(f"audit archive BAD: {directory} is not a directory")
        return 1
    started = time.monotonic()
    url = database_url(settings) if with_database else None
    try:
        summary = verify_archive(directory, url, jobs)
    except BadArchive as exc:
        print(f"audit archive BAD: {exc.problem}")
        return 1
    seconds = time.monotonic() - started
    linked = "linked to the database" if with_database else "not checked against a database"
    print(
        f"audit archive OK: {summary.segments} segments, {summary.events} events "
        f"(last id {summary.last_id}, last hash {summary.last_hash}), {linked}; "
        f"{seconds:.2f} s, {summary.events / max(seconds, 1e-9):,.0f} events/s"
    )
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    if args.start is not None or args.to is None or DATE.match(args.to):
        return _export_overrides(args, settings)
    if args.max_rows < 1:
        print("dealdesk: --max-rows must be at least 1", file=sys.stderr)
        return 2
    return _export_chain(Path(args.to), args.max_rows, settings)


def _export_chain(directory: Path, max_rows: int, settings: Settings) -> int:
    from api.audit.archive import BadArchive
    from api.segments import drop_unfinished, manifests, write_segments
    from api.storage.audit import events_since

    directory.mkdir(parents=True, exist_ok=True)
    try:
        for name in drop_unfinished(directory):
            print(f"removed {name}, left by an interrupted export")
        segments = manifests(directory)
        after = segments[-1].manifest if segments else None
        with connect(settings) as conn:
            events = events_since(conn, after.last_id if after else 0)
            try:
                written = write_segments(directory, events, after, max_rows)
            finally:
                events.close()
    except BadArchive as exc:
        print(f"audit export refused: {exc.problem}")
        return 1
    if not written:
        print(f"nothing new to export (last exported id {after.last_id if after else 0})")
        return 0
    rows = sum(m.rows for m in written)
    print(
        f"exported {rows} events (ids {written[0].first_id}..{written[-1].last_id}) "
        f"in {len(written)} segment{'s' if len(written) != 1 else ''} to {directory}"
    )
    return 0


def _export_overrides(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from api.service.reports import csv_lines
    from api.storage.overrides import export_rows

    try:
        end = iso_date(args.to) if args.to is not None else None
    except argparse.ArgumentTypeError as exc:
        print(f"dealdesk: --to: {exc}", file=sys.stderr)
        return 2
    filters = {"from": args.start, "to": end}
    reads = settings.database_read_url  # a replica, when there is one
    with psycopg.connect(reads) if reads else connect(settings) as conn:
        for chunk in csv_lines(export_rows(conn, filters)):
            sys.stdout.write(chunk)
    return 0
