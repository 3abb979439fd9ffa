"""`make run` prints the console's address and says the admin key it printed signs in."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.serve import _seed
from tests.console.conftest import sign_in


def test_make_run_prints_the_console_and_its_key_signs_in(
    app: Flask, client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(app.extensions["dealdesk"], "127.0.0.1", 8080)
    out = capsys.readouterr().out
    assert (
        "  finance console: http://127.0.0.1:8080/console/ (sign in with the admin key above)"
        in out.splitlines()
    )
    key = next(line.rsplit(" ", 1)[1] for line in out.splitlines() if "admin key" in line)
    assert sign_in(client, key).headers["Location"] == "/console/"
    assert client.get("/console/").status_code == 200
