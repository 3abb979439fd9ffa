"""Settings, read once from the environment; the defaults work on a bare laptop."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

POLICY_SOURCES = ("directory", "database")


class ConfigError(Exception):
    """An environment variable holds something we cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str | None = None
    policy_dir: Path = Path("policies")
    home: Path = Path(".dealdesk")
    today: date | None = None
    pool_min: int = 1
    pool_max: int = 8
    pool_timeout_s: float = 5.0
    statement_timeout_ms: int = 5000
    connect_timeout_s: int = 3
    worker_timeout_s: int = 30
    """gunicorn kills a worker silent this long; long streams heartbeat, so only a hang is."""
    metrics: bool = True
    """DEALDESK_METRICS=0 switches the request hooks and /metrics off (bench compares)."""
    secret_key: str | None = field(default=None, repr=False)
    """DEALDESK_SECRET_KEY: signs the console's cookie and CSRF tokens and encrypts webhook
    secrets at rest; unset, a console key is made once in the database and a webhook key
    file in `home` (a fleet sets it, the same on every instance)."""
    webhook_allow_nets: tuple[str, ...] = ()
    webhook_allow_http: bool = False
    webhook_retry_schedule: tuple[float, ...] | None = None
    webhook_lease_s: float = 60.0
    webhook_connect_timeout_s: float = 5.0
    webhook_timeout_s: float = 15.0
    checkpoint_every: int = 1000
    sla_scan_s: float = 0.5
    """How often the dispatcher looks for due SLA stages (DEALDESK_SLA_SCAN_S; DESIGN 14)."""
    database_read_url: str | None = None
    """Finance reads that tolerate replica lag go here (DATABASE_READ_URL); else the primary."""
    policy_source: str = "directory"
    """`directory`: `serve` publishes DEALDESK_POLICY_DIR at start when it differs from the
    set in force; `database`: it only follows the database (DEALDESK_POLICY_SOURCE)."""
    policy_check: bool = True
    """False only for the bench's side-by-side run: evaluations skip the generation guard."""
    decision_writer: bool = True
    """`serve` runs a decision-log writer process beside its workers (DEALDESK_DECISION_WRITER=0:
    each worker writes its own rows; the bench compares the two)."""
    decision_socket: Path | None = None
    """Set by `serve` for its workers: the writer's Unix socket."""
    fast_lane: bool = True
    """POST /v1/evaluations served beside Flask (api/http/fastlane.py); DEALDESK_FAST_LANE=0
    sends it through Flask (the bench compares the two, and so do the tests)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            policy_dir=Path(env.get("DEALDESK_POLICY_DIR") or "policies"),
            home=Path(env.get("DEALDESK_HOME") or ".dealdesk"),
            today=_date(env, "DEALDESK_TODAY"),
            pool_max=_int(env, "DEALDESK_POOL_MAX", 8),
            statement_timeout_ms=_int(env, "DEALDESK_STATEMENT_TIMEOUT_MS", 5000),
            worker_timeout_s=_int(env, "DEALDESK_WORKER_TIMEOUT", 30),
            metrics=_flag(env, "DEALDESK_METRICS", True),
            secret_key=env.get("DEALDESK_SECRET_KEY") or None,
            webhook_allow_nets=_list(env, "DEALDESK_WEBHOOK_ALLOW_NETS"),
            webhook_allow_http=env.get("DEALDESK_WEBHOOK_ALLOW_HTTP") == "1",
            webhook_retry_schedule=_schedule(env, "DEALDESK_WEBHOOK_RETRY_SCHEDULE"),
            webhook_lease_s=_seconds(env, "DEALDESK_WEBHOOK_LEASE_S", 60.0),
            webhook_connect_timeout_s=_seconds(env, "DEALDESK_WEBHOOK_CONNECT_TIMEOUT_S", 5.0),
            webhook_timeout_s=_seconds(env, "DEALDESK_WEBHOOK_TIMEOUT_S", 15.0),
            checkpoint_every=_int(env, "DEALDESK_CHECKPOINT_EVERY", 1000),
            sla_scan_s=_seconds(env, "DEALDESK_SLA_SCAN_S", 0.5),
            database_read_url=env.get("DATABASE_READ_URL") or None,
            policy_source=_choice(env, "DEALDESK_POLICY_SOURCE", POLICY_SOURCES),
            policy_check=env.get("DEALDESK_BENCH_SKIP_POLICY_CHECK") != "1",
            decision_writer=_flag(env, "DEALDESK_DECISION_WRITER", True),
            fast_lane=_flag(env, "DEALDESK_FAST_LANE", True),
        )


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    text = env.get(name) or choices[0]
    if text not in choices:
        raise ConfigError(f"{name}={text!r} must be one of: {', '.join(choices)}")
    return text


def _date(env: Mapping[str, str], name: str) -> date | None:
    text = env.get(name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a date in YYYY-MM-DD form") from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a whole number") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={text!r} is not 1 or 0")


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in (env.get(name) or "").split(",") if p.strip())


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a number of seconds") from None
    if not value > 0:
        raise ConfigError(f"{name} must be positive")
    return value


def _schedule(env: Mapping[str, str], name: str) -> tuple[float, ...] | None:
    """Comma-separated seconds between attempts, such as `1,1,2`."""
    parts = _list(env, name)
    if not parts:
        return None
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated seconds, such as 1,1,2") from None
    if any(v < 0 for v in values):
        raise ConfigError(f"{name} must not hold negative delays")
    return values
