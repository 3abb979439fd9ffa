"""SSRF: without DEALDESK_WEBHOOK_ALLOW_NETS / _ALLOW_HTTP a subscription URL must be https
and resolve only to public addresses; the 422 names `url`."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://127.0.0.1/hook", "resolves to 127.0.0.1, which is not a public address."),
        ("https://10.1.2.3/hook", "resolves to 10.1.2.3, which is not a public address."),
        (
            "https://[::ffff:127.0.0.1]/hook",
            "resolves to ::ffff:7f00:1, which is not a public address.",
        ),
        (
            "https://[2002:7f00:1::1]/hook",
            "resolves to 2002:7f00:1::1, which is not a public address.",
        ),
        (
            "https://[64:ff9b::a00:1]/hook",
            "resolves to 64:ff9b::a00:1, which is not a public address.",
        ),
        (
            "https://169.254.169.254/latest",
            "resolves to 169.254.169.254, which is not a public address.",
        ),
        ("http://93.184.216.34/hook", "Must be an https URL."),
        ("ftp://example.com/", "Must be an https URL."),
    ],
    ids=["loopback", "rfc1918", "ipv4-mapped", "6to4", "nat64", "metadata", "http", "ftp"],
)
def test_ssrf_refusals_without_the_allow_list(
    client: FlaskClient, admin: dict[str, str], url: str, message: str
) -> None:
    response = client.post(
        "/v1/webhook-subscriptions", json={"url": url, "event_types": ["*"]}, headers=admin
    )
    assert response.status_code == 422
    assert response.json["errors"]["url"][0].endswith(message)


def test_a_host_name_resolving_to_loopback_is_refused(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    response = client.post(
        "/v1/webhook-subscriptions",
        json={"url": "https://localhost:8443/hook", "event_types": ["*"]},
        headers=admin,
    )
    assert response.status_code == 422
    assert response.json["errors"]["url"][0].startswith("The host 'localhost' resolves to ")
