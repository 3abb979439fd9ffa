"""`dealdesk policy ...`: check, test, publish, diff and replay a policy directory."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from api.cli_shared import connect, iso_date
from api.config import Settings


def add_policy_commands(sub: Any) -> None:
    """The `policy` group, on the top-level parser's subparsers."""
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
    replay.add_argument("--from", dest="start", type=iso_date)
    replay.add_argument("--to", dest="end", type=iso_date)
    replay.add_argument(
        "--archive", type=Path, metavar="DIR", help="include the months archived in DIR"
    )
    replay.set_defaults(handler=_policy_replay)


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
    with connect(settings) as conn:
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
    with connect(settings) as conn:
        report = replay(conn, candidate, args.start, args.end, args.archive)
    print(json.dumps(report, indent=2))
    return 0
