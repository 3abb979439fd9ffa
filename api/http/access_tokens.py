"""OAuth 2.0 access tokens on /v1: the issuer's JWKS, fetched and cached, and the signature and
claim checks (PyJWT). The rules of what a verified token grants are api/identity/tokens.py.

Keys come from DEALDESK_JWT_JWKS_URL, else from the `jwks_uri` of the issuer's discovery
document (OpenID, then RFC 8414). They are kept for five minutes and fetched again at once for
an unknown `kid`, at most once per 30 s. An issuer that cannot be reached while no keys are
held is `Unavailable` (503, logged, no stack trace): the token may be fine."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api.errors import Unavailable
from api.identity.tokens import (
    ALGORITHMS,
    LEEWAY_S,
    MAX_TOKEN_CHARS,
    REFETCH_COOLDOWN_S,
    Grant,
    GrantCache,
    TokenRefused,
    grant_of,
)

log = logging.getLogger("dealdesk.tokens")
MAX_DOCUMENT_BYTES = 1024 * 1024
LIFESPAN_S = 300.0
RETRY_S = 5.0
"""With no keys held, a failed fetch is not tried again for this long: requests meanwhile get
503 at once rather than each waiting on an issuer that is away."""
Clock = Callable[[], float]
UNREACHABLE = "The access token's issuer cannot be reached for its keys; try again."


def fetch_json(url: str, timeout_s: float) -> Any:
    """GET a JSON document over http(s); raises OSError or ValueError when it cannot."""
    if urlsplit(url).scheme not in ("https", "http"):
        raise ValueError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
        raw = response.read(MAX_DOCUMENT_BYTES + 1)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
    return json.loads(raw)


def discovery_urls(issuer: str) -> list[str]:
    """OpenID's `{issuer}/.well-known/openid-configuration`, then RFC 8414's forms."""
    base = issuer.rstrip("/")
    parts = urlsplit(base)
    urls = [
        f"{base}/.well-known/openid-configuration",
        f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{parts.path}",
        f"{base}/.well-known/oauth-authorization-server",
    ]
    return list(dict.fromkeys(urls))


class JwksCache:
    """The issuer's signing keys by `kid`; safe across threads (one fetch at a time)."""

    def __init__(
        self,
        issuer: str,
        jwks_url: str | None = None,
        *,
        timeout_s: float = 5.0,
        cooldown_s: float = REFETCH_COOLDOWN_S,
        lifespan_s: float = LIFESPAN_S,
        clock: Clock = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.timeout_s = timeout_s
        self.cooldown_s = cooldown_s
        self.lifespan_s = lifespan_s
        self.clock = clock
        self.fetches = 0
        """JWKS documents fetched (successfully or not): the tests count them."""
        self._keys: dict[str | None, jwt.PyJWK] | None = None
        self._fetched_at = 0.0
        self._refetched_at: float | None = None
        self._failed_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str | None) -> jwt.PyJWK:
        with self._lock:
            now = self.clock()
            if (
                self._keys is None
                and self._failed_at is not None
                and now - self._failed_at < RETRY_S
            ):
                raise Unavailable(UNREACHABLE)
            if self._keys is None or now - self._fetched_at >= self.lifespan_s:
                self._refresh(now)
            found = self._pick(kid)
            cooled = self._refetched_at is None or now - self._refetched_at >= self.cooldown_s
            if found is None and cooled:
                self._refetched_at = now
                self._refresh(now)
                found = self._pick(kid)
        if found is None:
            raise TokenRefused(f"The issuer publishes no key {kid!r} (the token's kid).")
        return found

    def _pick(self, kid: str | None) -> jwt.PyJWK | None:
        keys = self._keys or {}
        if kid is None and len(keys) == 1:
            return next(iter(keys.values()))
        return keys.get(kid)

    def _refresh(self, now: float) -> None:
        """Fetch the set; on failure keep the keys held (and retry after the cooldown)."""
        self.fetches += 1
        try:
            self._keys = parse_jwks(fetch_json(self._jwks_url(), self.timeout_s))
            self._fetched_at = now
        except (OSError, ValueError, Unavailable) as exc:
            log.warning("access tokens: cannot fetch the issuer's JWKS: %s", _reason(exc))
            if self._keys is None:
                self._failed_at = now
                raise Unavailable(UNREACHABLE) from None
            self._fetched_at = now - self.lifespan_s + self.cooldown_s

    def _jwks_url(self) -> str:
        if self.jwks_url is not None:
            return self.jwks_url
        for url in discovery_urls(self.issuer):
            try:
                document = fetch_json(url, self.timeout_s)
            except (OSError, ValueError) as exc:
                log.info("access tokens: no discovery document at %s: %s", url, _reason(exc))
                continue
            uri = document.get("jwks_uri") if isinstance(document, dict) else None
            if isinstance(uri, str) and urlsplit(uri).scheme in ("https", "http"):
                if document.get("issuer") != self.issuer:
                    log.warning(
                        "access tokens: %s names issuer %r, not DEALDESK_JWT_ISSUER %r",
                        url,
                        document.get("issuer"),
                        self.issuer,
                    )
                self.jwks_url = uri
                return uri
        raise Unavailable("The access token issuer's discovery document gives no jwks_uri.")


def parse_jwks(document: Any) -> dict[str | None, jwt.PyJWK]:
    """Signing keys by kid; keys for encryption, of other types, or unreadable are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("a JWKS is an object with a `keys` list")
    keys: dict[str | None, jwt.PyJWK] = {}
    for item in document["keys"]:
        if not isinstance(item, dict) or item.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(item)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
        kid = item.get("kid")
        keys[kid if isinstance(kid, str) else None] = key
    return keys


class TokenVerifier:
    """Verifies a bearer JWT once; the grant is cached (by the token's sha256) until it
    expires, so the evaluation path pays a dictionary lookup for a token already seen."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        keys: JwksCache,
        *,
        cache: GrantCache | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys = keys
        self.cache = cache or GrantCache()
        self.clock = clock

    def verify(self, token: str) -> Grant:
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRefused(f"The token is longer than {MAX_TOKEN_CHARS} characters.")
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = self.clock()
        grant = self.cache.get(digest, now)
        if grant is None:
            grant = grant_of(self._claims(token))
            self.cache.put(digest, grant, now)
        return grant

    def _claims(self, token: str) -> dict[str, Any]:
        alg, kid = _header(token)
        jwk = self.keys.key(kid)
        _check_fit(jwk, alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                jwk.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenRefused(_why(exc, self.issuer, self.audience)) from None
        except (ValueError, TypeError, RecursionError, OverflowError, UnicodeError):
            raise TokenRefused("The token's claims are not readable JSON.") from None
        return claims


def _header(token: str) -> tuple[str, str | None]:
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError, UnicodeError):
        raise TokenRefused("The token is not a well-formed JWT.") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        shown = alg if isinstance(alg, str) else type(alg).__name__
        raise TokenRefused(f"The token's alg {shown[:20]!r} is refused: RS256, PS256, ES256 only.")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > 256):
        raise TokenRefused("The token's kid is not a short string.")
    return alg, kid


def _check_fit(jwk: jwt.PyJWK, alg: str) -> None:
    """The key's own type (and its `alg`, when the JWKS names one) must fit the token's alg."""
    named = jwk._jwk_data.get("alg")
    key = jwk.key
    fits = (
        isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
        if alg == "ES256"
        else isinstance(key, rsa.RSAPublicKey)
    )
    if not fits or (named is not None and named != alg):
        raise TokenRefused(f"The issuer's key {jwk.key_id!r} is not for {alg}.")


def _why(exc: jwt.PyJWTError, issuer: str, audience: str) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "The token has expired."
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "The token is not valid yet (its nbf or iat is in the future)."
    if isinstance(exc, jwt.InvalidAudienceError):
        return f"The token's aud does not name {audience!r}."
    if isinstance(exc, jwt.InvalidIssuerError):
        return f"The token's iss is not {issuer!r}."
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"The token has no {exc.claim!r} claim."
    if isinstance(exc, jwt.InvalidSignatureError):
        return "The token's signature does not verify."
    if isinstance(exc, jwt.DecodeError) and str(exc).startswith("Invalid payload"):
        return "The token's claims are not readable JSON."
    return f"The token is not valid: {str(exc)[:200]}"


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def from_settings(
    issuer: str | None, audience: str | None, jwks_url: str | None
) -> TokenVerifier | None:
    """The verifier the settings call for, or None when access tokens are not configured."""
    if not issuer or not audience:
        return None
    return TokenVerifier(issuer, audience, JwksCache(issuer, jwks_url))
