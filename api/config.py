"""Settings, read once from the environment; the defaults work on a bare laptop."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from api.mail.target import parse_target

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
    commit_timeout_s: float = 10.0
    """DEALDESK_COMMIT_TIMEOUT_S: a commit the synchronous standby has not confirmed by then is
    cancelled and answered 503 (it is not acknowledged); without it, it would wait forever."""
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
    migrate: bool = True
    """`serve` runs `dealdesk db migrate` at start (DEALDESK_MIGRATE=0 or `--no-migrate`: it
    refuses a schema older than it needs instead)."""
    decision_retention_months: int | None = None
    """DEALDESK_DECISION_RETENTION_MONTHS: the dispatcher archives whole months of decisions
    older than this many months to archive_dir, then drops them (unset: kept forever)."""
    archive_dir: Path | None = None
    """DEALDESK_ARCHIVE_DIR: where the dispatcher writes those archives."""
    fast_lane: bool = True
    """POST /v1/evaluations served beside Flask (api/http/fastlane.py); DEALDESK_FAST_LANE=0
    sends it through Flask (the bench compares the two, and so do the tests)."""
    oidc_issuer: str | None = None
    """DEALDESK_OIDC_ISSUER: the console offers single sign-on through this OpenID provider
    (discovery at `{issuer}/.well-known/openid-configuration`); unset, key sign-in only."""
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)
    """Optional: PKCE (S256) protects the code; a confidential client sends it as well."""
    public_url: str | None = None
    """DEALDESK_PUBLIC_URL: where browsers reach us: the SSO redirect URI is
    `{public_url}/console/oidc/callback`, and mail links point here."""
    oidc_person_claim: str = "email"
    oidc_roles_claim: str = "groups"
    """A dotted path reaches nested claims (`realm_access.roles`); a string or a list."""
    oidc_role_scopes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """DEALDESK_OIDC_ROLE_SCOPES `role=scope,scope;role=scope`: what each role may do."""
    console_key_signin: bool = True
    """DEALDESK_CONSOLE_KEY_SIGNIN=0 removes the console's API-key sign-in."""
    smtp_url: str | None = field(default=None, repr=False)
    """DEALDESK_SMTP_URL: `smtp://`, `smtps://` or `smtp+starttls://`, perhaps with
    `user:password@` (never shown: repr=False); unset, nothing is mailed."""
    mail_from: str | None = None
    smtp_cafile: Path | None = None
    """DEALDESK_SMTP_CAFILE: trust this CA (a test's self-signed certificate) beside the
    system's; TLS is always verified."""
    smtp_timeout_s: float = 10.0

    @property
    def mail_on(self) -> bool:
        return self.smtp_url is not None

    jwt_issuer: str | None = None
    """DEALDESK_JWT_ISSUER: OAuth 2.0 access tokens on /v1 carry exactly this `iss` (DESIGN 13);
    unset, /v1 takes API keys only."""
    jwt_audience: str | None = None
    """DEALDESK_JWT_AUDIENCE: a token's `aud` must contain it."""
    jwt_jwks_url: str | None = None
    """DEALDESK_JWT_JWKS_URL: the issuer's keys; unset, the discovery document's `jwks_uri`."""
    jwt_token_url: str | None = None
    """DEALDESK_JWT_TOKEN_URL: the token endpoint the OpenAPI document names for clients."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        if bool(env.get("DEALDESK_JWT_ISSUER")) != bool(env.get("DEALDESK_JWT_AUDIENCE")):
            raise ConfigError("DEALDESK_JWT_ISSUER and DEALDESK_JWT_AUDIENCE go together")
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            policy_dir=Path(env.get("DEALDESK_POLICY_DIR") or "policies"),
            home=Path(env.get("DEALDESK_HOME") or ".dealdesk"),
            today=_date(env, "DEALDESK_TODAY"),
            pool_max=_int(env, "DEALDESK_POOL_MAX", 8),
            statement_timeout_ms=_int(env, "DEALDESK_STATEMENT_TIMEOUT_MS", 5000),
            commit_timeout_s=_seconds(env, "DEALDESK_COMMIT_TIMEOUT_S", 10.0),
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
            **_oidc(env),
            **_mail(env),
            jwt_issuer=env.get("DEALDESK_JWT_ISSUER") or None,
            jwt_audience=env.get("DEALDESK_JWT_AUDIENCE") or None,
            jwt_jwks_url=env.get("DEALDESK_JWT_JWKS_URL") or None,
            jwt_token_url=env.get("DEALDESK_JWT_TOKEN_URL") or None,
            migrate=_flag(env, "DEALDESK_MIGRATE", True),
            decision_retention_months=_retention(env),
            archive_dir=Path(env["DEALDESK_ARCHIVE_DIR"])
            if env.get("DEALDESK_ARCHIVE_DIR")
            else None,
        )


def _oidc(env: Mapping[str, str]) -> dict[str, Any]:
    """The single sign-on settings; an issuer needs a client id and the public URL."""
    issuer = (env.get("DEALDESK_OIDC_ISSUER") or "").strip() or None
    client_id = (env.get("DEALDESK_OIDC_CLIENT_ID") or "").strip() or None
    public_url = (env.get("DEALDESK_PUBLIC_URL") or "").strip().rstrip("/") or None
    if issuer is not None:
        needed = {"DEALDESK_OIDC_CLIENT_ID": client_id, "DEALDESK_PUBLIC_URL": public_url}
        missing = [name for name, value in needed.items() if not value]
        if missing:
            names = " and ".join(missing)
            raise ConfigError(f"DEALDESK_OIDC_ISSUER is set: {names} must be set too")
        if not issuer.startswith(("https://", "http://")):
            raise ConfigError(f"DEALDESK_OIDC_ISSUER={issuer!r} is not an http(s) URL")
    key_signin = _flag(env, "DEALDESK_CONSOLE_KEY_SIGNIN", True)
    if not key_signin and issuer is None:
        raise ConfigError("DEALDESK_CONSOLE_KEY_SIGNIN=0 needs DEALDESK_OIDC_ISSUER: no sign-in")
    return {
        "oidc_issuer": issuer,
        "oidc_client_id": client_id,
        "oidc_client_secret": env.get("DEALDESK_OIDC_CLIENT_SECRET") or None,
        "public_url": public_url,
        "oidc_person_claim": (env.get("DEALDESK_OIDC_PERSON_CLAIM") or "").strip() or "email",
        "oidc_roles_claim": (env.get("DEALDESK_OIDC_ROLES_CLAIM") or "").strip() or "groups",
        "oidc_role_scopes": role_scopes(env.get("DEALDESK_OIDC_ROLE_SCOPES") or ""),
        "console_key_signin": key_signin,
    }


def role_scopes(text: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`finance=audit:read,audit:review;it=admin` as ((role, scopes), ...). The last `=` splits
    a role from its scopes, so a role may itself hold one (an LDAP DN: `cn=x,ou=y=audit:read`)."""
    found: list[tuple[str, tuple[str, ...]]] = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        role, equals, scopes = part.rpartition("=")
        names = tuple(s.strip() for s in scopes.split(",") if s.strip())
        if not equals or not role.strip() or not names:
            raise ConfigError(
                f"DEALDESK_OIDC_ROLE_SCOPES: {part!r} is not role=scope[,scope...]"
                " (entries separated by ;)"
            )
        found.append((role.strip(), names))
    _known_scopes(found)
    return tuple(found)


def _known_scopes(found: list[tuple[str, tuple[str, ...]]]) -> None:
    from api.service.keys import SCOPES  # the scopes keys may hold; roles grant the same

    for role, scopes in found:
        unknown = [s for s in scopes if s not in SCOPES]
        if unknown:
            raise ConfigError(
                f"DEALDESK_OIDC_ROLE_SCOPES: role {role!r} names unknown scope(s) "
                f"{', '.join(unknown)}; choose from {', '.join(SCOPES)}"
            )


def _mail(env: Mapping[str, str]) -> dict[str, Any]:
    """The mail settings, all or nothing: an SMTP URL needs a sender and a public URL."""
    url = env.get("DEALDESK_SMTP_URL") or None
    sender = env.get("DEALDESK_MAIL_FROM") or None
    public = (env.get("DEALDESK_PUBLIC_URL") or "").rstrip("/") or None
    cafile = env.get("DEALDESK_SMTP_CAFILE") or None
    if url is not None:
        try:
            parse_target(url)
        except ValueError as exc:
            raise ConfigError(f"DEALDESK_SMTP_URL: {exc}") from None
        for name, value in (("DEALDESK_MAIL_FROM", sender), ("DEALDESK_PUBLIC_URL", public)):
            if value is None:
                raise ConfigError(f"{name} must be set when DEALDESK_SMTP_URL is")
        if public is not None and not public.startswith(("https://", "http://")):
            raise ConfigError("DEALDESK_PUBLIC_URL must be an http(s) URL")
    return {
        "smtp_url": url,
        "mail_from": sender,
        "smtp_cafile": Path(cafile) if cafile else None,
        "smtp_timeout_s": _seconds(env, "DEALDESK_SMTP_TIMEOUT_S", 10.0),
    }


def _retention(env: Mapping[str, str]) -> int | None:
    """DEALDESK_DECISION_RETENTION_MONTHS, which needs DEALDESK_ARCHIVE_DIR beside it."""
    if not env.get("DEALDESK_DECISION_RETENTION_MONTHS"):
        return None
    if not env.get("DEALDESK_ARCHIVE_DIR"):
        raise ConfigError(
            "DEALDESK_DECISION_RETENTION_MONTHS needs DEALDESK_ARCHIVE_DIR: months are "
            "archived there before they are dropped"
        )
    return _int(env, "DEALDESK_DECISION_RETENTION_MONTHS", 1)


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
