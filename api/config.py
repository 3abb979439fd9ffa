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
    """Signs the console's cookie and CSRF tokens; unset, one is made once in the database."""
    database_read_url: str | None = None
    """Finance reads that tolerate replica lag go here (DATABASE_READ_URL); else the primary."""
    policy_source: str = "directory"
    """`directory`: `serve` publishes DEALDESK_POLICY_DIR at start when it differs from the
    set in force; `database`: it only follows the database (DEALDESK_POLICY_SOURCE)."""
    policy_check: bool = True
    """False only for the bench's side-by-side run: evaluations skip the generation guard."""

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
            database_read_url=env.get("DATABASE_READ_URL") or None,
            policy_source=_choice(env, "DEALDESK_POLICY_SOURCE", POLICY_SOURCES),
            policy_check=env.get("DEALDESK_BENCH_SKIP_POLICY_CHECK") != "1",
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
