"""An OpenID provider as the console's sign-in sees it: discovery, the authorization URL, the
code exchange and the ID token's verification (signature by JWKS, `iss`, `aud`, `exp`, `nonce`).

Our own few calls over urllib and PyJWT rather than Authlib's Flask client: Authlib needs
`requests` (which it does not depend on), its `authlib.jose` import warns (an error under our
warnings-as-errors), and what it would add here (sessions, a registry of clients) the console
already has. I/O happens only here; failures become one of two exceptions:
ProviderUnavailable (down, slow, or answering garbage) and SignInRefused (a token, state or
nonce we cannot accept).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt

DISCOVERY = "/.well-known/openid-configuration"
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
"""Asymmetric only: never `none`, never an HMAC keyed with something public."""
LEEWAY_S = 60
METADATA_TTL_S = 3600.0
KEYS_TTL_S = 300.0
REFETCH_S = 30.0
MAX_BODY = 1024 * 1024


class ProviderUnavailable(Exception):
    """The provider did not answer, or answered something that is not OpenID Connect."""


class SignInRefused(Exception):
    """The provider's answer cannot be trusted: its token, or the state or nonce."""


@dataclass(frozen=True, slots=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]
    basic_auth: bool
    """The client secret goes in HTTP Basic (RFC 6749's default), else in the form."""


@dataclass(frozen=True, slots=True)
class Client:
    issuer: str
    client_id: str
    client_secret: str | None
    redirect_uri: str
    timeout_s: float = 10.0


class OpenIdProvider:
    """One configured provider; its discovery document and JWKS are cached (the JWKS is
    fetched again when a token names a key it lacks)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._metadata: Metadata | None = None
        self._fetched_at = 0.0
        self._keys: jwt.PyJWKSet | None = None
        self._keys_at = 0.0

    def metadata(self) -> Metadata:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._fetched_at > METADATA_TTL_S:
                url = self.client.issuer.rstrip("/") + DISCOVERY
                self._metadata = _parse_metadata(_get_json(url, self.client.timeout_s), self.client)
                self._fetched_at = time.monotonic()
                self._keys = None
            return self._metadata

    def authorize_url(self, state: str, nonce: str, challenge: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client.client_id,
            "redirect_uri": self.client.redirect_uri,
            "scope": "openid email profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        endpoint = self.metadata().authorization_endpoint
        joiner = "&" if "?" in endpoint else "?"
        return endpoint + joiner + urllib.parse.urlencode(query)

    def sign_in(self, code: str, verifier: str, nonce: str) -> dict[str, Any]:
        """Exchange the code (with the PKCE verifier) and return the verified ID token's claims."""
        meta = self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.client.redirect_uri,
            "code_verifier": verifier,
            "client_id": self.client.client_id,
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        secret = self.client.client_secret
        if secret is not None and meta.basic_auth:
            headers["Authorization"] = _basic(self.client.client_id, secret)
        elif secret is not None:
            form["client_secret"] = secret
        body = urllib.parse.urlencode(form).encode()
        answer = _fetch(meta.token_endpoint, self.client.timeout_s, body, headers, SignInRefused)
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise ProviderUnavailable("the token endpoint's answer holds no id_token")
        return self.verify(id_token, nonce)

    def verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        meta = self.metadata()
        key = self._signing_key(id_token)
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=list(meta.algorithms),
                audience=self.client.client_id,
                issuer=meta.issuer,
                leeway=LEEWAY_S,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise SignInRefused(f"the ID token was refused: {exc}") from None
        if claims.get("nonce") != nonce:
            raise SignInRefused("the ID token's nonce is not the one this sign-in sent")
        return claims

    def _signing_key(self, id_token: str) -> jwt.PyJWK:
        """The provider's key the token names; on an unknown `kid` the JWKS is fetched again,
        at most once per REFETCH_S (a rotated key), never more (a flood of forged kids)."""
        try:
            kid = jwt.get_unverified_header(id_token).get("kid")
        except jwt.PyJWTError as exc:
            raise SignInRefused(f"the ID token is malformed ({exc})") from None
        key = _pick(self._key_set(refresh=False), kid)
        if key is None and time.monotonic() - self._keys_at > REFETCH_S:
            key = _pick(self._key_set(refresh=True), kid)
        if key is None:
            raise SignInRefused(f"the ID token's key {kid!r} is not among the provider's keys")
        return key

    def _key_set(self, refresh: bool) -> jwt.PyJWKSet:
        with self._lock:
            stale = time.monotonic() - self._keys_at > KEYS_TTL_S
            if self._keys is None or refresh or stale:
                assert self._metadata is not None
                doc = _fetch(self._metadata.jwks_uri, self.client.timeout_s)
                try:
                    self._keys = jwt.PyJWKSet.from_dict(doc)
                except jwt.PyJWTError as exc:
                    raise ProviderUnavailable(f"its JWKS holds no usable key ({exc})") from None
                self._keys_at = time.monotonic()
            return self._keys


def _pick(keys: jwt.PyJWKSet, kid: Any) -> jwt.PyJWK | None:
    """The key with this `kid`; with no `kid`, the set's only key."""
    if kid is None:
        return keys.keys[0] if len(keys.keys) == 1 else None
    return next((k for k in keys.keys if k.key_id == kid), None)


def _parse_metadata(doc: dict[str, Any], client: Client) -> Metadata:
    fields = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    missing = [f for f in fields if not isinstance(doc.get(f), str) or not doc[f]]
    if missing:
        raise ProviderUnavailable(f"its discovery document lacks {', '.join(missing)}")
    if doc["issuer"] != client.issuer:
        raise ProviderUnavailable(
            f"its discovery document names issuer {doc['issuer']!r}, not {client.issuer!r}"
        )
    offered = doc.get("id_token_signing_alg_values_supported")
    algorithms: tuple[str, ...] = ALGORITHMS
    if isinstance(offered, list):
        algorithms = tuple(a for a in ALGORITHMS if a in offered) or ("RS256",)
    methods = doc.get("token_endpoint_auth_methods_supported")
    basic = not isinstance(methods, list) or "client_secret_basic" in methods
    return Metadata(
        issuer=doc["issuer"],
        authorization_endpoint=doc["authorization_endpoint"],
        token_endpoint=doc["token_endpoint"],
        jwks_uri=doc["jwks_uri"],
        algorithms=algorithms,
        basic_auth=basic,
    )


def _basic(client_id: str, secret: str) -> str:
    """HTTP Basic client authentication, each part form-encoded first (RFC 6749 2.3.1)."""
    pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _get_json(url: str, timeout_s: float) -> dict[str, Any]:
    return _fetch(url, timeout_s)


def _fetch(
    url: str,
    timeout_s: float,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    refused: type[Exception] = ProviderUnavailable,
) -> dict[str, Any]:
    """A JSON object from the provider (GET, or POST of `body`), or ProviderUnavailable saying
    what went wrong (a 4xx raises `refused`: at the token endpoint, our code refused)."""
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise ProviderUnavailable(f"{url!r} is not an http(s) URL")
    req = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url, body, {"Accept": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as response:  # noqa: S310
            raw = response.read(MAX_BODY + 1)
    except urllib.error.HTTPError as exc:
        kind = refused if 400 <= exc.code < 500 else ProviderUnavailable
        raise kind(f"{url} answered HTTP {exc.code}") from None
    except (OSError, ValueError) as exc:
        raise ProviderUnavailable(f"{url} could not be reached ({exc})") from None
    if len(raw) > MAX_BODY:
        raise ProviderUnavailable(f"{url} answered more than {MAX_BODY} bytes")
    try:
        doc = json.loads(raw)
    except ValueError:
        raise ProviderUnavailable(f"{url} did not answer JSON") from None
    if not isinstance(doc, dict):
        raise ProviderUnavailable(f"{url} did not answer a JSON object")
    return doc
