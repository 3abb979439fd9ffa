"""Server-side console sessions: the cookie holds only a signed random id.

Flask's `session` is backed by a `console_sessions` row, found by the sha256 of that id; the
row holds the CSRF token and the API key it signed in with, joined to `api_keys` on every
request, so revoking the key ends the session at once, and 8 hours idle ends it too. A
session signed in through single sign-on holds its person and scopes instead, and also ends
12 hours after sign-in; either kind ends at once when its person is made inactive (the lookup
joins `people`). Outside /console (the /v1 API above all) the cookie is never read: those
requests get Flask's null session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Request, Response, current_app, g, request
from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, Signer
from werkzeug.datastructures import CallbackDict

from api.runtime import Runtime
from api.storage import console as store
from api.storage.database import transaction

IDLE = timedelta(hours=8)
SSO_LIFETIME = timedelta(hours=12)
SSO_VIA = "sso"
"""What a single sign-on session names as its key (the audit's `via_key`)."""
VISITOR_IDLE = timedelta(hours=1)
TOUCH_EVERY = timedelta(seconds=60)
COOKIE = "dealdesk_console"
SECURE_COOKIE = "__Host-dealdesk_console"
SALT = "dealdesk-console-session"
PREFIX = "/console"
STATIC = "/console/static/"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a session acts for: the API key it signed in with (never the key itself), or,
    with no key (`key_id` None), the person who signed in through single sign-on."""

    key_id: int | None
    key_name: str
    scopes: tuple[str, ...]
    person_id: str | None
    person_name: str | None = None

    def has(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    @property
    def sso(self) -> bool:
        return self.key_id is None

    def owner(self) -> store.Owner:
        if self.key_id is not None:
            return store.Owner(api_key_id=self.key_id)
        return store.Owner(person_id=self.person_id, scopes=self.scopes, lifetime=SSO_LIFETIME)


class ConsoleSession(CallbackDict[str, Any], SessionMixin):
    def __init__(
        self,
        data: dict[str, Any] | None = None,
        id_hash: str | None = None,
        user: SignedIn | None = None,
    ) -> None:
        def changed(_: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(data or {}, changed)
        self.id_hash = id_hash
        self.user = user
        self.new = id_hash is None
        self.modified = False
        self.sign_in_as: SignedIn | None = None
        self.ended = False

    def begin(self, user: SignedIn) -> None:
        """Sign in: the saved session gets a fresh id (no fixation), bound to `user`."""
        self.sign_in_as = user
        self.clear()
        g.pop("csrf_token", None)
        self.modified = True

    def end(self) -> None:
        self.ended = True
        self.modified = True


def hash_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class ConsoleSessions(SessionInterface):
    def open_session(self, app: Flask, req: Request) -> ConsoleSession | None:
        path = req.path
        if not (path == PREFIX or path.startswith(PREFIX + "/")) or path.startswith(STATIC):
            return None  # Flask's null session: the cookie is not even read
        rt = _runtime(app)
        _ensure_secret(app, rt)
        g.pop("csrf_token", None)  # Flask-WTF's per-context cache: the token is this session's
        session_id = self._unsign(app, req.cookies.get(_cookie_name(req)))
        if session_id is None:
            return ConsoleSession()
        id_hash = hash_id(session_id)
        with transaction(rt.quick) as conn:
            row = store.find_session(conn, id_hash, IDLE)
            if row is None:
                return ConsoleSession()
            key_refused = row.api_key_id is not None and not rt.settings.console_key_signin
            if row.revoked or not row.person_active or key_refused:
                store.delete_session(conn, id_hash)
                return ConsoleSession()
            visitor = row.person_id is None and row.api_key_id is None
            if visitor and row.last_seen_at < _now() - VISITOR_IDLE:
                return ConsoleSession()
            if row.last_seen_at < _now() - TOUCH_EVERY:
                store.touch(conn, id_hash)
        return ConsoleSession(dict(row.data), id_hash, _signed_in(row))

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, ConsoleSession) or not session.modified:
            return
        rt = _runtime(app)
        name = _cookie_name(request)
        with transaction(rt.quick) as conn:
            if session.ended or session.sign_in_as is not None:
                if session.id_hash is not None:
                    store.delete_session(conn, session.id_hash)
                if session.ended:
                    response.delete_cookie(name, path="/", secure=name == SECURE_COOKIE)
                    return
            if session.sign_in_as is not None or session.new:
                user = session.sign_in_as
                session_id = secrets.token_urlsafe(32)
                owner = user.owner() if user else store.Owner()
                store.create_session(conn, hash_id(session_id), owner, dict(session))
                if user is not None:
                    store.purge(conn, IDLE, VISITOR_IDLE)
                self._set_cookie(app, response, name, session_id)
            elif session.id_hash is not None:
                store.save_data(conn, session.id_hash, dict(session))

    def _set_cookie(self, app: Flask, response: Response, name: str, session_id: str) -> None:
        value = Signer(str(app.secret_key), salt=SALT).sign(session_id).decode()
        response.set_cookie(
            name,
            value,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=name == SECURE_COOKIE,
        )

    def _unsign(self, app: Flask, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return Signer(str(app.secret_key), salt=SALT).unsign(value).decode()
        except BadSignature:
            return None


def _signed_in(row: store.SessionRow) -> SignedIn | None:
    """Who the row acts for: its key, or its single sign-on person; None for a visitor."""
    scopes = tuple(row.scopes or ())
    if row.api_key_id is not None and row.key_name is not None:
        return SignedIn(row.api_key_id, row.key_name, scopes, row.person_id, row.person_name)
    if row.person_id is not None:
        return SignedIn(None, SSO_VIA, scopes, row.person_id, row.person_name)
    return None


def _cookie_name(req: Request) -> str:
    """Behind https the cookie is `__Host-` prefixed and Secure; over plain http it cannot be."""
    return SECURE_COOKIE if req.is_secure else COOKIE


def _ensure_secret(app: Flask, rt: Runtime) -> None:
    if app.secret_key:
        return
    secret = rt.settings.secret_key
    if secret is None:
        with transaction(rt.quick) as conn:
            secret = store.console_secret(conn)
    app.secret_key = secret


def _runtime(app: Flask) -> Runtime:
    rt: Runtime = (app or current_app).extensions["dealdesk"]
    return rt


def _now() -> datetime:
    return datetime.now(UTC)
