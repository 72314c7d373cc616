"""The API's own settings: RATING_API_HOST/PORT/SECRET/TRUSTED_PROXIES/DOCS and RATING_API_MAX_*_BYTES
come from Settings, the rest are fixed."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pipeline.settings import Settings


@dataclass(frozen=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # signs portal session cookies; empty: the first secret published on ref.credentials (one per
    # installation, shared by every instance) is used, see credentials.SESSION_SECRET_KEY
    secret: str = ""
    # how long a portal session lives
    session_seconds: int = 8 * 3600
    # failed sign-ins per account and client before each further try waits (1, 2, 4 ... s), and
    # how long a client's failures are remembered after its last one, per instance (login_throttle.py)
    login_attempts: int = 5
    login_window_seconds: int = 300
    # RATING_API_TRUSTED_PROXIES: only behind these is X-Forwarded-For the client
    trusted_proxies: tuple[str, ...] = ()
    # the largest request body each kind of route reads (body_limits.py), refused with 413 before it
    # is read: JSON bodies, a tariff's JSON (up to 10,000 rates), rate CSV uploads, logo uploads
    max_body_bytes: int = 64 * 1024
    max_tariff_bytes: int = 4 * 1024 * 1024
    max_rates_bytes: int = 64 * 1024 * 1024
    max_logo_bytes: int = 1024 * 1024
    # /docs and /redoc (Swagger UI, ReDoc) only when asked for; /openapi.json is always served
    docs: bool = False


def api_config(settings: Settings) -> ApiConfig:
    return ApiConfig(host=settings.api_host, port=settings.api_port, secret=settings.api_secret.get_secret_value(),
                     trusted_proxies=trusted_proxies(settings), max_body_bytes=settings.api_max_body_bytes,
                     max_tariff_bytes=settings.api_max_tariff_bytes, max_rates_bytes=settings.api_max_rates_bytes,
                     max_logo_bytes=settings.api_max_logo_bytes, docs=settings.api_docs)


def trusted_proxies(settings: Settings) -> tuple[str, ...]:
    """RATING_API_TRUSTED_PROXIES as networks; a mistyped entry stops the API at start."""
    entries = tuple(entry.strip() for entry in settings.api_trusted_proxies.split(",") if entry.strip())
    for entry in entries:
        ipaddress.ip_network(entry, strict=False)  # ValueError names the entry
    return entries
