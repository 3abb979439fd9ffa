"""The committed openapi.yaml is exactly what the schemas generate (regenerate: make openapi)."""

from __future__ import annotations

from pathlib import Path

import yaml
from flask import Flask

from api.app import openapi_document

ROOT = Path(__file__).resolve().parents[2]


def test_committed_spec_matches_generated(app: Flask) -> None:
    committed = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    assert committed == openapi_document(app), "openapi.yaml drifted: run `make openapi`"


def test_spec_is_served(client: object, app: Flask) -> None:
    served = yaml.safe_load(client.get("/openapi.yaml").data)  # type: ignore[attr-defined]
    assert served == openapi_document(app)
