"""What the `dealdesk` subcommands share: the database they work on, and date arguments."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from api.config import Settings


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    from api.storage.database import start_embedded

    return start_embedded(settings.home)


def connect(settings: Settings) -> Any:
    import psycopg

    from api.storage.database import init_database

    url = database_url(settings)
    init_database(url)
    return psycopg.connect(url)


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from None
