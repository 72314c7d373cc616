"""Who is calling: bearer tokens for /v1, signed session cookies for the portal.

Sessions are itsdangerous-signed cookies (HttpOnly, SameSite=Lax, Secure when served over https)
carrying the account, a random session id, the account's session epoch and the session's CSRF
token. The signature proves the cookie was issued here; ref.credentials says whether it still
counts (session_records.py): signing out revokes its id, a password change or "sign out
everywhere" raises the epoch. Every instance reads that topic, so any instance serves, and refuses,
any session. Every portal form posts the CSRF token, compared in constant time. Failed sign-ins are
throttled per account and client (login_throttle.py).
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer

from pipeline.api.domains import may_sign_in_here
from pipeline.api.errors import Unauthorized
from pipeline.api.login_throttle import LoginLimiter, Throttled, client_key  # noqa: F401 (app.py, portal.py)
from pipeline.api.session_records import REVOKED_KEY, epoch_record, revoked_record
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller, caller_of

SESSION_COOKIE = "rp_session"
# a revoked session's record outlives its cookie by this much, for instances whose clocks run behind
CLOCK_SLACK_SECONDS = 300
LOGIN_COOKIE = "rp_login"  # the CSRF token of the login form, before there is a session
bearer = HTTPBearer(auto_error=False, description="`token create ACCOUNT` prints one")


def backend_of(request: Request) -> Backend:
    return request.app.state.backend


def api_caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Caller:
    backend = backend_of(request)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send Authorization: Bearer TOKEN")
    account = backend.live.credentials.account_of_token(credentials.credentials)
    caller = caller_of(backend.live.book, account) if account else None
    if caller is None:
        raise Unauthorized("the token is not valid (revoked, expired, mistyped, or its account is gone)")
    return caller


def _serializer(backend: Backend, purpose: str) -> URLSafeTimedSerializer:
    secret = backend.config.secret or backend.live.credentials.session_secret
    if not secret:
        raise RuntimeError("no session secret: set RATING_API_SECRET or let the API publish one")
    return URLSafeTimedSerializer(secret, salt=f"portal-{purpose}")


@dataclass(frozen=True)
class Session:
    account: str
    csrf: str
    session_id: str
    epoch: int
    issued: float  # Unix seconds, from the signature


def new_session(backend: Backend, account: str) -> tuple[str, str]:
    """(cookie value, csrf token) of a fresh session."""
    csrf = secrets.token_urlsafe(24)
    data = {"a": account, "c": csrf, "s": secrets.token_urlsafe(16),
            "e": backend.live.credentials.sessions.epoch(account)}
    return _serializer(backend, "session").dumps(data), csrf


def current_session(request: Request) -> Session | None:
    """The request's session if its cookie is genuine, unexpired, and neither revoked nor older than
    its account's epoch."""
    backend = backend_of(request)
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data, signed_at = _serializer(backend, "session").loads(
            raw, max_age=backend.config.session_seconds, return_timestamp=True)
        found = Session(str(data["a"]), str(data["c"]), str(data["s"]), int(data["e"]), signed_at.timestamp())
    except (BadSignature, KeyError, TypeError, ValueError):  # cookies of before session ids: sign in again
        return None
    admitted = backend.live.credentials.sessions.admits(found.account, found.session_id, found.epoch)
    return found if admitted else None


def read_session(request: Request) -> tuple[Caller, str] | None:
    """(caller, csrf token) of a valid session cookie, else None. On a reseller's own domain only
    his and his users' sessions count (pipeline/api/domains.py), however the cookie got there."""
    found = current_session(request)
    backend = backend_of(request)
    caller = caller_of(backend.live.book, found.account) if found else None
    if caller is not None and not may_sign_in_here(backend.live.book, backend.live.credentials.domains,
                                                   request.headers.get("host", ""), caller.account):
        return None
    return (caller, found.csrf) if caller else None


async def revoke_session(backend: Backend, found: Session) -> None:
    """Signing out: this session's id is refused everywhere until its cookie would expire anyway."""
    until = found.issued + backend.config.session_seconds + CLOCK_SLACK_SECONDS
    await backend.writer.publish_credential(*revoked_record(found.session_id, found.account, until))
    # revocations whose cookies have expired since go now (a few per sign-out keep up with them):
    # the topic holds only the ones that still matter
    for session_id in backend.live.credentials.sessions.expired(limit=10):
        await backend.writer.publish_credential(REVOKED_KEY + session_id, None)


async def revoke_all_sessions(backend: Backend, account: str) -> None:
    """Sign out everywhere: every session of the account issued until now is refused."""
    epoch = backend.live.credentials.sessions.next_epoch(account)
    await backend.writer.publish_credential(*epoch_record(account, epoch))


def login_token(backend: Backend) -> tuple[str, str]:
    """(cookie value, form value) guarding the login form against cross-site posts."""
    token = secrets.token_urlsafe(24)
    return _serializer(backend, "login").dumps(token), token


def login_token_matches(backend: Backend, cookie: str | None, form_value: str) -> bool:
    if not cookie:
        return False
    try:
        expected = _serializer(backend, "login").loads(cookie, max_age=3600)
    except BadSignature:
        return False
    return hmac.compare_digest(str(expected), form_value)


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected, given)
