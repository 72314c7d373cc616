"""Who is calling: bearer tokens for /v1, signed session cookies for the portal.

Sessions are itsdangerous-signed cookies (HttpOnly, SameSite=Lax, Secure when served over https)
carrying the account and the session's CSRF token; nothing is stored server-side, so any instance
serves any session. Every portal form posts the CSRF token, compared in constant time. Login
attempts are limited per account and per client address, in each instance's memory (the one piece
of per-instance state: losing it on restart only resets the counters).
"""
from __future__ import annotations

import hmac
import secrets
import time
from collections import deque

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer

from pipeline.api.errors import TooManyAttempts, Unauthorized
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller, caller_of

SESSION_COOKIE = "rp_session"
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
        raise Unauthorized("the token is not valid (revoked, mistyped, or its account is gone)")
    return caller


def _serializer(backend: Backend, purpose: str) -> URLSafeTimedSerializer:
    secret = backend.config.secret or backend.live.credentials.session_secret
    if not secret:
        raise RuntimeError("no session secret: set RATING_API_SECRET or let the API publish one")
    return URLSafeTimedSerializer(secret, salt=f"portal-{purpose}")


def new_session(backend: Backend, account: str) -> tuple[str, str]:
    """(cookie value, csrf token) of a fresh session."""
    csrf = secrets.token_urlsafe(24)
    return _serializer(backend, "session").dumps({"a": account, "c": csrf}), csrf


def read_session(request: Request) -> tuple[Caller, str] | None:
    """(caller, csrf token) of a valid session cookie, else None."""
    backend = backend_of(request)
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(backend, "session").loads(raw, max_age=backend.config.session_seconds)
    except BadSignature:
        return None
    caller = caller_of(backend.live.book, data.get("a", ""))
    return (caller, data.get("c", "")) if caller else None


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


class LoginLimiter:
    """At most `attempts` failed logins per key within `window` seconds (sliding)."""

    def __init__(self, attempts: int, window: float, clock=time.monotonic) -> None:
        self.attempts, self.window, self.clock = attempts, window, clock
        self._failures: dict[str, deque[float]] = {}

    def check(self, *keys: str) -> None:
        now = self.clock()
        for key in keys:
            failures = self._failures.get(key)
            while failures and failures[0] <= now - self.window:
                failures.popleft()
            if failures and len(failures) >= self.attempts:
                wait = int(failures[0] + self.window - now) + 1
                raise TooManyAttempts(f"too many failed logins; try again in {wait} s")

    def failed(self, *keys: str) -> None:
        now = self.clock()
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 100_000:  # bounded memory under a spray of names
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)
