"""The walking skeleton: one CDR in cdr.raw -> one record on cdr.rated -> one row in ClickHouse."""
from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from clickhouse_driver import Client

from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.schemas import wire
from pipeline.sinks.migrate import migrate
from tests.integration.kit import seed_reference, start_worker, wait_for

pytestmark = pytest.mark.clickhouse


async def test_one_cdr_priced_end_to_end(settings_factory):
    settings = settings_factory()
    migrate(settings)
    await seed_reference(settings)
    worker = start_worker(settings)
    try:
        cdr = {"call_id": "smoke-1", "server_id": "ast1", "account": "u1", "dst": "+370 612 34567",
               "start_time": "2026-11-25T10:00:00+02:00", "billsec": 60, "provider": "p1"}
        await produce_all(settings, "cdr.raw", [(b"smoke-1", orjson.dumps(cdr))])

        rated = await wait_for(lambda: read_all(settings, "cdr.rated"), 60, "cdr.rated", worker)
        assert [m.key for m in rated] == [b"ast1/smoke-1"]
        record = wire.decode("rated_call.v1", rated[0].value)
        # the seed: 2/min retail, 1.2/min wholesale, 0.3/min + 0.05 connection at the provider (3706)
        assert (record["user_price"], record["reseller_price"], record["provider_price"]) == (
            "2.000000", "1.200000", "0.350000")
        assert Decimal(record["admin_profit"]) == Decimal("0.85")
        assert Decimal(record["reseller_profit"]) == Decimal("0.8")

        client = Client.from_url(settings.clickhouse_url)
        query = f"SELECT user_price, admin_profit, reseller FROM {settings.clickhouse_database}.rated_calls FINAL WHERE call_id = 'smoke-1'"
        rows = await wait_for(lambda: client.execute(query), 30, "the ClickHouse row", worker)
        assert rows == [(Decimal("2"), Decimal("0.85"), "r1")]
    finally:
        worker.stop()
