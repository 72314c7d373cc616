"""The ASGI app: /v1 (JSON), the portal (/), /openapi.json; errors as RFC 7807 problems.

`create_app(backend)` takes any Backend (tests give in-memory ones); `production_app(settings)`
builds the Kafka + ClickHouse one inside the app's lifespan, so nothing is built at import time.
"""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.api import (
    portal,
    portal_account,
    portal_cards,
    portal_devices,
    portal_dids,
    portal_manage,
    portal_rates,
    portal_reports,
    routes_alerts,
    routes_authorize,
    routes_cards,
    routes_devices,
    routes_domains,
    routes_invoice_mail,
    routes_logins,
    routes_rates,
    routes_sessions,
    routes_usage,
    routes_v1,
)
from pipeline.api.auth import LoginLimiter
from pipeline.api.authorizer import KafkaAuthorizer
from pipeline.api.body_limits import BodyLimit
from pipeline.api.clickhouse_store import ClickHouseCalls
from pipeline.api.config import ApiConfig, api_config
from pipeline.api.credentials import session_secret_record
from pipeline.api.errors import PROBLEM, ApiError, Unauthorized, problem
from pipeline.api.invoice_store import LedgerInvoices, RunRerate
from pipeline.api.kafka_backend import Follower, KafkaWriter, ensure_api_topics
from pipeline.api.live import LiveData
from pipeline.api.models import Problem
from pipeline.api.portal import error_page
from pipeline.api.rates_upload import stop_parsing
from pipeline.api.stores import Backend
from pipeline.settings import Settings

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
# the portal runs no script at all and is never framed
PAGE_POLICY = ("default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
               "frame-ancestors 'none'; base-uri 'none'")
# a year, the usual; not includeSubDomains: a reseller's portal domain says nothing of its siblings
HSTS = "max-age=31536000"
ERROR_STATUSES = {401: "no valid bearer token", 404: "outside the caller's view, or missing",
                  422: "the request breaks a rule; `detail` names the field and the rule"}


def create_app(backend: Backend | None = None, lifespan=None, config: ApiConfig | None = None) -> FastAPI:
    config = config or (backend.config if backend is not None else ApiConfig())
    # Swagger UI and ReDoc map every route for whoever asks: off unless RATING_API_DOCS says
    # (/openapi.json stays, the contract serves it)
    docs = {"docs_url": "/docs", "redoc_url": "/redoc"} if config.docs else {"docs_url": None, "redoc_url": None}
    app = FastAPI(title="rating-pipeline API", version="1", lifespan=lifespan, **docs,
                  description="Accounts, tariffs, DIDs, payments, balances, calls, stats and profit, "
                              "each caller seeing only his own tenant (docs/domain.md \"What each party may see\").")
    if backend is not None:
        install_backend(app, backend)
    app.include_router(routes_v1.router)
    app.include_router(routes_authorize.router)
    app.include_router(routes_alerts.router)  # /v1/alerts, /v1/alert-events, /v1/alert-blocks and /alerts
    app.include_router(routes_cards.router)  # /v1/card-groups, /v1/cards and the cards pages
    app.include_router(portal_cards.router)
    app.include_router(routes_devices.router)  # /v1/devices and the devices pages
    app.include_router(portal_devices.router)
    app.include_router(routes_invoice_mail.router)  # invoice e-mail and bulk issue: /v1/invoices/... and pages
    app.include_router(routes_sessions.router)
    for extra in (routes_rates, routes_logins, portal_rates, portal_account):  # rates, archiving, logins
        app.include_router(extra.router)
    for extra in (portal_dids, routes_domains, routes_usage):  # DID pages, portal domains, usage per user
        app.include_router(extra.router)
    for pages in (portal, portal_manage, portal_reports):
        app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _install_error_handlers(app)
    app.openapi = lambda: _openapi(app)
    app.add_middleware(BodyLimit, config=config)  # added first: the headers below wrap its answers too

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith(("/docs", "/redoc")):  # Swagger UI loads its own scripts
            response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        if request.url.scheme == "https":  # behind a proxy: uvicorn sets it from a trusted X-Forwarded-Proto
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    return app


def install_backend(app: FastAPI, backend: Backend) -> None:
    app.state.backend = backend
    app.state.login_limiter = LoginLimiter(backend.config.login_attempts, backend.config.login_window_seconds)


def _is_page(request: Request) -> bool:
    return not request.url.path.startswith("/v1")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        if _is_page(request):
            if isinstance(exc, Unauthorized):
                return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
            return error_page(request, exc.status, exc.title, exc.detail)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(exc.status, exc.title, exc.detail, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        detail = "; ".join(_describe(error) for error in exc.errors())
        if _is_page(request):
            return error_page(request, 422, "Unprocessable Content", detail)
        return problem(422, "Unprocessable Content", detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if _is_page(request) and exc.status_code == 404:
            return error_page(request, 404, "Not Found", "This page does not exist.")
        return problem(exc.status_code, str(exc.detail), str(exc.detail))


def _describe(error: dict) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
    return f"{where}: {error.get('msg', 'invalid')}"


def _openapi(app: FastAPI) -> dict:
    """FastAPI's document, with the error answers every /v1 operation really gives."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema()
    for schema_name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(schema_name, None)
    problem_content = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/v1"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses[str(status)] = {"description": description, "content": problem_content}
            if "requestBody" in operation:
                responses["400"] = {"description": "the body cannot be parsed (not JSON, not UTF-8)",
                                    "content": problem_content}
                responses["413"] = {"description": "the body is larger than this route reads (RATING_API_MAX_*_BYTES)",
                                    "content": problem_content}
            operation["security"] = [{"HTTPBearer": []}]
    app.openapi_schema = document
    return document


def production_app(settings: Settings, config: ApiConfig | None = None) -> FastAPI:
    """The app on the real broker and ClickHouse; connections open in the lifespan."""
    config = config or api_config(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await ensure_api_topics(settings)
        live = LiveData()
        follower = Follower(settings, live)
        await follower.start()
        writer = KafkaWriter(settings, follower)
        await writer.start()
        authorizer = KafkaAuthorizer(settings)
        await authorizer.start()
        try:
            if not config.secret and live.credentials.session_secret is None:
                await writer.publish_credential(*session_secret_record())
            install_backend(app, Backend(config, live, writer, ClickHouseCalls(settings), LedgerInvoices(settings),
                                         RunRerate(settings), authorizer))
            log.info("API ready on http://%s:%s", config.host, config.port)
            yield
        finally:
            stop_parsing()
            await authorizer.stop()
            await writer.stop()
            await follower.stop()

    return create_app(lifespan=lifespan, config=config)
