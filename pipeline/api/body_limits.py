"""Request bodies bounded before they are read (OWASP API4, unrestricted resource consumption).

A pure ASGI middleware in front of every route, since a route (or FastAPI, for a JSON body) reads
the whole body before its own checks run:
- a write under /v1 without a valid bearer token is answered 401 before its body is read: FastAPI
  reads a body before it resolves the route's dependencies, so the route's own check comes late;
- a Content-Length above the route's limit is answered 413 before a byte of the body is read;
- a body without one (chunked) is counted as it arrives and answered 413 once it passes the limit;
  the route then sees the client gone, and whatever it still answers is dropped.
Limits (ApiConfig, RATING_API_MAX_*_BYTES): small for JSON, larger where a route takes a file.
"""
from __future__ import annotations

import re

from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.api.config import ApiConfig
from pipeline.api.errors import Unauthorized, problem
from pipeline.api.routes_authorize import switch_or_caller

# (method, path, ApiConfig field); any other request may send at most max_body_bytes
LARGE_BODIES = (
    ("PUT", r"/v1/tariffs/[^/]+/rates", "max_rates_bytes"),
    ("POST", r"/tariffs(/[^/]+/rates)?", "max_rates_bytes"),  # the portal's tariff form with its CSV
    ("PUT", r"/v1/tariffs/[^/]+", "max_tariff_bytes"),
    ("PUT", r"/v1/accounts/[^/]+/logo", "max_logo_bytes"),
    ("POST", r"/branding", "max_logo_bytes"),  # the portal's invoice details with a logo
)
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DISCONNECT: Message = {"type": "http.disconnect"}


class BodyLimit:
    def __init__(self, app: ASGIApp, config: ApiConfig) -> None:
        self.app, self.default = app, config.max_body_bytes
        self.routes = [(method, re.compile(path), getattr(config, field)) for method, path, field in LARGE_BODIES]

    def limit_of(self, method: str, path: str) -> int:
        for route_method, pattern, limit in self.routes:
            if method == route_method and pattern.fullmatch(path):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if method in WRITES and path.startswith("/v1/"):
            refusal = _unauthorized(Request(scope))
            if refusal is not None:
                await _answer(scope, receive, send, 401, "Unauthorized", refusal, {"WWW-Authenticate": "Bearer"})
                return
        limit = self.limit_of(method, path)
        length = Request(scope).headers.get("content-length", "")
        if length.isdigit() and (len(length) > 18 or int(length) > limit):
            await _answer(scope, receive, send, *_too_large(limit))
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """The app, with its body counted as it is read: past the limit the client gets 413 and the
        app a disconnect, and what the app still sends is dropped."""
        received, refused, started = 0, False, False

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return DISCONNECT
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await _answer(scope, receive, send, *_too_large(limit))
                    return DISCONNECT
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return  # the client has its 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not refused:  # else: the app failing on the cut body (ClientDisconnect) was answered
                raise


def _unauthorized(request: Request) -> str | None:
    """Why the request's bearer token is refused (the routes' own rule: auth.api_caller, and for
    /v1/authorize a switch's token too), or None; None too when no backend is installed yet (the
    route then answers as it would)."""

    if getattr(request.app.state, "backend", None) is None:
        return None
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    credentials = HTTPAuthorizationCredentials(scheme=scheme, credentials=token) if scheme and token else None
    try:
        switch_or_caller(request, credentials)
    except Unauthorized as exc:
        return exc.detail
    return None


def _too_large(limit: int) -> tuple[int, str, str]:
    return 413, "Content Too Large", f"the body is larger than {limit:,} bytes, the most this route reads"


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, title: str, detail: str,
                  headers: dict | None = None) -> None:
    await problem(status, title, detail, headers)(scope, receive, send)
