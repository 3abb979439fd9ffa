"""What an ID token's claims mean here: the person's identifier, their roles, their scopes.

Pure: claims in, values out. The roles claim may be a dotted path (`realm_access.roles`) and
a string or a list; roles map to scopes through DEALDESK_OIDC_ROLE_SCOPES.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

RoleScopes = tuple[tuple[str, tuple[str, ...]], ...]


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The claim named `path`; a name not found whole is walked as a dotted path (claim
    names may hold dots themselves: `https://example.com/roles`)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def person_claim(claims: Mapping[str, Any], path: str) -> str | None:
    """The identifier to match against people, or None when absent or not a string."""
    value = claim_at(claims, path)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def roles_of(claims: Mapping[str, Any], path: str) -> tuple[str, ...]:
    """The roles claim as a tuple: one string is one role; in a list, the strings."""
    value = claim_at(claims, path)
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(dict.fromkeys(v for v in value if isinstance(v, str) and v))
    return ()


def scopes_for(roles: tuple[str, ...], mapping: RoleScopes) -> tuple[str, ...]:
    """Every scope the roles map to, in the mapping's order, each once."""
    held = set(roles)
    return tuple(dict.fromkeys(s for role, scopes in mapping if role in held for s in scopes))


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge (RFC 7636 section 4)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
