"""SCIM test helpers: requests as an identity provider sends them, and its error shape."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient

SCIM = "application/scim+json"
USERS = "/scim/v2/Users"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DEALDESK = "urn:ietf:params:scim:schemas:extension:dealdesk:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class Scim:
    """Requests as an identity provider sends them: Bearer key, application/scim+json."""

    def __init__(self, client: FlaskClient, key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}"}

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        data = None if body is None else json.dumps(body)
        return self.client.open(
            path,
            method=method,
            data=data,
            content_type=SCIM if body is not None else None,
            headers=self.headers,
            **kwargs,
        )

    def post(self, body: dict[str, Any]) -> Any:
        return self.call("POST", USERS, body)

    def patch(self, user_id: str, *operations: dict[str, Any]) -> Any:
        return self.call(
            "PATCH", f"{USERS}/{user_id}", {"schemas": [PATCH_OP], "Operations": list(operations)}
        )


def user(user_name: str, **extra: Any) -> dict[str, Any]:
    """A User body as Okta sends it on create."""
    body: dict[str, Any] = {
        "schemas": [CORE],
        "userName": user_name,
        "name": {"givenName": user_name.split("@")[0].title(), "familyName": "Test"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "active": True,
    }
    body.update(extra)
    return body


def error(response: Any) -> dict[str, Any]:
    """A SCIM Error body, checked for its media type and schema."""
    assert response.mimetype == SCIM, response.data
    body = dict(response.json)
    assert body.pop("schemas") == [ERROR]
    return body
