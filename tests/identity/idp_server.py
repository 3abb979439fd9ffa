"""A real OpenID provider on loopback for the SSO tests: npm's oauth2-mock-server (pinned in
tests/identity/idp/package-lock.json), installed once under .dealdesk/idp with `npm ci` and
started by tests/identity/idp/idp.mjs. The claims it puts in the next tokens come from a file
the test writes (`IdentityProvider.claims`)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

SOURCE = Path(__file__).parent / "idp"
FILES = ("package.json", "package-lock.json", "idp.mjs")
CLIENT_ID = "dealdesk-console"
ROLE_SCOPES = (
    "finance=audit:read,audit:review;deal-desk=audit:read,requests,approvals,policies;it=admin"
)


@dataclass(frozen=True)
class IdentityProvider:
    issuer: str
    claims_file: Path

    def claims(self, **claims: Any) -> None:
        """The claims the provider puts in the next tokens (None removes one)."""
        self.claims_file.write_text(json.dumps(claims))


def install(home: Path) -> Path:
    """Copy the pinned package files to `home` and `npm ci` there unless already done."""
    home.mkdir(parents=True, exist_ok=True)
    lock = (SOURCE / "package-lock.json").read_bytes()
    marker = home / "node_modules" / "oauth2-mock-server" / "package.json"
    fresh = marker.exists() and (home / "package-lock.json").read_bytes() == lock
    for name in FILES:
        shutil.copyfile(SOURCE / name, home / name)
    if not fresh:
        npm = shutil.which("npm")
        assert npm is not None, "the SSO tests need node and npm (apt-get install nodejs npm)"
        subprocess.run(
            [npm, "ci", "--prefix", str(home), "--no-audit", "--no-fund", "--loglevel=error"],
            check=True,
            timeout=300,
        )
    return home / "idp.mjs"


@pytest.fixture(scope="session")
def idp() -> Iterator[IdentityProvider]:
    home = ROOT / ".dealdesk" / "idp"
    script = install(home)
    claims_file = home / f"claims-{os.getpid()}.json"
    claims_file.write_text("{}")
    node = shutil.which("node")
    assert node is not None, "the SSO tests need node"
    env = {**os.environ, "IDP_CLAIMS_FILE": str(claims_file)}
    process = subprocess.Popen(
        [node, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    assert process.stdout is not None and process.stderr is not None
    line = process.stdout.readline()
    if not line:
        process.wait(10)
        raise AssertionError(f"the test OpenID provider did not start: {process.stderr.read()}")
    started = json.loads(line)
    yield IdentityProvider(started["issuer"], claims_file)
    process.terminate()
    process.wait(10)
    process.stdout.close()
    process.stderr.close()
    claims_file.unlink(missing_ok=True)


def follow_authorize(url: str) -> str:
    """GET the provider's authorization URL (it has no login page) and return where it sends
    the browser back: `/console/oidc/callback?code=...&state=...`."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}")
        response = conn.getresponse()
        response.read()
        assert response.status == 302, response.status
        back = urllib.parse.urlsplit(response.headers["Location"])
    finally:
        conn.close()
    return f"{back.path}?{back.query}"
