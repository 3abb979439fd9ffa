"""`python -m api.logwriter SOCKET [--parent-pid PID]`: run the writer until stopped.

`dealdesk serve` starts it (and starts it again if it dies); DATABASE_URL names the database.
"""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path

from api.config import Settings
from api.logwriter.server import Writer
from api.metrics import shared


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m api.logwriter")
    parser.add_argument("socket", type=Path)
    parser.add_argument("--parent-pid", type=int)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings.from_env()
    if not settings.database_url:
        parser.error("DATABASE_URL is not set")
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a policy reload of `serve` is not for us
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to serve, which stops us
    writer = Writer(
        settings.database_url,
        args.socket,
        check_policy=settings.policy_check,
        statement_timeout_ms=settings.statement_timeout_ms,
        commit_timeout_s=settings.commit_timeout_s,
        parent_pid=args.parent_pid,
        metrics=shared() if settings.metrics else None,
    )
    signal.signal(signal.SIGTERM, lambda *_: writer.stop())
    writer.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
