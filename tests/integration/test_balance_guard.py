"""The balance guard on the real broker: the seed chain with money, the cascade, and a guard restart."""
from __future__ import annotations

import asyncio
from decimal import Decimal

import orjson

from pipeline.control_topic import account_states
from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.payments import send_payment
from tests.integration.kit import seed_reference, start_worker, wait_for


def call(n: int, account: str, seconds: int) -> tuple[bytes, bytes]:
    # 370 but not 3706: retail 2/min, the reseller's cost 1.2/min, per second
    cdr = {"call_id": f"guard-{n}", "server_id": "ast1", "account": account, "dst": "37052123456",
           "start_time": "2026-11-24T10:00:00Z", "billsec": seconds, "provider": "p1"}
    return f"guard-{n}".encode(), orjson.dumps(cdr)


async def states_are(settings, expected: dict[str, tuple[str, str]]):
    states = await account_states(settings)
    got = {a: (states[a]["state"], states[a]["reason"]) for a in expected if a in states}
    return got == expected


async def test_reseller_running_dry_blocks_his_users_and_a_payment_unblocks_them(settings_factory):
    settings = settings_factory()
    await seed_reference(settings)
    worker = start_worker(settings)
    try:
        # a fresh prepaid account has nothing: blocked until it pays
        await wait_for(lambda: states_are(settings, {
            "r1": ("blocked", "balance"), "u1": ("blocked", "balance"), "u2": ("blocked", "reseller_blocked"),
            "r2": ("active", "ok"), "u3": ("blocked", "balance"), "d1": ("active", "ok")}), 30, "initial states", worker)
        for account, amount in (("r1", "40"), ("u1", "100"), ("u3", "50")):
            await send_payment(settings, f"p-{account}", account, Decimal(amount))
        await send_payment(settings, "p-r1", "r1", Decimal("40"))  # the same payment again: counted once
        await wait_for(lambda: states_are(settings, {
            "r1": ("active", "ok"), "u1": ("active", "ok"), "u2": ("active", "ok"), "u3": ("active", "ok")}),
            30, "everyone active after paying", worker)
        other_reseller = {a: s["version"] for a, s in (await account_states(settings)).items() if a in ("r2", "u3")}

        # u2 (postpaid, credit limit 50) talks 26 minutes: -52, blocked on his own; r1 pays 31.2 of 40
        await produce_all(settings, "cdr.raw", [call(1, "u2", 26 * 60)])
        await wait_for(lambda: states_are(settings, {"u2": ("blocked", "credit_limit"), "r1": ("active", "ok")}),
                       30, "u2 at his credit limit", worker)
        # u1 makes eight 1-minute calls: r1 pays 9.6 more and runs dry (8.8 - 9.6 = -0.8)
        await produce_all(settings, "cdr.raw", [call(10 + n, "u1", 60) for n in range(8)])
        await wait_for(lambda: states_are(settings, {
            "r1": ("blocked", "balance"), "u1": ("blocked", "reseller_blocked"), "u2": ("blocked", "credit_limit")}),
            30, "r1 and all his users blocked", worker)
        states = await account_states(settings)
        assert states["r1"]["balance"] == "-0.800000"
        assert states["r1"]["server"] == states["u1"]["server"] == "ast1"
        assert {a: states[a]["version"] for a in other_reseller} == other_reseller, "r2's accounts were touched"

        # r1 pays: u1 may call again, u2 is still out of money himself
        await send_payment(settings, "p-r1-2", "r1", Decimal("20"))
        await wait_for(lambda: states_are(settings, {
            "r1": ("active", "ok"), "u1": ("active", "ok"), "u2": ("blocked", "credit_limit")}),
            30, "r1 and u1 active again, u2 not", worker)

        # a restarted guard rebuilds from the compacted topics and re-sends nothing
        signals_before = len(await read_all(settings, "switch.control"))
        worker.stop()
        worker = start_worker(settings, "worker-restarted")
        await asyncio.sleep(3)
        assert len(await read_all(settings, "switch.control")) == signals_before
        assert await states_are(settings, {"r1": ("active", "ok"), "u2": ("blocked", "credit_limit")})
    finally:
        worker.stop()


async def test_a_manual_block_through_ref_apply_takes_effect_at_once(settings_factory, tmp_path):
    settings = settings_factory()
    await seed_reference(settings)
    worker = start_worker(settings)
    try:
        await wait_for(lambda: states_are(settings, {"d1": ("active", "ok")}), 30, "d1 active", worker)
        change = tmp_path / "block-d1.json"
        change.write_bytes(orjson.dumps({"kind": "account", "id": "d1", "type": "user", "parent": "admin",
                                         "tariff": "t-direct", "billing": "postpaid", "server": "ast9", "blocked": True}))
        await seed_reference(settings, change)
        await wait_for(lambda: states_are(settings, {"d1": ("blocked", "manual")}), 30, "d1 blocked by hand", worker)
        assert (await account_states(settings))["d1"]["server"] == "ast9"
    finally:
        worker.stop()
