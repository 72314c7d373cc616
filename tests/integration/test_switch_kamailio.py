"""A real switch: SIPp calls through Kamailio (deploy/kamailio/kamailio.cfg) to a SIPp UAS; the adapter
puts their CDRs on cdr.raw; the controller turns switch.control into 402s and ends blocked calls.

Each test runs its own Kamailio on free ports with the test's topic prefix, started the way
deploy/local/up --switch starts it, plus the adapter and the controller as processes.
"""
from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import orjson
import pytest

from devkit.local_switch import DST, Switch
from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.settings import Settings

MISSING = [name for name in ("kamailio", "sipp") if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists()]
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"{' and '.join(MISSING)} not installed (Debian: apt-get install kamailio sip-tester)")

SERVER = "kamailio-t"


@pytest.fixture
def switch(settings_factory):
    started = Switch(settings_factory(), SERVER)
    try:
        yield started.start()
    finally:
        started.stop()


async def _cdrs(settings: Settings) -> dict[str, dict]:
    return {m.key.decode(): orjson.loads(m.value) for m in await read_all(settings, "cdr.raw")}


async def _wait_cdrs(switch: Switch, count: int, timeout: float = 30) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cdrs = await _cdrs(switch.settings)
        if len(cdrs) >= count:
            return cdrs
        await asyncio.sleep(0.3)
    raise AssertionError(f"{count} CDR(s) expected on cdr.raw, got {len(cdrs)}\n{switch.logs()}")


async def _signal(settings: Settings, account: str, state: str, version: int, server: str = SERVER) -> None:
    value = {"account": account, "state": state, "reason": "balance" if state == "blocked" else "ok",
             "server": server, "reseller": "", "balance": "0", "version": version, "at": "2026-11-27T10:00:00Z"}
    await produce_all(settings, "switch.control", [(account.encode(), orjson.dumps(value))])


async def _until_refused(switch: Switch, account: str, timeout: float = 15) -> float:
    """Seconds until `account`'s INVITE gets 402."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if switch.call("uac_refused.xml", account, timeout=5).returncode == 0:
            return time.monotonic() - began
        await asyncio.sleep(0.2)
    raise AssertionError(f"{account} never got 402 within {timeout} s\n{switch.logs()}")


async def test_calls_through_kamailio_land_on_cdr_raw_with_account_and_billsec(switch):
    for account in ("u1", "u2"):
        result = switch.call("uac.xml", account, "-d", "2000")
        assert result.returncode == 0, result.stdout[-2000:] + switch.logs()
    cdrs = await _wait_cdrs(switch, 2)
    assert {cdr["account"] for cdr in cdrs.values()} == {"u1", "u2"}
    for key, cdr in cdrs.items():
        assert key == f"{SERVER}/{cdr['call_id']}"
        assert cdr["server_id"] == SERVER and cdr["dst"] == DST and cdr["disposition"] == "ANSWERED"
        # SIPp talks 2 s after the answer; a loaded machine may stretch it by a little
        assert 2 <= cdr["billsec"] <= 3, cdr
        assert cdr["answer_time"] and cdr["end_time"] > cdr["answer_time"]


async def test_blocked_account_gets_402_and_calls_again_once_active(switch):
    assert switch.call("uac_refused.xml", "u1", timeout=5).returncode != 0  # not blocked: the call goes through
    await _signal(switch.settings, "u1", "blocked", 1)
    await _signal(switch.settings, "u9", "blocked", 1, server="another-switch")  # not this switch's account
    await _until_refused(switch, "u1")
    assert switch.call("uac.xml", "u9", "-d", "200").returncode == 0
    await _signal(switch.settings, "u1", "active", 2)
    deadline = time.monotonic() + 15
    while switch.call("uac.xml", "u1", "-d", "200", timeout=10).returncode != 0:
        assert time.monotonic() < deadline, "u1 still refused after its active signal\n" + switch.logs()
        await asyncio.sleep(0.3)
    assert switch.rpc.call("htable.dump", "blocked") in ([], None)


async def test_account_blocked_mid_call_has_its_call_ended_and_billed_to_the_end(switch):
    held = switch.start_call("uac_held.xml", "u3")
    deadline = time.monotonic() + 15
    while not switch.rpc.call("dlg.profile_list", "account", "u3"):
        assert time.monotonic() < deadline and held.poll() is None, "the held call never started\n" + switch.logs()
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)  # talk for 2 s
    await _signal(switch.settings, "u3", "blocked", 1)
    output, _ = held.communicate(timeout=30)
    assert held.returncode == 0, output[-2000:]  # the caller got the proxy's BYE and answered it
    cdrs = await _wait_cdrs(switch, 1)
    (cdr,) = cdrs.values()
    assert cdr["account"] == "u3" and cdr["disposition"] == "ANSWERED"
    assert cdr["billsec"] >= 2  # from the answer up to the moment the proxy ended it


async def test_kamailio_restart_gets_its_blocked_table_back_from_the_topic(switch):
    await _signal(switch.settings, "u4", "blocked", 1)
    await _until_refused(switch, "u4")
    switch.stop_kamailio()
    switch.start_kamailio()  # an empty htable: only the controller can refill it
    switch.wait_synced(2)
    dump = switch.rpc.call("htable.dump", "blocked")
    assert [(item["name"], item["value"]) for slot in dump for item in slot["slot"]] == [("u4", "balance")]
    assert switch.call("uac_refused.xml", "u4", timeout=5).returncode == 0


async def test_an_account_that_runs_dry_gets_402_and_a_payment_lets_it_call_again(settings_factory):
    """The whole loop with the real pipeline: SIPp calls through Kamailio, the adapter's CDRs are
    rated and charged by a worker, the guard blocks u1 once his prepaid balance is gone, the
    controller turns that into 402, and a payment makes calls work again."""
    from decimal import Decimal

    from pipeline.control_topic import current_balances
    from pipeline.payments import send_payment
    from tests.integration.kit import seed_reference, start_worker, wait_for

    settings = settings_factory()
    await seed_reference(settings)  # samples/: u1 is r1's prepaid user, served by r1's switch ast1
    worker = start_worker(settings)
    switch = Switch(settings, "ast1")  # this Kamailio is ast1
    try:
        switch.start()
        await send_payment(settings, "r1-pays", "r1", Decimal("100"))
        await send_payment(settings, "u1-pays", "u1", Decimal("0.05"))  # 2/min: about 1.5 s of talk
        await _until_allowed(switch, "u1")
        assert switch.call("uac.xml", "u1", "-d", "3000").returncode == 0, switch.logs()

        async def u1_in_debt():
            balance = (await current_balances(settings)).get("u1")
            return balance is not None and balance < 0
        await wait_for(u1_in_debt, 60, "u1's call rated and charged", worker)
        await _until_refused(switch, "u1", timeout=30)  # the guard's block reached Kamailio
        await send_payment(settings, "u1-pays-again", "u1", Decimal("10"))
        await _until_allowed(switch, "u1", timeout=30)
        rated = [orjson.loads(m.value) for m in await read_all(settings, "cdr.rated")]
        assert {r["account"] for r in rated} == {"u1"}  # the probe calls too, at 0 when not answered long
        assert any(Decimal(r["user_price"]) > Decimal("0.05") for r in rated)  # the 3-second call
    finally:
        switch.stop()
        worker.stop()


async def _until_allowed(switch: Switch, account: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while switch.call("uac.xml", account, "-d", "100", timeout=10).returncode != 0:
        assert time.monotonic() < deadline, f"{account} still refused\n{switch.logs()}"
        await asyncio.sleep(0.5)
