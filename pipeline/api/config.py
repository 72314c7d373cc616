"""The API's own settings, read from Settings when it has them, else from the environment.

Settings (pipeline/settings.py) gains `api_host`, `api_port` and `api_secret` from the lead; until
then the same RATING_* variables are read here, so nothing changes for an operator when they land.
"""
from __future__ import annotations

import os
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
    def read(name: str, default: str) -> str:
        value = getattr(settings, f"api_{name}", None)
        return str(value) if value is not None else os.environ.get(f"RATING_API_{name.upper()}", default)

    return ApiConfig(host=read("host", "127.0.0.1"), port=int(read("port", "8080")), secret=read("secret", ""))
