"""Devices, calls in several records and destinations that are not numbers, on the real broker and
ClickHouse 18.16 (docs/devices.md, "A call in several records", "Destinations that are not numbers").

Reseller rx buys 370 at 1.2/min from the admin and sells it at 2/min to his user ux (postpaid), whose
desk phone is device dev-1001 (SIP user 1001 on server astx). The switch sends:
- one call in two records (segments 1 and 2: 60 s and 30 s), and the same two records again later;
- a call with no account from SIP user 1001 (found through the device);
- a call from SIP user 9999 at 10.9.9.9, which no device knows (rejected, naming what was tried);
- a call to the feature code *72*37052123456 (rejected not_a_number: its digits are not a number).
Then a device for 9999 and code rates *72* are added and both rejections are replayed: rated.
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from decimal import Decimal

import orjson

from devkit.worker_process import settings_env
from pipeline.control_topic import current_balances
from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.reference.publish import apply_files
from pipeline.schemas import wire
from pipeline.settings import REPO_ROOT
from pipeline.sinks.clickhouse import connect
from tests.integration.kit import seed_reference, start_worker, wait_for

RATES_BUY, RATES_RETAIL = [{"prefix": "370", "rate": "1.2"}], [{"prefix": "370", "rate": "2"}]
WORLD = [
    {"kind": "tariff", "id": "t-buy", "owner": "admin", "rates": RATES_BUY},
    {"kind": "account", "id": "rx", "type": "reseller", "tariff": "t-buy", "billing": "postpaid"},
    {"kind": "tariff", "id": "t-retail", "owner": "rx", "rates": RATES_RETAIL},
    {"kind": "account", "id": "ux", "type": "user", "parent": "rx", "tariff": "t-retail", "billing": "postpaid"},
    {"kind": "device", "id": "dev-1001", "account": "ux", "server": "astx", "sip_user": "1001"},
]
FIX = [  # the code rate at both levels a call of ux is priced at, and the phone nobody had set up
    {"kind": "tariff", "id": "t-buy", "owner": "admin", "rates": RATES_BUY + [{"prefix": "*72*", "rate": "0.05"}]},
    {"kind": "tariff", "id": "t-retail", "owner": "rx", "rates": RATES_RETAIL + [{"prefix": "*72*", "rate": "0.1"}]},
    {"kind": "device", "id": "dev-9999", "account": "ux", "sip_user": "9999"},
]


def cdr(call_id: str, billsec: int = 60, **fields) -> tuple[bytes, bytes]:
    body = {"call_id": call_id, "server_id": "astx", "account": "ux", "dst": "37052123456",
            "start_time": "2026-11-25T10:00:00Z", "billsec": billsec, **fields}
    return call_id.encode(), orjson.dumps(body)


SEGMENTS = [cdr("multi-1", 60, segment="1"), cdr("multi-1", 30, segment="2")]
OTHERS = [cdr("dev-1", account="", device={"sip_user": "1001"}),
          cdr("dev-x", account="", device={"sip_user": "9999", "ip": "10.9.9.9"}),
          cdr("fc-1", dst="*72*37052123456")]


def rows(settings) -> list[tuple]:
    client = connect(settings)
    try:
        return client.execute(
            f"SELECT call_id, segment, account, user_prefix, user_price, reseller_price "
            f"FROM {settings.clickhouse_database}.rated_calls FINAL ORDER BY call_id, segment")
    finally:
        client.disconnect()


async def rejected(settings) -> list[dict]:
    return [orjson.loads(m.value) for m in await read_all(settings, "cdr.rejected")]


def replay(settings, reason: str) -> str:
    done = subprocess.run([sys.executable, "-m", "pipeline", "replay-rejected", "--reason", reason],
                          env=settings_env(settings), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_devices_segments_and_feature_codes_end_to_end(settings_factory, tmp_path):
    settings = settings_factory()
    world, fix = tmp_path / "world.json", tmp_path / "fix.json"
    world.write_bytes(orjson.dumps(WORLD))
    fix.write_bytes(orjson.dumps(FIX))
    await seed_reference(settings, world)
    worker = start_worker(settings)
    try:
        await produce_all(settings, "cdr.raw", SEGMENTS + OTHERS)
        await wait_for(lambda: _count_rows(settings, 3), 120, "three rated rows", worker)
        await produce_all(settings, "cdr.raw", SEGMENTS)  # the same file sent again
        await wait_for(lambda: _counted(settings, 2 * len(SEGMENTS) + len(OTHERS)), 60, "every output", worker)

        keys = Counter(m.key for m in await read_all(settings, "cdr.rated"))
        assert keys == {b"astx/multi-1/1": 2, b"astx/multi-1/2": 2, b"astx/dev-1": 1}  # rated again, charged once
        told = {r["detail"] for r in await rejected(settings)}
        assert told == {'no account; no device for sip_user "9999", ip "10.9.9.9" on server "astx"',
                        'dst "*72*37052123456" is not a number and tariff "t-retail" has no rate for that code (a '
                        'prefix with * or #, or the exact "*72*37052123456$") at 2026-11-25T10:00:00Z (level user, '
                        'account ux)'}
        assert Counter(r["reason"] for r in await rejected(settings)) == {"unknown_account": 1, "not_a_number": 1}

        await asyncio.sleep(2)  # the sink and the ledgers have seen the redelivery too
        assert rows(settings) == [("dev-1", "", "ux", "370", Decimal("2"), Decimal("1.2")),
                                  ("multi-1", "1", "ux", "370", Decimal("2"), Decimal("1.2")),
                                  ("multi-1", "2", "ux", "370", Decimal("1"), Decimal("0.6"))]
        balances = await current_balances(settings)
        assert (balances["ux"], balances["rx"]) == (Decimal("-5"), Decimal("-3"))

        await apply_files(settings, [str(fix)])
        assert replay(settings, "not_a_number").splitlines() == ["replayed 1 record(s)", "  not_a_number: 1"]
        assert replay(settings, "unknown_account").splitlines() == ["replayed 1 record(s)", "  unknown_account: 1"]
        await wait_for(lambda: _count_rows(settings, 5), 90, "the replayed calls rated", worker)
        assert rows(settings)[1:3] == [("dev-x", "", "ux", "370", Decimal("2"), Decimal("1.2")),
                                       ("fc-1", "", "ux", "*72*", Decimal("0.1"), Decimal("0.05"))]
        rated = {wire.decode("rated_call.v1", m.value)["call_id"]: wire.decode("rated_call.v1", m.value)
                 for m in await read_all(settings, "cdr.rated")}
        assert rated["fc-1"]["dst"] == "*72*37052123456"
        assert orjson.loads(rated["dev-x"]["extra"])["device_id"] == "dev-9999"
        balances = await wait_for(lambda: _balances_reach(settings, Decimal("-7.1")), 30, "the replays charged", worker)
        assert (balances["ux"], balances["rx"]) == (Decimal("-7.1"), Decimal("-4.25"))
        assert len(await rejected(settings)) == 2  # nothing new was rejected
    finally:
        worker.stop()


async def _counted(settings, wanted: int) -> bool:
    return len(await read_all(settings, "cdr.rated")) + len(await read_all(settings, "cdr.rejected")) >= wanted


def _count_rows(settings, wanted: int):
    found = rows(settings)
    return found if len(found) >= wanted else None


async def _balances_reach(settings, user_balance: Decimal):
    balances = await current_balances(settings)
    return balances if balances.get("ux") == user_balance else None
