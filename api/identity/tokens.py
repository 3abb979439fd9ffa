"""Access-token rules: which bearer values are JWTs, the scopes a token's claims grant, the
client it names, and a bounded cache of verified tokens so none is verified twice."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

ALGORITHMS = ("RS256", "PS256", "ES256")
"""Asymmetric only: never `none`, never HS* (a public key must not become an HMAC secret)."""
LEEWAY_S = 60
REFETCH_COOLDOWN_S = 30.0
MAX_TOKEN_CHARS = 16 * 1024
"""A bearer value longer than this is refused before anything parses it."""
SCOPE_PREFIX = "dealdesk:"
CLIENT_CLAIMS = ("client_id", "azp", "appid", "sub")
"""Who the token acts for, first present wins: OAuth's client_id, OpenID/Entra v2's azp,
Entra v1's appid, else the subject."""
MAX_CLIENT_CHARS = 256


class TokenRefused(Exception):
    """The bearer token is not acceptable; `detail` says why (it goes to the client)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Grant:
    """What one verified token may do: its client, its dealdesk scopes, and until when."""

    client: str
    scopes: tuple[str, ...]
    good_until: float
    """Epoch seconds: the token's `exp` plus the leeway; the cache drops it after that."""

    @property
    def actor(self) -> str:
        return f"jwt:{self.client}"


class Verifier(Protocol):
    """Verifies a bearer JWT (signature, iss, aud, times) and returns its grant; raises
    TokenRefused for a bad token, or the domain's Unavailable when the issuer is away."""

    def verify(self, token: str) -> Grant: ...


def looks_like_jwt(bearer: str) -> bool:
    """Three dot-separated parts is a JWT (JWS compact form); anything else is an API key."""
    return bearer.count(".") == 2


def scopes_of(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """`dealdesk:X` from `scope` (space-separated), `scp` (a list or a string) and `roles`
    (a list, as Entra sends an application's permissions); other values are ignored."""
    found: set[str] = set()
    for name in ("scope", "scp", "roles"):
        for value in _words(claims.get(name)):
            if value.startswith(SCOPE_PREFIX) and len(value) > len(SCOPE_PREFIX):
                found.add(value[len(SCOPE_PREFIX) :])
    return tuple(sorted(found))


def client_of(claims: Mapping[str, Any]) -> str:
    for name in CLIENT_CLAIMS:
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            if len(value) > MAX_CLIENT_CHARS:
                raise TokenRefused(f"The token's `{name}` is longer than {MAX_CLIENT_CHARS}.")
            return value.strip()
    raise TokenRefused("The token names no client: it has no client_id, azp or sub.")


def grant_of(claims: Mapping[str, Any], leeway_s: int = LEEWAY_S) -> Grant:
    """The grant of claims whose signature, issuer, audience and times are verified."""
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise TokenRefused("The token has no numeric `exp`.")
    return Grant(client_of(claims), scopes_of(claims), float(exp) + leeway_s)


def _words(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [word for item in value if isinstance(item, str) for word in item.split()]
    return ()


class GrantCache:
    """Verified tokens by digest, each kept until it expires; the oldest go first when full."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._grants: OrderedDict[str, Grant] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str, now: float) -> Grant | None:
        grant = self._grants.get(digest)
        if grant is None:
            return None
        if grant.good_until <= now:
            with self._lock:
                self._grants.pop(digest, None)
            return None
        return grant

    def put(self, digest: str, grant: Grant, now: float) -> None:
        with self._lock:
            self._grants[digest] = grant
            if len(self._grants) > self._size:
                self._evict(now)

    def __len__(self) -> int:
        return len(self._grants)

    def _evict(self, now: float) -> None:
        """Drop the expired; if that frees too little, the oldest, down to 90% (lock held)."""
        for digest in [d for d, g in self._grants.items() if g.good_until <= now]:
            del self._grants[digest]
        while len(self._grants) > self._size * 9 // 10:
            self._grants.popitem(last=False)
