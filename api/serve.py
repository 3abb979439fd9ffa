"""`dealdesk serve`: prepare the database and policies once, then run gunicorn workers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from api.config import Settings
from api.policy.loader import load_policy_dir
from api.storage.database import init_database


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from api.app import create_app

        return create_app(self.settings)


def serve(
    settings: Settings,
    resolve_url: Callable[[Settings], str],
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    demo: bool,
) -> int:
    """Refuse a bad policy before binding; apply the schema; then serve until stopped."""
    policies = load_policy_dir(settings.policy_dir)
    url = resolve_url(settings)
    settings = dataclasses.replace(settings, database_url=url)
    init_database(url)
    from api.app import create_app

    app = create_app(settings, policy_set=policies)
    runtime = app.extensions["dealdesk"]
    runtime.record_policies("system:serve")
    if demo:
        _demo(runtime, host, port)
    runtime.pool.close()
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": 30,
        "graceful_timeout": 20,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
    }
    _Gunicorn(settings, options).run()
    return 0


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
                f"  docs: http://{host}:{port}/docs",
                "",
            ]
        ),
        flush=True,
    )
