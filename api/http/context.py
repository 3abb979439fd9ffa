"""The running app's Runtime, as views see it."""

from __future__ import annotations

from flask import current_app

from api.runtime import Runtime


def runtime() -> Runtime:
    current: Runtime = current_app.extensions["dealdesk"]
    return current
