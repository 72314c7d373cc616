"""The API's own settings: RATING_API_HOST/PORT/SECRET come from Settings, the rest are fixed."""
from __future__ import annotations

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
    # login attempts per account and client address in a sliding window, per instance
    login_attempts: int = 5
    login_window_seconds: int = 300


def api_config(settings: Settings) -> ApiConfig:
    return ApiConfig(host=settings.api_host, port=settings.api_port, secret=settings.api_secret)
