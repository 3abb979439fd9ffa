"""`dealdesk db migrate` and `dealdesk decisions archive`: records kept for years (DESIGN 15)."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from api.cli_shared import database_url
from api.config import Settings


def month(text: str) -> date:
    try:
        year, number = text.split("-")
        return date(int(year), int(number), 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month in YYYY-MM form") from None


def add_db_commands(db: Any) -> None:
    """`db migrate`, on the `db` group's subparsers."""
    migrate = db.add_parser(
        "migrate", help="bring the database to the current schema (what `serve` runs at start)"
    )
    migrate.set_defaults(handler=_db_migrate)


def add_decisions_commands(sub: Any) -> None:
    """The `decisions` group, on the top-level parser's subparsers."""
    group = sub.add_parser("decisions", help="the decision log").add_subparsers(
        required=True, metavar="ACTION"
    )
    archive = group.add_parser(
        "archive", help="write each whole month before YYYY-MM to DIR as Parquet, then drop it"
    )
    archive.add_argument("--before", type=month, required=True, metavar="YYYY-MM")
    archive.add_argument("--to", dest="directory", type=Path, required=True, metavar="DIR")
    archive.set_defaults(handler=_decisions_archive)


def _db_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from api.storage.migrate import SCHEMA_VERSION, migrate

    before = migrate(database_url(settings))
    if before < SCHEMA_VERSION:
        print(f"schema migrated from version {before} to {SCHEMA_VERSION}")
    else:
        print(f"schema already at version {SCHEMA_VERSION}")
    return 0


def _decisions_archive(args: argparse.Namespace, settings: Settings) -> int:
    from api.service.archive import archive_before
    from api.storage.migrate import migrate

    url = database_url(settings)
    migrate(url)
    done = archive_before(url, args.before, args.directory)
    for item in done:
        state = "written" if item.written else "kept from an earlier run"
        print(f"{item.month:%Y-%m}: {item.rows} rows archived ({state}) and dropped")
    if not done:
        print(f"nothing to archive before {args.before:%Y-%m}")
    return 0
