"""Prometheus series for operators; no Flask here, so the webhook dispatcher can record too.

Under `dealdesk serve` every process writes its values to files in PROMETHEUS_MULTIPROC_DIR
(set by the master before any worker forks) and `/metrics` sums them over every worker, live
or exited: counters and histograms keep what exited workers counted, gauges count live
workers only. Without that variable (tests, one process) the values live in this process.

The series (all prefixed `dealdesk_`):
- `http_requests_total{route,method,status}` and `http_request_duration_seconds{route,method}`
- `decisions_total{outcome,source}`: source is evaluation, submission or revision
- `overrides_total{category}`: one per category of each override made
- `webhook_deliveries_total{result}`, `webhook_delivery_lag_seconds`: see record_delivery
- `policy_info{name,version,sha256}` (1 for the active policy of a live worker),
  `policy_generation` and `policy_loaded_timestamp_seconds`: the oldest over live workers,
  so a worker still on an old generation shows (DESIGN 7: it should never last)
- `pool_connections{pool,state}`: size, available and waiting, per pool, over live workers
- `decision_log_rows_total{result}` (written, stale, unstorable, unavailable),
  `decision_log_group_rows` and `decision_log_commit_seconds`: the decision-log writer's
  groups, how many rows each carried and how long its commit took
- `approval_step_seconds{tier}`: time from a step becoming current to its approver acting
  (observed when the action commits); `approval_steps_overdue`: pending current steps past
  their due time, counted in the database at each scrape (DESIGN 14)
"""

from __future__ import annotations

import contextlib
import glob
import os
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0)
GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
STEP_BUCKETS = (
    10.0,
    60.0,
    300.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    14400.0,
    28800.0,
    86400.0,
    172800.0,
    604800.0,
)
POOL_EVERY_S = 1.0


class Metrics:
    """The series of one process, registered once (prometheus-client's registry is global)."""

    def __init__(self) -> None:
        self.requests = Counter(
            "dealdesk_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
        )
        self.latency = Histogram(
            "dealdesk_http_request_duration_seconds",
            "Time from the request's arrival to its response (streams: to the first byte).",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
        )
        self.decisions = Counter(
            "dealdesk_decisions", "Decisions made, by outcome and source.", ["outcome", "source"]
        )
        self.overrides = Counter(
            "dealdesk_overrides", "Overrides made, once per category each carries.", ["category"]
        )
        self.deliveries = Counter(
            "dealdesk_webhook_deliveries", "Webhook delivery attempts, by result.", ["result"]
        )
        self.delivery_lag = Histogram(
            "dealdesk_webhook_delivery_lag_seconds",
            "Time from an event's commit to its delivery attempt.",
            buckets=LAG_BUCKETS,
        )
        self.policy_info = Gauge(
            "dealdesk_policy_info",
            "1 for the active policy a live worker serves.",
            ["name", "version", "sha256"],
            multiprocess_mode="livemax",
        )
        self.pool = Gauge(
            "dealdesk_pool_connections",
            "Database connections by pool and state, summed over live workers.",
            ["pool", "state"],
            multiprocess_mode="livesum",
        )
        self.log_rows = Counter(
            "dealdesk_decision_log_rows",
            "Evaluation rows the decision-log writer answered, by verdict.",
            ["result"],
        )
        self.log_group = Histogram(
            "dealdesk_decision_log_group_rows",
            "Rows per commit of the decision-log writer.",
            buckets=GROUP_BUCKETS,
        )
        self.log_commit = Histogram(
            "dealdesk_decision_log_commit_seconds",
            "Time the decision-log writer's group insert and commit took.",
            buckets=LATENCY_BUCKETS,
        )
        self.step_seconds = Histogram(
            "dealdesk_approval_step_seconds",
            "Time from a step becoming current to its approver acting, by the step's tier.",
            ["tier"],
            buckets=STEP_BUCKETS,
        )
        # made on first use: an unset gauge would count as 0 in livemin for a process (the
        # gunicorn master, the dispatcher) that never serves a policy
        self._policy_loaded: Gauge | None = None
        self._policy_generation: Gauge | None = None
        self._policy_seen: tuple[tuple[str, str, str], int] | None = None
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[tuple[str, str], Any] = {}
        self._decided: dict[tuple[str, str], Any] = {}
        self._verdicts: dict[str, Any] = {}
        self._pool_at = 0.0
        self._lock = threading.Lock()

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        # children are cached: labels() takes a lock and builds keys, about half the cost
        key = (route, method, status)
        counted = self._counted.get(key)
        if counted is None:
            counted = self._counted[key] = self.requests.labels(route, method, str(status))
        timed = self._timed.get(key[:2])
        if timed is None:
            timed = self._timed[key[:2]] = self.latency.labels(route, method)
        counted.inc()
        timed.observe(seconds)

    def record_decision(self, outcome: str, source: str) -> None:
        decided = self._decided.get((outcome, source))
        if decided is None:
            decided = self._decided[outcome, source] = self.decisions.labels(outcome, source)
        decided.inc()

    def record_override(self, categories: Iterable[str]) -> None:
        for category in categories:
            self.overrides.labels(category).inc()

    def record_delivery(self, result: str, lag_seconds: float) -> None:
        self.deliveries.labels(result).inc()
        self.delivery_lag.observe(lag_seconds)

    def observe_step(self, tier: str, seconds: float) -> None:
        self.step_seconds.labels(tier).observe(seconds)

    def record_log_group(self, verdicts: list[str], seconds: float) -> None:
        """One commit of the decision-log writer: each row's verdict and the time it took."""
        for verdict in set(verdicts):
            child = self._verdicts.get(verdict)
            if child is None:
                child = self._verdicts[verdict] = self.log_rows.labels(verdict)
            child.inc(verdicts.count(verdict))
        self.log_group.observe(len(verdicts))
        self.log_commit.observe(seconds)

    def set_policy(self, policy: tuple[str, str, str], generation: int, loaded_at: float) -> None:
        """The active policy (name, version, sha256) and the generation of the set in force;
        cheap to call on every request: it writes only when they change."""
        seen = (policy, generation)
        if seen == self._policy_seen:
            return
        with self._lock:
            if self._policy_seen is not None and self._policy_seen[0] != policy:
                self.policy_info.labels(*self._policy_seen[0]).set(0)
            self.policy_info.labels(*policy).set(1)
            if self._policy_loaded is None or self._policy_generation is None:
                self._policy_loaded = Gauge(
                    "dealdesk_policy_loaded_timestamp_seconds",
                    "When the oldest live worker's policy set was loaded (Unix time).",
                    multiprocess_mode="livemin",
                )
                self._policy_generation = Gauge(
                    "dealdesk_policy_generation",
                    "The oldest policy-set generation any live worker serves.",
                    multiprocess_mode="livemin",
                )
            self._policy_loaded.set(loaded_at)
            self._policy_generation.set(generation)
            self._policy_seen = seen

    def pool_due(self) -> bool:
        """True at most once a second per process: pool figures are sampled, not per request."""
        now = time.monotonic()
        if now - self._pool_at < POOL_EVERY_S:
            return False
        self._pool_at = now
        return True

    def set_pool(self, pool: str, stats: Mapping[str, int]) -> None:
        self.pool.labels(pool, "size").set(stats.get("pool_size", 0))
        self.pool.labels(pool, "available").set(stats.get("pool_available", 0))
        self.pool.labels(pool, "waiting").set(stats.get("requests_waiting", 0))


_shared: Metrics | None = None
_shared_lock = threading.Lock()


def shared() -> Metrics:
    """This process's series, made on first use (not at import: the multiprocess directory
    must be chosen before the first value exists)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Metrics()
        return _shared


def record_delivery(result: str, lag_seconds: float) -> None:
    """For the webhook dispatcher: one delivery attempt (`result`: delivered, failed,
    gave_up ...) and the seconds since its event was committed."""
    shared().record_delivery(result, lag_seconds)


def overdue_gauge(count: int) -> bytes:
    """`dealdesk_approval_steps_overdue` in the text format: counted by the database at the
    scrape, so every worker answers the same and nothing needs merging across processes."""
    return (
        b"# HELP dealdesk_approval_steps_overdue Pending current approval steps past their due"
        b" time.\n# TYPE dealdesk_approval_steps_overdue gauge\n"
        + f"dealdesk_approval_steps_overdue {count}\n".encode()
    )


class _Collector(multiprocess.MultiProcessCollector):
    """prometheus-client's sum over the processes' files, less any file still empty.

    A process creates its file before it sizes it, so a scrape can meet it at 0 bytes, and a
    process killed in between leaves it so for good. prometheus-client then fails the whole
    scrape (struct.error, a 500), losing every other worker's values too (client_python
    issue 1199). An empty file holds nothing yet: leaving it out loses nothing."""

    def collect(self) -> Any:
        files = []
        for path in glob.glob(os.path.join(self._path, "*.db")):
            with contextlib.suppress(FileNotFoundError):  # a dead worker's live gauges
                if os.path.getsize(path):
                    files.append(path)
        return self.merge(files, accumulate=True)  # type: ignore[no-untyped-call]


def exposition() -> bytes:
    """The text format, summed over every process when running multiprocess."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        _Collector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def mark_process_dead(pid: int) -> None:
    """For the gunicorn master when a worker exits: its live gauges stop counting."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
