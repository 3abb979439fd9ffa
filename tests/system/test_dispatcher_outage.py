"""A dispatcher thread outlives a PostgreSQL outage: it waits, reconnects, and delivers."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from api.config import Settings
from api.dispatch.egress import Egress
from api.dispatch.worker import Dispatcher
from api.service import webhooks
from api.service.sealing import SecretBox
from api.storage.database import init_database, open_pool, transaction
from tests.system import test_database_outage as outage
from tests.webhooks.receiver import Receiver, running, verified

private_server = outage.private_server
KEY = "outage-test-key-0123456789abcdef012345"


def test_the_dispatcher_waits_out_an_outage_and_recovers(private_server: object) -> None:
    url = private_server.get_uri()  # type: ignore[attr-defined]
    init_database(url)
    settings = Settings(
        database_url=url,
        home=Path("/nonexistent"),
        secret_key=KEY,
        webhook_allow_nets=("127.0.0.0/8",),
        webhook_allow_http=True,
    )
    worker = Dispatcher(settings, url, threads=2)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    ctx = webhooks.Context(
        datetime.now(UTC), "test", SecretBox(KEY), Egress.parse(("127.0.0.0/8",), True)
    )
    try:
        time.sleep(1.5)
        outage.stop(private_server)
        time.sleep(4)
        assert thread.is_alive()
        outage.start(private_server)
        with running(Receiver()) as receiver:
            pool = open_pool(url, max_size=2)
            try:
                with transaction(pool) as conn:
                    sub, secret = webhooks.create(conn, ctx, receiver.url, ["*"], None)
                    sent = webhooks.send_test(conn, ctx, sub.id)
            finally:
                pool.close()
            got = receiver.wait_for(1, timeout=30)
        assert verified(got[0], secret)["id"] == sent.id
    finally:
        worker.stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive()
