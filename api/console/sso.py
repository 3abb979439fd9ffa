"""Single sign-on to the console through an OpenID provider (DESIGN 13).

`GET /console/oidc/start` keeps a fresh `state`, `nonce` and PKCE verifier in the visitor's
server-side session and sends the browser to the provider. It is a link, not a form: the
console's CSP has `form-action 'self'`, which stops a form's redirect to another origin;
starting a sign-in changes nothing, and the callback's `state` is what stops a forged one.
`GET /console/oidc/callback` checks the state, exchanges the code, verifies the ID token,
finds the person by the configured claim and maps their roles to scopes. The session it
begins is bound to that person, like a people-bound key. Every refusal is a sign-in page that
says why; a provider that is down or answers garbage is one log line and a 502 page, never a
stack trace.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from flask import Flask, Response, current_app, redirect, request, session

from api.config import Settings
from api.console.blueprint import bp
from api.console.sessions import SSO_VIA, ConsoleSession, SignedIn
from api.console.views import safe_next, sign_in_page
from api.errors import NotFound
from api.http.context import runtime
from api.sso.claims import person_claim, pkce_pair, roles_of, scopes_for
from api.sso.provider import Client, OpenIdProvider, ProviderUnavailable, SignInRefused
from api.storage import console as store
from api.storage.database import transaction

log = logging.getLogger("dealdesk.console.sso")
EXTENSION = "dealdesk-oidc"
PENDING = "oidc"
CALLBACK = "/console/oidc/callback"


def install(app: Flask, settings: Settings) -> None:
    """With an issuer set, make the provider's client (discovery waits for the first sign-in,
    so a provider that is down never stops the server starting)."""
    if settings.oidc_issuer is None:
        return
    assert settings.oidc_client_id is not None and settings.public_url is not None
    client = Client(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        redirect_uri=settings.public_url + CALLBACK,
    )
    app.extensions[EXTENSION] = OpenIdProvider(client)


def provider() -> OpenIdProvider:
    found: OpenIdProvider | None = current_app.extensions.get(EXTENSION)
    if found is None:
        raise NotFound("Single sign-on is not configured on this server.")
    return found


@bp.route("/oidc/start")
def oidc_start() -> Response | tuple[str, int]:
    idp = provider()
    target = safe_next(request.args.get("next"))
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    try:
        url = idp.authorize_url(state, nonce, challenge)
    except ProviderUnavailable as exc:
        return _unavailable(target, exc)
    session[PENDING] = {"state": state, "nonce": nonce, "verifier": verifier, "next": target}
    return redirect(url)  # type: ignore[return-value]


@bp.route("/oidc/callback")
def oidc_callback() -> Response | tuple[str, int]:
    idp = provider()
    pending: dict[str, str] | None = session.pop(PENDING, None)
    target = safe_next(pending["next"] if pending else None)
    state = request.args.get("state", "")
    if pending is None or not hmac.compare_digest(state.encode(), pending["state"].encode()):
        detail = "This sign-in's state does not match the one this browser started"
        log.warning("single sign-on refused: %s", detail)
        return _refuse(target, 400, f"Sign-in failed: {detail}. Please sign in again.")
    if "error" in request.args:  # shown only with our state: nobody else's words on our page
        said = request.args.get("error_description") or request.args["error"]
        return _refuse(target, 403, f"Your identity provider did not sign you in: {said}")
    code = request.args.get("code", "")
    if not code:
        return _refuse(target, 400, "Sign-in failed: the identity provider sent no code.")
    try:
        claims = idp.sign_in(code, pending["verifier"], pending["nonce"])
    except ProviderUnavailable as exc:
        return _unavailable(target, exc)
    except SignInRefused as exc:
        log.warning("single sign-on refused: %s", exc)
        return _refuse(target, 400, f"Sign-in failed: {exc}. Please sign in again.")
    return _admit(claims, target)


def _admit(claims: dict[str, Any], target: str) -> Response | tuple[str, int]:
    """Begin a session for the person the claims name, with their roles' scopes, or say no."""
    settings = runtime().settings
    claim_name = settings.oidc_person_claim
    who = person_claim(claims, claim_name)
    if who is None:
        return _refuse(target, 403, f"Your identity provider sent no `{claim_name}` claim.")
    with transaction(runtime().quick) as conn:
        found = store.people_by_claim(conn, who)
    if not found:
        detail = f"No one in dealdesk's registry has the email or user name {who}."
        return _refuse(target, 403, f"{detail} Ask an administrator to add you.")
    if len(found) > 1 and found[1].active:
        return _refuse(target, 403, f"More than one person in dealdesk's registry is {who}.")
    person = found[0]
    if not person.active:
        return _refuse(target, 403, f"{person.id} is inactive in dealdesk's registry: no sign-in.")
    roles = roles_of(claims, settings.oidc_roles_claim)
    scopes = scopes_for(roles, settings.oidc_role_scopes)
    user = SignedIn(None, SSO_VIA, scopes, person.id, person.name)
    if not scopes:  # bound to a person, so any mapped scope admits: each page checks its own
        return _refuse(target, 403, _no_role(roles, settings))
    assert isinstance(session, ConsoleSession)
    session.begin(user)
    log.info("single sign-on: %s signed in with roles %s", person.id, ", ".join(roles))
    return redirect(target)  # type: ignore[return-value]


def _no_role(roles: tuple[str, ...], settings: Settings) -> str:
    held = ", ".join(roles) if roles else "none"
    mapped = tuple(role for role, scopes in settings.oidc_role_scopes if scopes)
    said = f"None of your roles ({held}, from the `{settings.oidc_roles_claim}` claim) admits you."
    if not mapped:
        return f"{said} No role is mapped to any of dealdesk's scopes yet."
    return f"{said} Roles that would: {', '.join(mapped)}."


def _unavailable(target: str, exc: ProviderUnavailable) -> tuple[str, int]:
    log.warning("single sign-on: the identity provider is unavailable: %s", exc)
    detail = "The identity provider could not be reached or gave an answer we cannot use"
    return _refuse(target, 502, f"Sign-in failed: {detail}. Try again in a moment.")


def _refuse(target: str, status: int, message: str) -> tuple[str, int]:
    return sign_in_page(target, message, status)
