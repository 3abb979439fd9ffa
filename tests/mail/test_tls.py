"""TLS is always verified: STARTTLS with a login and implicit TLS (smtps) deliver with the
test's own CA trusted through DEALDESK_SMTP_CAFILE; without it, nothing is sent and the
notification waits for a retry."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask.testing import FlaskClient

from api.config import Settings
from api.dispatch.worker import Dispatcher
from tests.mail.conftest import address, rows, settled, submit
from tests.mail.smtpd import Handler, server_context, smtp_server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for localhost and 127.0.0.1: (cert file, key file)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dealdesk test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


class Logins:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        assert isinstance(data, LoginPassword)
        self.seen.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password == b"s3cret pass")


def dispatch(settings: Settings, db: str) -> Iterator[Dispatcher]:
    worker = Dispatcher(settings, db, threads=2)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    yield worker
    worker.stop.set()
    thread.join(timeout=10)


@pytest.mark.usefixtures("people")
def test_starttls_with_a_login_delivers_through_a_verified_context(
    client: FlaskClient,
    admin: dict[str, str],
    settings: Settings,
    certificate: tuple[str, str],
    smtp_port: int,
    db: str,
) -> None:
    logins = Logins()
    tls = {
        "tls_context": server_context(*certificate),
        "require_starttls": True,
        "authenticator": logins,
        "auth_require_tls": True,
    }
    with smtp_server(Handler(), port=smtp_port, **tls) as (handler, _):
        url = f"smtp+starttls://relay:s3cret%20pass@127.0.0.1:{smtp_port}"
        mailing = dataclasses.replace(settings, smtp_url=url, smtp_cafile=Path(certificate[0]))
        for _ in dispatch(mailing, db):
            submit(client, admin)
            [mail] = handler.wait_for(1)
    assert mail.to == [address("sm.lee")]
    assert logins.seen == [("relay", "s3cret pass")]


@pytest.mark.usefixtures("people")
def test_smtps_delivers_and_an_untrusted_certificate_sends_nothing(
    client: FlaskClient,
    admin: dict[str, str],
    settings: Settings,
    certificate: tuple[str, str],
    smtp_port: int,
    db: str,
) -> None:
    with smtp_server(Handler(), port=smtp_port, ssl_context=server_context(*certificate)) as (
        handler,
        _,
    ):
        url = f"smtps://127.0.0.1:{smtp_port}"
        untrusted = dataclasses.replace(settings, smtp_url=url)
        for _ in dispatch(untrusted, db):
            submit(client, admin)
            deadline = dt.datetime.now() + dt.timedelta(seconds=10)
            while not rows(db, "SELECT last_error FROM notifications")[0][0]:
                assert dt.datetime.now() < deadline
        [(status, error)] = rows(db, "SELECT status, last_error FROM notifications")
        assert status == "pending" and "CERTIFICATE_VERIFY_FAILED" in error
        assert handler.received == []
        trusted = dataclasses.replace(untrusted, smtp_cafile=Path(certificate[0]))
        for _ in dispatch(trusted, db):
            [mail] = handler.wait_for(1)
            assert settled(db, 1)[0][2] == "sent"
    assert mail.to == [address("sm.lee")]
