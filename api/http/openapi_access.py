"""The OpenAPI document's access: a bearer API key, or an OAuth 2.0 access token from the
client-credentials grant (DESIGN 13), declared as schemes and on each operation with the
scope its view requires. Pure: dicts in, dicts out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BEARER, OAUTH = "bearerAuth", "oauth2"
TOKEN_URL_PLACEHOLDER = "https://idp.example.com/oauth2/token"  # noqa: S105 (a URL)
SCOPE_NOTES = {
    "evaluate": "Evaluate deals (POST /v1/evaluations).",
    "requests": "Submit, read, revise and withdraw approval requests; acknowledge overrides.",
    "approvals": "Approve, reject or return a request's current step.",
    "overrides": "Grant overrides; submit or revise around the owner.",
    "audit:read": "Read overrides, reports and the audit trail.",
    "audit:review": "Review overrides.",
    "people": "Read and change the registry of people.",
    "policies": "Read and simulate policies.",
    "webhooks": "Manage webhook subscriptions and deliveries.",
    "metrics": "Read /metrics.",
    "scim": "SCIM 2.0 provisioning of people (/scim/v2).",
    "admin": "Everything above, and reloading policies.",
}


def security_schemes(token_url: str | None) -> dict[str, dict[str, Any]]:
    """A bearer API key, or an OAuth 2.0 access token from client credentials (DESIGN 13)."""
    scopes = {f"dealdesk:{name}": note for name, note in SCOPE_NOTES.items()}
    return {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (`dealdesk keys create`), or an access token (a JWT).",
        },
        OAUTH: {
            "type": "oauth2",
            "description": "Access tokens from your identity provider's client-credentials "
            "grant: `dealdesk:<scope>` in `scope`, `scp` or `roles`. The token URL is your "
            "provider's (DEALDESK_JWT_TOKEN_URL; "
            f"{TOKEN_URL_PLACEHOLDER} is a placeholder).",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": token_url or TOKEN_URL_PLACEHOLDER,
                    "scopes": scopes,
                }
            },
        },
    }


def declare_security(doc: dict[str, Any], scopes: Mapping[tuple[str, str], str]) -> None:
    """Each operation that needs a scope: a bearer key, or a token granting `dealdesk:<scope>`
    (keyed by (path, method)); open operations keep their `security: []`."""
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            scope = scopes.get((path, method))
            if isinstance(operation, dict) and scope is not None and "security" not in operation:
                operation["security"] = [{BEARER: []}, {OAUTH: [f"dealdesk:{scope}"]}]
