"""Helpers for the API's integration tests: a seeded broker + ClickHouse and the real app."""
from __future__ import annotations

import asyncio
from datetime import datetime

from pipeline.api.kafka_backend import ensure_api_topics, publish_logins
from pipeline.settings import Settings
from pipeline.sinks.clickhouse import connect
from tests.integration.kit import seed_reference

CALL_COLUMNS = ("server_id", "call_id", "account", "reseller", "provider", "src", "dst", "did", "start_time",
                "billsec", "disposition", "user_prefix", "user_price", "reseller_price", "provider_price",
                "reseller_profit", "admin_profit", "currency", "loss")


def seed(settings: Settings, accounts=("admin", "r1", "r2", "u1", "u3"), password: str | None = None) -> dict[str, str]:
    """Samples' reference data, the API's topics, one token per account (and a password)."""
    async def run() -> dict[str, str]:
        await seed_reference(settings)
        await ensure_api_topics(settings)
        return await publish_logins(settings, accounts, password)

    return asyncio.run(run())


def insert_calls(settings: Settings, calls: list[dict], version: int = 1) -> None:
    """Rows straight into rated_calls (the sink's table), for read tests without a worker."""
    rows = [tuple(c[name] if name != "start_time" else _naive(c[name]) for name in CALL_COLUMNS) + (version,)
            for c in calls]
    client = connect(settings)
    client.execute(f"INSERT INTO {settings.clickhouse_database}.rated_calls ({', '.join(CALL_COLUMNS)}, version) VALUES",
                   rows)


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None)  # DateTime('UTC'): the driver reads naive datetimes as UTC
