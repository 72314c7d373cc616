"""ClickHouse goes down under a running worker: rating goes on, the sink retries, and after the
restart every call is in rated_calls exactly once.

This stops the shared local ClickHouse server (the one deploy/local/up started with the default
environment) and always starts it again with deploy/local/up, so later tests find it running.
"""
from __future__ import annotations

import asyncio

import orjson
import pytest

from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.sinks.clickhouse import connect
from pipeline.sinks.migrate import migrate
from tests.integration.chaos_kit import native_address, refuses_connections, start_clickhouse, stop_clickhouse
from tests.integration.kit import seed_reference, start_worker, wait_for

pytestmark = [pytest.mark.clickhouse, pytest.mark.slow]

BEFORE, DURING = 20, 30


def cdrs(tag: str, count: int) -> list[tuple[bytes, bytes]]:
    return [
        (f"{tag}-{n}".encode(), orjson.dumps({
            "call_id": f"{tag}-{n}", "server_id": "ast1", "account": "u1", "dst": "37061234567",
            "start_time": "2026-11-25T10:00:00Z", "billsec": 30 + n, "provider": "p1"}))
        for n in range(count)
    ]


def final_rows(settings) -> list[tuple[str, int]] | None:
    """(call_id, rows) per call in rated_calls FINAL; None while ClickHouse does not answer."""
    try:
        client = connect(settings)
    except Exception:  # noqa: BLE001
        return None
    try:
        return client.execute(f"SELECT call_id, count() FROM {settings.clickhouse_database}.rated_calls FINAL "
                              "GROUP BY call_id ORDER BY call_id")
    except Exception:  # noqa: BLE001 - down or still starting
        return None
    finally:
        client.disconnect()


async def test_rows_rated_while_clickhouse_is_down_arrive_once_after_it_is_back(settings_factory):
    settings = settings_factory()
    migrate(settings)
    await seed_reference(settings)
    worker = start_worker(settings)
    before, during = cdrs("before", BEFORE), cdrs("during", DURING)
    expected = sorted(key.decode() for key, _ in before + during)
    try:
        await produce_all(settings, "cdr.raw", before)
        await wait_for(lambda: len(final_rows(settings) or ()) >= BEFORE, 60, "the first rows", worker)

        try:
            stop_clickhouse()
            await produce_all(settings, "cdr.raw", during)
            # rating and charging do not wait for ClickHouse: the calls are priced while it is down
            rated = await wait_for(lambda: _rated(settings, BEFORE + DURING), 60, "calls rated meanwhile", worker)
            assert refuses_connections(native_address()), "ClickHouse came back by itself?"
            assert sorted(m.key.decode().split("/", 1)[1] for m in rated) == expected
            await wait_for(lambda: "ClickHouse insert of" in worker.log_path.read_text(), 30,
                           "a failed insert in the worker log", worker)
            await asyncio.sleep(3)
        finally:
            start_clickhouse()

        rows = await wait_for(lambda: _all_rows(settings, len(expected)), 120, "every call in ClickHouse", worker)
        assert [call for call, _ in rows] == expected  # no call missing, none extra
        assert {count for _, count in rows} == {1}  # and each exactly once under FINAL
        log = worker.log_path.read_text()
        assert "ClickHouse insert of" in log and "failed (attempt 1)" in log
        # retried by the writer (its own 3 attempts) or, when ClickHouse came back after those, by
        # the checkpoint loop from the last commit (the rows above are what went through)
        assert "succeeded after" in log or "retrying from the last commit" in log, "the sink never retried"
        assert worker.alive(), f"the worker died during the outage:\n{worker.log_tail()}"
    finally:
        worker.stop()
        client = connect(settings, database="default")
        client.execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
        client.disconnect()


async def _rated(settings, wanted: int):
    rated = await read_all(settings, "cdr.rated")
    return rated if len(rated) >= wanted else None


def _all_rows(settings, wanted: int):
    rows = final_rows(settings)
    return rows if rows is not None and len(rows) >= wanted else None
