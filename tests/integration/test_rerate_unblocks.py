"""A re-rating moves balances through the balance stage, so the guard follows it: a
prepaid user blocked by a call priced too high is let through again once the call is re-rated."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import orjson

from pipeline.control_topic import account_states, current_balances
from pipeline.kafka.topic_io import produce_all
from pipeline.payments import send_payment
from pipeline.rerate.run import rerate
from pipeline.rerate.scope import Scope
from pipeline.sinks.clickhouse import connect
from tests.integration.kit import SAMPLES, seed_reference, start_worker, wait_for


def stored(settings) -> int:
    client = connect(settings)
    try:
        return client.execute(f"SELECT count() FROM {settings.clickhouse_database}.rated_calls FINAL")[0][0]
    finally:
        client.disconnect()


async def state_of(settings, account: str) -> str | None:
    return (await account_states(settings)).get(account, {}).get("state")


async def test_a_rerate_that_lowers_a_price_unblocks_the_prepaid_user(settings_factory, tmp_path):
    settings = settings_factory()
    await seed_reference(settings)
    worker = start_worker(settings)
    try:
        await send_payment(settings, "p-1", "u1", Decimal("1"))
        await send_payment(settings, "p-2", "r1", Decimal("100"))
        await produce_all(settings, "cdr.raw", [(b"k", orjson.dumps({
            "call_id": "c1", "server_id": "ast1", "account": "u1", "dst": "37052123456",
            "start_time": "2026-11-10T10:00:00Z", "billsec": 60, "provider": "p1"}))])
        await wait_for(lambda: stored(settings) == 1, 60, "the call stored", worker)
        # 1 - 2.000000 = -1: u1 (prepaid) is blocked
        await wait_for(lambda: _is(state_of(settings, "u1"), "blocked"), 30, "u1 blocked", worker)

        tariffs = [o for o in json.loads((SAMPLES / "resellers.json").read_text()) if o.get("id") == "t-r1-retail"]
        tariffs[0]["rates"] = [{**r, "rate": "0.5"} if r["prefix"] == "370" else r for r in tariffs[0]["rates"]]
        fixed = tmp_path / "fixed.json"
        fixed.write_text(json.dumps(tariffs))
        await seed_reference(settings, fixed)
        summary = await rerate(settings, Scope.of_days(date(2026, 11, 1), date(2026, 11, 30)), "rr-unblock")
        assert summary.accounts["u1"].difference == Decimal("-1.5")

        await wait_for(lambda: _is(state_of(settings, "u1"), "active"), 30, "u1 active again", worker)
        assert (await current_balances(settings))["u1"] == Decimal("0.5")
    finally:
        worker.stop()


async def _is(state, expected: str) -> bool:
    return (await state) == expected
