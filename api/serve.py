"""`dealdesk serve`: prepare the database and policies once, then run gunicorn workers.

SIGHUP (or a successful POST /v1/policies/reload in any worker) makes the master re-read the
policy directory and replace every worker; a bad file is logged and the running policy stays.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from api.config import Settings
from api.errors import InvalidPolicy
from api.policy.loader import PolicySet, load_policy_dir
from api.storage.database import init_database

MASTER_PID_ENV = "DEALDESK_MASTER_PID"


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, policies: PolicySet, options: dict[str, Any]) -> None:
        self.settings = settings
        self.policies = policies
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("on_reload", self.on_reload)

    def load(self) -> Any:
        from api.app import create_app

        return create_app(self.settings, policy_set=self.policies)

    def on_reload(self, server: Any) -> None:
        """Runs in the master before new workers fork: they get the policies kept here."""
        try:
            policies = load_policy_dir(self.settings.policy_dir)
        except InvalidPolicy as exc:
            server.log.error(
                "policy reload refused, keeping %s %s: %s",
                self.policies.active.name,
                self.policies.active.version,
                exc,
            )
            return
        self.policies = policies
        _record(self.settings, policies, "signal:SIGHUP")
        server.log.info(
            "policies reloaded: %s", ", ".join(f"{p.name} {p.version}" for p in policies.all)
        )


def serve(
    settings: Settings,
    resolve_url: Callable[[Settings], str],
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    demo: bool,
    webhooks: bool = True,
) -> int:
    """Refuse a bad policy before binding; apply the schema; then serve until stopped.

    With `webhooks`, a dispatcher runs beside the server in its own process (never in a
    request worker); it stops with the server, and by itself if the server dies."""
    policies = load_policy_dir(settings.policy_dir)
    url = resolve_url(settings)
    settings = dataclasses.replace(settings, database_url=url)
    init_database(url)
    _record(settings, policies, "system:serve", demo=demo, host=host, port=port)
    os.environ[MASTER_PID_ENV] = str(os.getpid())
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        # sync workers (the default, threads=1) cost less CPU per request and give a lower
        # p99 than gthread on the same cores; see bench/README.md
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": settings.worker_timeout_s,  # long streams heartbeat as they go
        "post_fork": _attach_progress,
        "graceful_timeout": 20,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
    }
    if webhooks:
        dispatcher = _start_dispatcher(url)
        options["on_exit"] = lambda server: _stop(dispatcher)
    try:
        _Gunicorn(settings, policies, options).run()
    finally:
        if webhooks:
            _stop(dispatcher)
    return 0


def _start_dispatcher(url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url}
    command = [sys.executable, "-m", "api.cli", "webhooks", "run", "--parent-pid"]
    return subprocess.Popen([*command, str(os.getpid())], env=env, preexec_fn=_die_with_parent)  # noqa: S603


def _die_with_parent() -> None:
    """Linux: SIGTERM the dispatcher when `serve` dies, even by SIGKILL (it also polls)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _attach_progress(server: Any, worker: Any) -> None:
    from api.http import progress

    progress.attach(worker)


def _record(
    settings: Settings,
    policies: PolicySet,
    actor: str,
    *,
    demo: bool = False,
    host: str = "",
    port: int = 0,
) -> None:
    """Store policy bytes (and, for `make run`, seed the demo) from the master, then let go."""
    from api.app import create_app

    app = create_app(settings, policy_set=policies)
    runtime = app.extensions["dealdesk"]
    try:
        runtime.record_policies(actor)
        if demo:
            _demo(runtime, host, port)
    finally:
        runtime.pool.close()
        runtime.quick.close()


def _demo(runtime: Any, host: str, port: int) -> None:
    from api.service.demo import seed_demo
    from api.service.keys import issue_key, withdraw_key
    from api.storage.database import transaction
    from api.storage.keys import list_keys

    policy = runtime.policies.active
    with transaction(runtime.pool) as conn:
        seeded = seed_demo(conn, policy)
        if any(k.name == "local-admin" and k.revoked_at is None for k in list_keys(conn)):
            withdraw_key(conn, "local-admin", "system:demo")
        key, _ = issue_key(conn, "local-admin", ["admin"], "system:demo")
    am = f"demo.{policy.tiers[0]}"
    lever = policy.deal_levers[0].name if policy.deal_levers else "discount_pct"
    print(
        "\n".join(
            [
                "",
                "dealdesk is starting" + (" (demo org seeded)" if seeded else ""),
                f"  admin key (shown once; a new one is made on each `make run`): {key}",
                "  try:",
                f"  curl -s -X POST http://{host}:{port}/v1/evaluations \\",
                f"    -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\",
                f'    -d \'{{"requested_by": "{am}", "deal": {{"deal_id": "Q-1", '
                f'"owner_id": "{am}", "currency": "{policy.currency}", '
                f'"list_amount": "250000.00", "{lever}": "18"}}}}\'',
                "  subscribe a receiver to every event (its secret is shown once):",
                f"  curl -s -X POST http://{host}:{port}/v1/webhook-subscriptions \\",
                f"    -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\",
                '    -d \'{"url": "https://example.com/hooks/dealdesk", "event_types": ["*"]}\'',
                f"  docs: http://{host}:{port}/docs",
                "",
            ]
        ),
        flush=True,
    )
    sys.stdout.flush()
