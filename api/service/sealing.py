"""Webhook secrets at rest: AES-256-GCM under DEALDESK_SECRET_KEY (or a generated key file).

Secrets must sign, so they cannot be stored as hashes. The key comes from the environment
(any string; SHA-256 turns it into 32 bytes, so give it 32+ random bytes, e.g. base64).
Without it a key is generated once into DEALDESK_HOME/secret.key with mode 0600: fine for one
machine, but every instance of a fleet must be given the same DEALDESK_SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from api.config import Settings

KEY_FILE = "secret.key"
NONCE = 12
CONTEXT = b"dealdesk webhook secret v1"


class SecretBox:
    def __init__(self, key_text: str) -> None:
        self._aead = AESGCM(hashlib.sha256(key_text.encode()).digest())

    def seal(self, secret: str) -> bytes:
        nonce = secrets.token_bytes(NONCE)
        return nonce + self._aead.encrypt(nonce, secret.encode(), CONTEXT)

    def open(self, sealed: bytes) -> str:
        sealed = bytes(sealed)
        return self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], CONTEXT).decode()


def secret_box(settings: Settings) -> SecretBox:
    if settings.secret_key:
        return SecretBox(settings.secret_key)
    return SecretBox(_key_file(settings.home))


def _key_file(home: Path) -> str:
    path = home / KEY_FILE
    home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return path.read_text().strip()
