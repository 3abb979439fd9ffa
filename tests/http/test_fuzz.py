"""Property-based fuzzing with schemathesis: every operation in openapi.yaml, against the live
app on the real database, with a valid key and with bad ones. Any 5xx, any response that
does not match the spec, and any stack trace fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
SENT: list[str] = []
MIN_REQUESTS = 1000

# psycopg_pool's background threads draw from the global `random` (jitter for connection
# expiry and reconnection). When that happens while hypothesis draws a case, hypothesis takes
# it for the strategy using `random` and warns; warnings are errors here, so say it is known.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies:"
    "hypothesis.errors.HypothesisDeprecationWarning"
)

api = schemathesis.openapi.from_path(Path(__file__).resolve().parents[2] / "openapi.yaml")


def _send(app: Flask, case: Any, headers: dict[str, str]) -> None:
    generated = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    case.headers = {**generated, **headers}
    response = case.call(app=app)
    SENT.append(f"{case.method} {case.path} {response.status_code}")
    case.validate_response(response, checks=CHECKS)
    assert "Traceback" not in response.text
    assert 'File "' not in response.text


@api.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_operation_with_a_valid_key(
    app: Flask, case: Any, admin: dict[str, str], org: Any
) -> None:
    _send(app, case, admin)


@api.parametrize()
@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_operation_with_a_bad_key(app: Flask, case: Any) -> None:
    _send(app, case, {"Authorization": "Bearer ddk_not-a-key"})


def test_fuzzing_sent_enough_requests() -> None:
    assert len(SENT) >= MIN_REQUESTS, f"only {len(SENT)} requests"
    assert len({s.split(" ", 1)[0] + " " + s.split(" ", 1)[1] for s in SENT}) >= 25
