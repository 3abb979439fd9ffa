"""The pure parts: Standard Webhooks signing (checked by the standardwebhooks package), the
envelope's bytes, the retry schedule and which addresses count as public."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime

import orjson
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from api.dispatch.egress import Egress, allowed, is_public
from api.dispatch.schedule import SCHEDULE, next_delay
from api.events.envelope import build
from api.events.signing import headers, new_secret, secret_bytes


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(secret_bytes(secret)) == 32
    assert new_secret() != secret


def test_our_signature_verifies_with_the_standardwebhooks_package() -> None:
    secret = new_secret()
    envelope = build("webhook.test", 7, datetime(2026, 6, 10, 12, tzinfo=UTC), {"n": 1})
    body = envelope.body.encode()
    now = int(datetime.now(UTC).timestamp())
    signed = headers([secret], envelope.id, now, body)
    assert Webhook(secret).verify(body, signed) == orjson.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, signed)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", signed)


def test_two_secrets_give_two_signatures_each_verifying() -> None:
    old, new = new_secret(), new_secret()
    body = b'{"id":"evt_1"}'
    now = int(datetime.now(UTC).timestamp())
    signed = headers([new, old], "evt_1", now, body)
    assert len(signed["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, signed) == {"id": "evt_1"}


def test_the_envelope_has_the_contract_fields_in_order() -> None:
    envelope = build("policy.published", 42, datetime(2026, 6, 10, 12, tzinfo=UTC), {"a": "1"})
    assert envelope.body == (
        f'{{"id":"{envelope.id}","type":"policy.published",'
        '"created_at":"2026-06-10T12:00:00.000000Z","sequence":42,"data":{"a":"1"}}'
    )
    assert envelope.id.startswith("evt_") and "." not in envelope.id


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:93.184.216.34", True),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::a00:1", False),
        ("64:ff9b::5db8:d822", True),
        ("64:ff9b:1::1", False),
        ("2002:7f00:1::1", False),
        ("2002:c0a8:101::1", False),
        ("2002:5db8:d822::1", True),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_the_allow_list_opens_resolved_addresses_only() -> None:
    egress = Egress.parse(("127.0.0.0/8", "::1/128"), True)
    assert allowed(ipaddress.ip_address("127.0.0.1"), egress)
    assert allowed(ipaddress.ip_address("::1"), egress)
    assert not allowed(ipaddress.ip_address("10.0.0.1"), egress)


def test_the_retry_schedule_with_jitter_and_retry_after() -> None:
    rng = random.Random(7)
    delays = [next_delay(n, SCHEDULE, rng=rng) for n in range(1, 11)]
    assert delays[-1] is None
    for delay, base in zip(delays[:-1], SCHEDULE, strict=True):
        assert delay is not None and base * 0.9 <= delay <= base * 1.1
    assert next_delay(1, (1.0, 1.0, 2.0), retry_after_s=30) == 30
    assert next_delay(4, (1.0, 1.0, 2.0)) is None


def test_a_lease_shorter_than_a_send_is_refused() -> None:
    from api.config import ConfigError, Settings
    from api.dispatch.worker import Dispatcher

    settings = Settings(secret_key="k" * 40, webhook_lease_s=16, webhook_timeout_s=15)
    with pytest.raises(ConfigError, match="DEALDESK_WEBHOOK_LEASE_S must exceed the send"):
        Dispatcher(settings, "postgresql://unused")


def test_settings_read_the_webhook_variables() -> None:
    from api.config import ConfigError, Settings

    settings = Settings.from_env(
        {
            "DEALDESK_WEBHOOK_ALLOW_NETS": "127.0.0.0/8, ::1/128",
            "DEALDESK_WEBHOOK_ALLOW_HTTP": "1",
            "DEALDESK_WEBHOOK_RETRY_SCHEDULE": "1,1,2",
            "DEALDESK_CHECKPOINT_EVERY": "5",
        }
    )
    assert settings.webhook_allow_nets == ("127.0.0.0/8", "::1/128")
    assert settings.webhook_allow_http is True
    assert settings.webhook_retry_schedule == (1.0, 1.0, 2.0)
    assert (settings.checkpoint_every, settings.webhook_timeout_s) == (5, 15.0)
    with pytest.raises(ConfigError, match="comma-separated seconds"):
        Settings.from_env({"DEALDESK_WEBHOOK_RETRY_SCHEDULE": "1,soon"})
