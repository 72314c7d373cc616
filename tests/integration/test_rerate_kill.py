"""Re-rating's double-debit trap (CGRateS #48), on purpose: a re-rating run killed with SIGKILL
half-way and started again with the same id moves every balance by the exact difference once.

Real worker (rate, charge, balance, guard, ClickHouse sink), real broker and ClickHouse; the run
is the CLI as a child process. r1's retail price for 370 goes from 2 to 2.5 per minute after the
calls were rated, so each of u1's and u2's calls costs (2.5 - 2) * billsec / 60 more, exactly.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import orjson

from devkit.worker_process import settings_env
from pipeline.control_topic import current_balances
from pipeline.kafka.topic_io import count_messages, produce_all, read_all
from pipeline.settings import Settings
from pipeline.sinks.clickhouse import connect
from tests.integration.kit import SAMPLES, WORKER_READY, seed_reference, start_worker, wait_for

CALLS = 240
RUN = "rr-kill-test"


def cdrs() -> list[tuple[bytes, bytes]]:
    return [(f"k{n}".encode(), orjson.dumps({
        "call_id": f"c{n}", "server_id": "ast1", "account": "u1" if n % 2 else "u2", "dst": "37052123456",
        "start_time": f"2026-11-{10 + n % 5}T10:00:00Z", "billsec": 30 + n % 50, "provider": "p1"}))
        for n in range(CALLS)]


def price(rate: str, billsec: int) -> Decimal:
    return (Decimal(rate) * billsec / 60).quantize(Decimal("0.000001"), ROUND_HALF_UP)


def expected_differences() -> dict[str, Decimal]:
    owed: dict[str, Decimal] = defaultdict(Decimal)
    for _, value in cdrs():
        cdr = orjson.loads(value)
        owed[cdr["account"]] += price("2.5", cdr["billsec"]) - price("2", cdr["billsec"])
    return dict(owed)


def new_user_total() -> Decimal:
    return sum((price("2.5", orjson.loads(value)["billsec"]) for _, value in cdrs()), Decimal(0))


def rerate_process(settings, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.rerate", "--from", "2026-11-01", "--to", "2026-11-30", "--id", RUN,
         "--chunk", "10", *extra],
        env=settings_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def final_rows(settings) -> list[tuple]:
    client = connect(settings)
    try:
        return client.execute(f"SELECT call_id, user_price, rating_version, rerate_id FROM "
                              f"{settings.clickhouse_database}.rated_calls FINAL ORDER BY call_id")
    finally:
        client.disconnect()


def with_roles(settings: Settings, *roles: str) -> Settings:
    return Settings(**{**settings.model_dump(), "roles": frozenset(roles)})


async def test_a_rerate_killed_half_way_and_run_again_adjusts_each_account_once(settings_factory, tmp_path):
    settings = settings_factory()
    await seed_reference(settings)
    worker = start_worker(settings)
    try:
        await produce_all(settings, "cdr.raw", cdrs())
        await wait_for(lambda: len(final_rows(settings)) == CALLS, 120, "every call in ClickHouse", worker)
        await asyncio.sleep(2)  # the balances settle
        before = await current_balances(settings)
    finally:
        worker.stop()
    # from here on the ClickHouse sink is stopped: rated_calls FINAL keeps the old prices while the
    # run writes, the worst case for a resumed run (only its journal can tell what it already sent)
    worker = start_worker(with_roles(settings, "rate", "charge", "balance", "guard"), "money")
    try:
        tariffs = [o for o in json.loads((SAMPLES / "resellers.json").read_text()) if o.get("id") == "t-r1-retail"]
        tariffs[0]["rates"] = [{**r, "rate": "2.5"} if r["prefix"] == "370" else r for r in tariffs[0]["rates"]]
        fixed = tmp_path / "fixed.json"
        fixed.write_text(json.dumps(tariffs))
        await seed_reference(settings, fixed)

        # dry run first: the table, and nothing written
        dry = rerate_process(settings, "--dry-run")
        out, err = dry.communicate(timeout=120)
        assert dry.returncode == 0, err.decode()
        table = {line.split()[0]: line.split() for line in out.decode().splitlines()[2:] if line.startswith("u")}
        assert Decimal(table["u1"][4]) == expected_differences()["u1"]
        assert await count_messages(settings, "balance.adjustments") == 0

        first = rerate_process(settings, "--throttle", "40")
        await wait_for(lambda: count_messages(settings, "balance.adjustments"), 120, "the first adjustments")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        sent_before_kill = await count_messages(settings, "balance.adjustments")
        assert 0 < sent_before_kill < CALLS, "the run was killed half-way"

        again = rerate_process(settings)
        out, err = again.communicate(timeout=180)
        assert again.returncode == 0, err.decode()
        assert f"{CALLS} calls in scope, {CALLS} with new prices" in out.decode()

        # exactly one adjustment per id across both runs, each for the exact difference
        values = [orjson.loads(m.value) for m in await read_all(settings, "balance.adjustments")]
        by_id = defaultdict(set)
        for value in values:
            by_id[value["id"]].add(value["amount"])
        assert len(by_id) == CALLS and all(len(amounts) == 1 for amounts in by_id.values())
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for adjustment_id, (amount,) in by_id.items():
            totals[adjustment_id.rsplit("/", 1)[1]] += Decimal(amount)
        assert dict(totals) == expected_differences()
        assert len(values) == len(by_id), "the resumed run sent nothing twice"

        # the balances: the balance stage applies balance.adjustments once
        expected = {a: before[a] - d for a, d in expected_differences().items()}
        await wait_for(lambda: _balances_are(settings, expected), 60, "balances moved once", worker)
    finally:
        worker.stop()

    # the sink again: FINAL shows the new prices, version 2, the run's id
    sink = start_worker(with_roles(settings, "clickhouse"), "sink", ready=WORKER_READY)
    try:
        await wait_for(lambda: {r[2:] for r in final_rows(settings)} == {(2, RUN)}, 60, "the new versions", sink)
        assert sum(r[1] for r in final_rows(settings)) == new_user_total()
    finally:
        sink.stop()


async def _balances_are(settings, expected: dict[str, Decimal]) -> bool:
    now = await current_balances(settings)
    return all(now.get(account) == amount for account, amount in expected.items())
