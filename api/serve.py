"""`dealdesk serve`: prepare the database and the policy set once, then run gunicorn workers.

At start the master publishes DEALDESK_POLICY_DIR when it differs from the set in force
(unless DEALDESK_POLICY_SOURCE=database: then it only follows, and refuses to start when
nothing has been published yet). Workers follow the database's set from then on. SIGHUP
means "publish my directory" (a bad file is logged and the set in force stays); gunicorn
then replaces the workers, which start from the set in force.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from api.config import Settings
from api.errors import InvalidPolicy, Refused
from api.policy.loader import PolicySet, load_policy_dir
from api.service.policy_sets import load_in_force, publish
from api.storage.migrate import maintain, migrate, require_current

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus-client: set before it loads


RESTART_S = 1.0  # a child that keeps dying is started again at most this often
SWITCH_INTERVAL_S = 0.0005
"""How long a gthread worker's thread may keep the GIL from a sibling that wants it (Python's
default is 5 ms). A thread whose row's commit has been confirmed, or whose connection the
main thread must hand over, waits at most this long rather than 5 ms: side by side,
evaluations gained 8-10% and their p99 fell (bench/README.md, "Third round")."""


class _Child:
    """A process `serve` runs beside its workers (the decision-log writer, the webhook
    dispatcher): started again by the master when it dies, stopped with the server."""

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.started = 0.0
        self.process = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        self.started = time.monotonic()
        return subprocess.Popen(self.command, env=self.env, preexec_fn=_die_with_parent)  # noqa: S603

    def tend(self, log: Any) -> None:
        """In the master's loop: a dead child (gunicorn's arbiter may have reaped it, which
        `poll` also reports) is started again."""
        if self.process.poll() is None or time.monotonic() - self.started < RESTART_S:
            return
        log.warning("%s (pid %s) exited; starting it again", self.name, self.process.pid)
        self.process = self._start()

    def stop(self) -> None:
        _stop(self.process)


class _Arbiter(Arbiter):  # type: ignore[misc]
    def manage_workers(self) -> None:
        super().manage_workers()
        for child in self.app.children:
            child.tend(self.log)


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(
        self,
        settings: Settings,
        policies: tuple[PolicySet, int],
        options: dict[str, Any],
        children: list[_Child],
    ) -> None:
        self.settings = settings
        self.policies = policies
        self.options = options
        self.children = children
        super().__init__()

    def run(self) -> None:
        """BaseApplication.run with an arbiter that also keeps our children running."""
        try:
            _Arbiter(self).run()
        except RuntimeError as exc:
            print(f"\nError: {exc}\n", file=sys.stderr)
            sys.exit(1)

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("on_reload", self.on_reload)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn 25.1+ opens one control socket per user by default: every instance on
            # a machine would take over the same path, and we never use gunicornc
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        from api.app import create_app

        policies, generation = self.policies
        return create_app(self.settings, policy_set=policies, policy_generation=generation)

    def on_reload(self, server: Any) -> None:
        """SIGHUP, in the master before new workers fork: publish the directory (unless
        following the database) and hand the set in force to the new workers."""
        try:
            self.policies = prepare(self.settings, "signal:SIGHUP", server.log.info)
        except (InvalidPolicy, Refused, psycopg.Error) as exc:
            server.log.error("policy publish refused, the set in force stays: %s", exc)


def prepare(
    settings: Settings, actor: str, say: Callable[[str], Any] = print
) -> tuple[PolicySet, int]:
    """Publish the directory (or, following the database, read the set in force); return
    the set the workers start with and its generation. Raises before writing on a bad set."""
    assert settings.database_url is not None
    following = settings.policy_source == "database"
    policies = None if following else load_policy_dir(settings.policy_dir)
    with psycopg.connect(settings.database_url) as conn:  # commits when the block ends
        if policies is None:
            in_force, found = load_in_force(conn)
            if found is None:
                raise Refused(
                    "DEALDESK_POLICY_SOURCE=database, but no policy set has been published "
                    "yet: run `dealdesk policy publish DIR` first."
                )
            say(f"following policy set generation {in_force.generation} from the database")
            return found, in_force.generation
        published = publish(conn, policies, actor)
    what = "published:" if published.changed else "already in force:"
    names = ", ".join(f"{p.name} {p.version}" for p in policies.all)
    say(f"policy set generation {published.generation} {what} {names}")
    return policies, published.generation


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

    Beside the workers run, each in its own process, the decision-log writer (unless
    DEALDESK_DECISION_WRITER=0) and, with `webhooks`, a dispatcher (never in a request
    worker). The master starts either again if it dies; they stop with the server, and by
    themselves if the server dies."""
    master = os.getpid()
    made = _metrics_dir() if settings.metrics else None
    try:
        return _serve(settings, resolve_url, host, port, workers, threads, demo, webhooks)
    finally:
        # a worker forked below unwinds through here when it exits (gunicorn ends it with
        # sys.exit): only the master may remove what every process shares
        if made is not None and os.getpid() == master:
            shutil.rmtree(made, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)


def _serve(
    settings: Settings,
    resolve_url: Callable[[Settings], str],
    host: str,
    port: int,
    workers: int,
    threads: int,
    demo: bool,
    webhooks: bool,
) -> int:
    if settings.policy_source != "database":
        load_policy_dir(settings.policy_dir)  # a bad directory fails before anything starts
    url = resolve_url(settings)
    settings = dataclasses.replace(settings, database_url=url)
    if settings.migrate:
        migrate(url)
    else:
        require_current(url)  # refuses an older schema: run `dealdesk db migrate`
        maintain(url)  # the decision log's months ahead are made at start all the same
    policies = prepare(settings, "system:serve", lambda text: print(text, file=sys.stderr))
    if demo:
        _demo(settings, policies, host, port)
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        # gthread by default: threads waiting for their rows' durable commits leave the core
        # to a sibling, which sync workers cannot (bench/README.md); threads=1 gives sync
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": settings.worker_timeout_s,  # long streams heartbeat as they go
        "post_fork": _post_fork,
        "child_exit": _worker_exited,
        "graceful_timeout": 20,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
    }
    master = os.getpid()
    env = {**os.environ, "DATABASE_URL": url}
    children = []
    sockets = None
    if settings.decision_writer:
        sockets = tempfile.mkdtemp(prefix="dealdesk-writer-")
        path = Path(sockets) / "decisions.sock"
        settings = dataclasses.replace(settings, decision_socket=path)
        writer = [sys.executable, "-m", "api.logwriter", str(path), "--parent-pid", str(master)]
        children.append(_Child("decision-log writer", writer, env))
    if webhooks:
        dispatcher = [sys.executable, "-m", "api.cli", "webhooks", "run"]
        children.append(
            _Child("webhook dispatcher", [*dispatcher, "--parent-pid", str(master)], env)
        )
    options["on_exit"] = lambda server: _stop_all(children)
    try:
        _Gunicorn(settings, policies, options, children).run()
    finally:
        if os.getpid() == master:  # not in an exiting worker (see serve)
            _stop_all(children)
            if sockets is not None:
                shutil.rmtree(sockets, ignore_errors=True)
    return 0


def _stop_all(children: list[_Child]) -> None:
    for child in children:
        child.stop()


def _metrics_dir() -> str | None:
    """Before any worker forks: the directory where every worker writes its series (an
    operator's PROMETHEUS_MULTIPROC_DIR, emptied, or a new one removed at exit)."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):  # a previous run's counts must not add to ours
            stale.unlink()
        return None
    made = tempfile.mkdtemp(prefix="dealdesk-metrics-")
    os.environ[MULTIPROC_ENV] = made
    return made


def _worker_exited(server: Any, worker: Any) -> None:
    from api.metrics import mark_process_dead

    mark_process_dead(worker.pid)


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


def _post_fork(server: Any, worker: Any) -> None:
    from api.http import progress

    progress.attach(worker)
    if worker.cfg.threads > 1:
        sys.setswitchinterval(SWITCH_INTERVAL_S)


def _demo(settings: Settings, policies: tuple[PolicySet, int], host: str, port: int) -> None:
    """For `make run`: seed the demo org from the master, print a key, then let go."""
    from api.app import create_app

    # no metrics in the master: it serves nothing, and must not make values before forking
    app = create_app(
        dataclasses.replace(settings, metrics=False),
        policy_set=policies[0],
        policy_generation=policies[1],
    )
    runtime = app.extensions["dealdesk"]
    try:
        _seed(runtime, host, port)
    finally:
        runtime.pool.close()
        runtime.quick.close()
        if runtime.reads is not runtime.pool:
            runtime.reads.close()


def _seed(runtime: Any, host: str, port: int) -> None:
    from api.service.demo import seed_demo
    from api.service.demo_history import seed_history
    from api.service.keys import issue_key, withdraw_key
    from api.storage.database import transaction
    from api.storage.keys import list_keys

    policy = runtime.policies.active
    with transaction(runtime.pool) as conn:
        seeded = seed_demo(conn, policy)
        history = seed_history(conn, policy, runtime.today()) if seeded else 0
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
                *(
                    [
                        f"  demo history: {history} deals over the last few quarters; see",
                        "  /v1/reports/rescues, period-end, threshold-proximity, ...",
                    ]
                    if history
                    else []
                ),
                f"  admin key (shown once; a new one is made on each `make run`): {key}",
                "  try:",
                f"  curl -s -X POST http://{host}:{port}/v1/evaluations \\",
                f"    -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\",
                f'    -d \'{{"requested_by": "{am}", "deal": {{"deal_id": "Q-1", '
                f'"owner_id": "{am}", "currency": "{policy.currency}", '
                f'"list_amount": "250000.00", "{lever}": "18"}}}}\'',
                f"  finance console: http://{host}:{port}/console/ "
                "(sign in with the admin key above)",
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
