"""The `dealdesk` command: serve, db, keys, policy, audit, openapi."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from api.config import ConfigError, Settings
from api.errors import DealdeskError, InvalidPolicy

ALL_SCOPES_HELP = (
    "evaluate,requests,approvals,overrides,audit:read,audit:review,people,policies,webhooks,"
    "metrics,admin"
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
    # gunicorn's own advice, 2 x cores + 1: a worker waits for its evaluation's durable commit
    default_workers = str(2 * (os.cpu_count() or 1) + 1)
    workers = int(os.environ.get("DEALDESK_WORKERS", default_workers))
    serve.add_argument("--workers", type=int, default=workers)
    serve.add_argument("--threads", type=int, default=int(os.environ.get("DEALDESK_THREADS", "1")))
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
    create.set_defaults(handler=_keys_create)
    keys.add_parser("list", help="list keys (never the keys themselves)").set_defaults(
        handler=_keys_list
    )
    revoke = keys.add_parser("revoke", help="revoke the active key with this name")
    revoke.add_argument("name")
    revoke.set_defaults(handler=_keys_revoke)

    policy = sub.add_parser("policy", help="policy tools").add_subparsers(
        required=True, metavar="ACTION"
    )
    check = policy.add_parser("check", help="load, validate and lint a policy directory")
    check.add_argument("dir", nargs="?")
    check.add_argument("--strict", action="store_true", help="exit 2 when there are warnings")
    check.set_defaults(handler=_policy_check)
    test = policy.add_parser("test", help="run the cases in DIR/tests/*.yaml")
    test.add_argument("dir", nargs="?")
    test.add_argument("--coverage", action="store_true", help="report boundary and rule coverage")
    test.add_argument("--min-coverage", type=float, default=100.0, metavar="PCT")
    test.set_defaults(handler=_policy_test)
    publish = policy.add_parser(
        "publish", help="put DIR's policy set in force on every instance (prints the generation)"
    )
    publish.add_argument("dir", nargs="?")
    publish.set_defaults(handler=_policy_publish)
    compare = policy.add_parser(
        "diff", help="plain-English changes from OLD to NEW (files or dirs)"
    )
    compare.add_argument("old")
    compare.add_argument("new")
    compare.set_defaults(handler=_policy_diff)
    replay = policy.add_parser("replay", help="re-evaluate logged decisions under CANDIDATE")
    replay.add_argument("candidate", help="a policy file")
    replay.add_argument("--from", dest="start", type=_iso_date)
    replay.add_argument("--to", dest="end", type=_iso_date)
    replay.set_defaults(handler=_policy_replay)

    audit = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit.add_subparsers(required=True, metavar="ACTION")
    verify = audit_sub.add_parser("verify", help="walk the hash chain; exit 1 if it is broken")
    verify.set_defaults(handler=_audit_verify)
    export = audit_sub.add_parser("export", help="overrides as CSV (created_at dates, inclusive)")
    export.add_argument("--from", dest="start", type=_iso_date)
    export.add_argument("--to", dest="end", type=_iso_date)
    export.set_defaults(handler=_audit_export)

    openapi = sub.add_parser("openapi", help="print the OpenAPI document (YAML)")
    openapi.add_argument(
        "--profile", choices=["salesforce"], help="the Salesforce External Services profile"
    )
    openapi.set_defaults(handler=_openapi)
    return parser


def _database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    from api.storage.database import start_embedded

    return start_embedded(settings.home)


def _connect(settings: Settings) -> Any:
    import psycopg

    from api.storage.database import init_database

    url = _database_url(settings)
    init_database(url)
    return psycopg.connect(url)


def _db_init(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from api.service.patterns import roll_up
    from api.storage.database import init_database

    url = _database_url(settings)
    init_database(url)
    with psycopg.connect(url) as conn:  # the reports' monthly rollups, all of them now
        roll_up(conn)
    print("schema applied")
    return 0


def _db_url(args: argparse.Namespace, settings: Settings) -> int:
    print(_database_url(settings))
    return 0


def _keys_create(args: argparse.Namespace, settings: Settings) -> int:
    from api.service.keys import issue_key

    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    with _connect(settings) as conn:
        key, row = issue_key(conn, args.name, scopes, "cli", args.person)
    bound = f", bound to {row.person_id}" if row.person_id else ""
    print(
        f"created key {row.name!r} with scopes {','.join(row.scopes)}{bound}; "
        "it is shown only once:"
    )
    print(key)
    return 0


def _keys_list(args: argparse.Namespace, settings: Settings) -> int:
    from api.storage.keys import list_keys

    with _connect(settings) as conn:
        for key in list_keys(conn):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            person = key.person_id or "-"
            print(
                f"{key.name}\t{','.join(key.scopes)}\t{person}\t{key.created_at:%Y-%m-%d}\t{state}"
            )
    return 0


def _keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from api.service.keys import withdraw_key

    with _connect(settings) as conn:
        withdraw_key(conn, args.name, "cli")
    print(f"revoked key {args.name!r}")
    return 0


def _policy_dir(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.dir) if args.dir else settings.policy_dir


def _policy_check(args: argparse.Namespace, settings: Settings) -> int:
    from api.policy.lint import lint
    from api.policy.loader import load_policy_dir

    policies = load_policy_dir(_policy_dir(args, settings))
    warnings = [w for policy in policies.all for w in lint(policy)]
    for warning in warnings:
        print(warning)
    for policy in policies.all:
        print(
            f"ok: {policy.file}: {policy.name} {policy.version} ({policy.status.value}) "
            f"sha256 {policy.sha256[:12]}"
        )
    return 2 if warnings and args.strict else 0


def _policy_test(args: argparse.Namespace, settings: Settings) -> int:
    from api.policy.cases import load_cases, run_cases
    from api.policy.coverage import coverage, percent
    from api.policy.loader import load_policy_dir

    directory = _policy_dir(args, settings)
    policies = load_policy_dir(directory)
    cases = load_cases(directory / "tests", settings.today or datetime.now(UTC).date())
    results = run_cases(policies, cases)
    for result in results:
        where = f"{result.case.file}:{result.case.line}" if result.case.line else result.case.file
        print(f"{'PASS' if result.passed else 'FAIL'} {where}: {result.case.name}")
        for difference in result.differences:
            print(f"     {difference}")
    failed = sum(not r.passed for r in results)
    short = False
    if args.coverage:
        for policy in policies.all:
            items = coverage(policy, results)
            print(f"\ncoverage of {policy.name} {policy.version}:")
            for item in items:
                print(f"  {item}")
            score = percent(items)
            short = short or score < Decimal(str(args.min_coverage))
            print(f"  {score}% covered (minimum {args.min_coverage:g}%)")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed or not results or short else 0


def _policy_publish(args: argparse.Namespace, settings: Settings) -> int:
    from api.policy.loader import load_policy_dir
    from api.service.policy_sets import publish

    policies = load_policy_dir(_policy_dir(args, settings))  # refused before any write
    with _connect(settings) as conn:
        published = publish(conn, policies, f"cli:{os.environ.get('USER', 'unknown')}")
    state = "published" if published.changed else "unchanged: already in force"
    print(f"generation {published.generation} ({state})")
    for policy in policies.all:
        print(f"  {policy.name} {policy.version} ({policy.status.value}) sha256 {policy.sha256}")
    return 0


def _policy_diff(args: argparse.Namespace, settings: Settings) -> int:
    from api.policy.diff import diff

    lines = diff(_one_policy(Path(args.old)), _one_policy(Path(args.new)))
    print("\n".join(f"- {line}" for line in lines) if lines else "no authority changes")
    return 0


def _one_policy(path: Path) -> Any:
    from api.policy.loader import load_policy_dir, parse_policy

    if path.is_dir():
        return load_policy_dir(path).active
    return parse_policy(path.read_bytes(), str(path))


def _policy_replay(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from api.service.replay import replay

    candidate = _one_policy(Path(args.candidate))
    with _connect(settings) as conn:
        report = replay(conn, candidate, args.start, args.end)
    print(json.dumps(report, indent=2))
    return 0


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from None


def _audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from api.audit.chain import verify
    from api.storage.audit import chain_rows

    with _connect(settings) as conn:
        result = verify(chain_rows(conn))
    print(json.dumps(result.as_dict()))
    return 0 if result.ok else 1


def _audit_export(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from api.service.reports import csv_lines
    from api.storage.overrides import export_rows

    filters = {"from": args.start, "to": args.end}
    reads = settings.database_read_url  # a replica, when there is one
    with psycopg.connect(reads) if reads else _connect(settings) as conn:
        for chunk in csv_lines(export_rows(conn, filters)):
            sys.stdout.write(chunk)
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

    return serve(
        settings,
        _database_url,
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
    url = _database_url(settings)
    init_database(url)
    dispatcher = Dispatcher(settings, url, threads=args.threads, parent_pid=args.parent_pid)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: dispatcher.stop.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a policy reload of `serve` is not for us
    dispatcher.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
