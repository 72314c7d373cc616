"""The balance guard's chaos test: SIGKILL the worker again and again while CDRs and payments flow;
at the end every balance is exact, every call charged once, none missing from cdr.rated."""
from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from decimal import Decimal

import orjson
import pytest

from pipeline.kafka.topic_io import produce_all, read_all
from tests.integration.chaos_kit import RESELLERS, balances_match, chaos_accounts, count_rejected, expected_balances
from tests.integration.kit import GUARD_ACTIVE, WORKER_READY, seed_reference, start_worker, wait_for

pytestmark = pytest.mark.slow

CDRS, PAYMENTS, KILLS = 4000, 300, 5


async def test_sigkill_leaves_every_balance_exact(settings_factory, tmp_path):
    from tests.integration.kit import SAMPLES

    settings = settings_factory(partitions=4, balance_batch_size=500, rate_batch_size=500)
    accounts_file, users = chaos_accounts(tmp_path)
    await seed_reference(settings, SAMPLES / "operator.json", accounts_file)
    rng = random.Random(2026)

    cdrs = []
    for n in range(CDRS):
        cdr = {"call_id": f"chaos-{n}", "server_id": "ast1", "account": rng.choice(users),
               "dst": rng.choice(("37061234567", "37052123456", "447700900123", "12125550123")),
               "start_time": f"2026-11-2{rng.randrange(3, 8)}T{rng.randrange(10, 23)}:00:00Z",
               "billsec": rng.choice((0, rng.randrange(1, 900))), "provider": "p1"}
        cdrs.append((cdr["call_id"].encode(), orjson.dumps(cdr)))
    # a switch re-sends some calls: they must not be charged twice
    cdrs += rng.sample(cdrs, 200)
    payments, paid = [], defaultdict(Decimal)
    for n in range(PAYMENTS):
        account = rng.choice(users + [f"cr{r}" for r in range(RESELLERS)])
        amount = Decimal(rng.randrange(1, 10_000)) / 100
        payments.append((account.encode(), orjson.dumps({"id": f"pay-{n}", "account": account, "amount": str(amount)})))
        paid[account] += amount
    payments += rng.sample(payments, 30)  # the same payment id twice counts once

    worker = start_worker(settings, "chaos-0")
    steady = None  # a second worker from half-way on: every kill is then also a rebalance under load
    try:
        chunks = [cdrs[i::KILLS + 1] for i in range(KILLS + 1)]
        pay_chunks = [payments[i::KILLS + 1] for i in range(KILLS + 1)]
        for kill in range(KILLS + 1):
            await produce_all(settings, "cdr.raw", chunks[kill])
            await produce_all(settings, "balance.payments", pay_chunks[kill])
            if kill == KILLS:
                break
            await asyncio.sleep(rng.uniform(1.0, 4.0))  # somewhere in the middle of the work
            worker.kill()
            if kill == KILLS // 2:
                steady = start_worker(settings, "chaos-steady", ready=WORKER_READY)
            worker = start_worker(settings, f"chaos-{kill + 1}", ready=WORKER_READY if steady else GUARD_ACTIVE)

        expected = await expected_balances(settings, paid, CDRS)
        await wait_for(lambda: balances_match(settings, expected), 240, "exact balances", worker)
    finally:
        worker.stop()
        if steady is not None:
            steady.stop()

    rated = await read_all(settings, "cdr.rated")
    assert {m.key for m in rated} == {f"ast1/chaos-{n}".encode() for n in range(CDRS)}
    assert await count_rejected(settings) == 0
