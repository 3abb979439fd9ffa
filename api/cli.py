"""The `dealdesk` command: serve, db, keys, policy, audit, openapi."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from datetime import datetime

from api.cli_audit import add_audit_commands
from api.cli_policy import add_policy_commands
from api.cli_records import add_db_commands, add_decisions_commands
from api.cli_shared import connect, database_url
from api.config import ConfigError, Settings
from api.errors import DealdeskError, InvalidPolicy

DEFAULT_THREADS = 8  # per serve worker; 1 gives gunicorn sync workers
ALL_SCOPES_HELP = (
    "evaluate,requests,approvals,overrides,audit:read,audit:review,people,policies,webhooks,"
    "metrics,scim,admin"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        result: int = args.handler(args, settings)
        return result
    except ConfigError as exc:
        print(f"dealdesk: configuration error: {exc}", file=sys.stderr)
        return 2
    except InvalidPolicy as exc:
        print("dealdesk: the policy is refused:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except DealdeskError as exc:
        print(f"dealdesk: {exc.detail}", file=sys.stderr)
        for field, messages in exc.errors.items():
            print(f"  {field}: {'; '.join(messages)}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dealdesk", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the API with gunicorn")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--host", default="127.0.0.1")
    # one gthread worker per core, 8 threads each: a thread waiting for its evaluation's
    # durable commit leaves the core to its siblings (bench/README.md, "Third round")
    workers = int(os.environ.get("DEALDESK_WORKERS", str(os.cpu_count() or 1)))
    serve.add_argument("--workers", type=int, default=workers)
    threads = int(os.environ.get("DEALDESK_THREADS", str(DEFAULT_THREADS)))
    serve.add_argument("--threads", type=int, default=threads)
    serve.add_argument(
        "--demo",
        action="store_true",
        help="seed a demo org on first run and print an admin key and a curl example",
    )
    serve.add_argument(
        "--no-webhooks",
        action="store_true",
        help="do not start a webhook dispatcher beside the server",
    )
    serve.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not run `dealdesk db migrate` at start; refuse an older schema instead",
    )
    serve.set_defaults(handler=_serve)

    hooks = sub.add_parser("webhooks", help="webhook delivery").add_subparsers(
        required=True, metavar="ACTION"
    )
    run = hooks.add_parser("run", help="run one webhook dispatcher until stopped")
    run.add_argument("--threads", type=int, default=8)
    run.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    run.set_defaults(handler=_webhooks_run)

    db = sub.add_parser("db", help="database commands").add_subparsers(
        required=True, metavar="ACTION"
    )
    db.add_parser("init", help="apply schema.sql (idempotent)").set_defaults(handler=_db_init)
    add_db_commands(db)
    db.add_parser(
        "url", help="print the database URL (starting the embedded one if needed)"
    ).set_defaults(handler=_db_url)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(required=True, metavar="ACTION")
    create = keys.add_parser("create", help="create a key; prints it once, on the last line")
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", required=True, help=f"comma-separated: {ALL_SCOPES_HELP}")
    create.add_argument(
        "--person", metavar="ID", help="bind the key to this person: it may act as no one else"
    )
    create.add_argument(
        "--expires",
        metavar="WHEN",
        help="days from now (90d) or a date (YYYY-MM-DD, from its start, UTC); default: never",
    )
    create.set_defaults(handler=_keys_create)
    keys.add_parser("list", help="list keys (never the keys themselves)").set_defaults(
        handler=_keys_list
    )
    revoke = keys.add_parser("revoke", help="revoke the active key with this name")
    revoke.add_argument("name")
    revoke.set_defaults(handler=_keys_revoke)

    add_policy_commands(sub)
    add_decisions_commands(sub)

    add_audit_commands(sub)

    openapi = sub.add_parser("openapi", help="print the OpenAPI document (YAML)")
    openapi.add_argument(
        "--profile", choices=["salesforce"], help="the Salesforce External Services profile"
    )
    openapi.set_defaults(handler=_openapi)
    return parser


def _db_init(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from api.service.patterns import roll_up
    from api.storage.database import init_database

    url = database_url(settings)
    init_database(url)
    with psycopg.connect(url) as conn:  # the reports' monthly rollups, all of them now
        roll_up(conn)
    print("schema applied")
    return 0


def _db_url(args: argparse.Namespace, settings: Settings) -> int:
    print(database_url(settings))
    return 0


def _keys_create(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from api.service.keys import expiry, issue_key

    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    expires = expiry(args.expires, datetime.now(UTC)) if args.expires else None
    with connect(settings) as conn:
        key, row = issue_key(conn, args.name, scopes, "cli", args.person, expires)
    bound = f", bound to {row.person_id}" if row.person_id else ""
    until = f", expiring {_stamp(row.expires_at)}" if row.expires_at else ""
    print(
        f"created key {row.name!r} with scopes {','.join(row.scopes)}{bound}{until}; "
        "it is shown only once:"
    )
    print(key)
    return 0


def _keys_list(args: argparse.Namespace, settings: Settings) -> int:
    """One line per key, tab-separated: name, scopes, person, created, state, expires_at,
    last_used_at (both `-` when none; last use is kept to the minute)."""
    from datetime import UTC, datetime

    from api.storage.keys import list_keys

    now = datetime.now(UTC)
    print("name\tscopes\tperson\tcreated\tstate\texpires_at\tlast_used_at")
    with connect(settings) as conn:
        for key in list_keys(conn):
            state = "expired" if key.expired(now) else "active"
            if key.revoked_at:
                state = f"revoked {key.revoked_at:%Y-%m-%d}"
            person = key.person_id or "-"
            print(
                f"{key.name}\t{','.join(key.scopes)}\t{person}\t{key.created_at:%Y-%m-%d}\t{state}"
                f"\t{_stamp(key.expires_at)}\t{_stamp(key.last_used_at)}"
            )
    return 0


def _stamp(at: datetime | None) -> str:
    from datetime import UTC

    return "-" if at is None else f"{at.astimezone(UTC):%Y-%m-%dT%H:%M}Z"


def _keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from api.service.keys import withdraw_key

    with connect(settings) as conn:
        withdraw_key(conn, args.name, "cli")
    print(f"revoked key {args.name!r}")
    return 0


def _openapi(args: argparse.Namespace, settings: Settings) -> int:
    from api.app import create_app, openapi_yaml_text
    from api.policy.loader import load_policy_dir
    from api.storage.database import open_pool

    pool = open_pool("postgresql://unused", min_size=0, max_size=1)
    try:
        app = create_app(settings, pool=pool, policy_set=load_policy_dir(settings.policy_dir))
        sys.stdout.write(openapi_yaml_text(app, args.profile))
    finally:
        pool.close()
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from api.serve import serve

    if args.no_migrate:
        settings = dataclasses.replace(settings, migrate=False)
    return serve(
        settings,
        database_url,
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        demo=args.demo,
        webhooks=not args.no_webhooks,
    )


def _webhooks_run(args: argparse.Namespace, settings: Settings) -> int:
    import logging
    import signal

    from api.dispatch.worker import Dispatcher
    from api.storage.database import init_database

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    url = database_url(settings)
    init_database(url)
    dispatcher = Dispatcher(settings, url, threads=args.threads, parent_pid=args.parent_pid)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: dispatcher.stop.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a policy reload of `serve` is not for us
    dispatcher.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
