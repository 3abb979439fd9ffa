"""The dispatcher's records job (DESIGN 15): once at start and then daily, make the decision
log's months ahead and, with DEALDESK_DECISION_RETENTION_MONTHS and DEALDESK_ARCHIVE_DIR,
archive and drop the months older than that. It runs in its own thread, so a month being
archived never holds up webhook deliveries; any failure is logged and retried next time."""

from __future__ import annotations

import logging
import threading

import psycopg

from api.config import Settings
from api.errors import DealdeskError
from api.service.archive import archive_before, this_month
from api.service.archive_files import ArchiveError
from api.storage.migrate import maintain
from api.storage.partitions import add_months

log = logging.getLogger("dealdesk.records")
EVERY_S = 24 * 3600.0
RETRY_S = 300.0


def start(settings: Settings, url: str, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=_loop, args=(settings, url, stop), name="records", daemon=True)
    thread.start()
    return thread


def run_once(settings: Settings, url: str) -> None:
    """Make the months ahead; archive the months past retention."""
    made = maintain(url)
    if made:
        log.info("records: made partitions for %s", ", ".join(f"{m:%Y-%m}" for m in made))
    months = settings.decision_retention_months
    if months is not None and settings.archive_dir is not None:
        before = add_months(this_month(), -months)
        for done in archive_before(url, before, settings.archive_dir):
            log.info(
                "records: archived %s (%d rows) and dropped it", f"{done.month:%Y-%m}", done.rows
            )


def _loop(settings: Settings, url: str, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            run_once(settings, url)
            wait = EVERY_S
        except (DealdeskError, psycopg.Error, ArchiveError, OSError) as exc:
            log.warning("records: %s; retrying in %.0f s", exc, RETRY_S)
            wait = RETRY_S
        stop.wait(wait)
