"""`replay-rejected --reason no_rate` on the real broker: calls rejected for a missing rate are rated
once the tariff is fixed and they are replayed; rejections of other reasons stay where they are."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter

import orjson

from devkit.worker_process import settings_env
from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.reference.publish import apply_files
from pipeline.schemas import wire
from pipeline.settings import REPO_ROOT
from tests.integration.kit import outputs, seed_reference, start_worker, wait_for

ADMIN = {"kind": "account", "id": "admin", "type": "admin"}
USER = {"kind": "account", "id": "ux", "type": "user", "parent": "admin", "tariff": "t-x", "billing": "postpaid"}
RATE_370 = {"prefix": "370", "rate": "2"}
RATE_99 = {"prefix": "99", "rate": "0.5"}
BILLSECS = (60, 90, 1, 600)  # 0.5/min, per second: 0.50, 0.75, 0.008333, 5.00


def cdr(call_id: str, dst: str, billsec: int) -> tuple[bytes, bytes]:
    body = {"call_id": call_id, "server_id": "astx", "account": "ux", "dst": dst,
            "start_time": "2026-11-25T10:00:00Z", "billsec": billsec}
    return call_id.encode(), orjson.dumps(body)


async def test_replayed_no_rate_calls_are_rated_after_the_tariff_fix_and_other_reasons_stay(settings_factory, tmp_path):
    settings = settings_factory()
    without_99 = tmp_path / "without-99.json"
    without_99.write_bytes(orjson.dumps([
        ADMIN, {"kind": "tariff", "id": "t-x", "owner": "admin", "rates": [RATE_370]}, USER,
    ]))
    await seed_reference(settings, without_99)
    worker = start_worker(settings)
    try:
        to_99 = [cdr(f"r99-{n}", "+99 123 456", billsec) for n, billsec in enumerate(BILLSECS)]
        first = to_99 + [cdr("r370-0", "37061234567", 60), (b"garbage", b"{not json")]
        await produce_all(settings, "cdr.raw", first)
        await wait_for(lambda: _at_least(outputs(settings), len(first)), 90, "the first outputs", worker)

        rejected = [orjson.loads(m.value) for m in await read_all(settings, "cdr.rejected")]
        assert Counter(r["reason"] for r in rejected) == {"no_rate": len(to_99), "bad_json": 1}
        assert all("t-x" in r["detail"] for r in rejected if r["reason"] == "no_rate")
        assert [m.key for m in await read_all(settings, "cdr.rated")] == [b"astx/r370-0"]

        fixed = tmp_path / "with-99.json"  # the same tariff id, now with the missing prefix
        fixed.write_bytes(orjson.dumps([{"kind": "tariff", "id": "t-x", "owner": "admin",
                                         "rates": [RATE_370, RATE_99]}]))
        await apply_files(settings, [str(fixed)])

        replayed = subprocess.run(
            [sys.executable, "-m", "pipeline", "replay-rejected", "--reason", "no_rate"],
            env=settings_env(settings), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        )
        assert replayed.returncode == 0, replayed.stderr
        assert replayed.stdout.splitlines() == [f"replayed {len(to_99)} record(s)", f"  no_rate: {len(to_99)}"]
        # the same run again finds nothing new: each record is replayed once per --reason cursor
        again = subprocess.run(
            [sys.executable, "-m", "pipeline", "replay-rejected", "--reason", "no_rate"],
            env=settings_env(settings), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        assert again.stdout.splitlines() == ["replayed 0 record(s)"], again.stdout + again.stderr

        rated = await wait_for(lambda: _rated(settings, 1 + len(to_99)), 90, "the replayed calls rated", worker)
        await wait_for(lambda: _at_least(outputs(settings), len(first) + len(to_99)), 30, "all outputs", worker)
        by_call = {}
        for message in rated:
            record = wire.decode("rated_call.v1", message.value)
            assert record["call_id"] not in by_call, f"{record['call_id']} rated twice"
            by_call[record["call_id"]] = record
        assert set(by_call) == {"r370-0"} | {f"r99-{n}" for n in range(len(BILLSECS))}
        prices = {call: (r["user_prefix"], r["user_price"], r["admin_profit"]) for call, r in by_call.items()
                  if call.startswith("r99-")}
        assert prices == {
            "r99-0": ("99", "0.500000", "0.500000"),
            "r99-1": ("99", "0.750000", "0.750000"),
            "r99-2": ("99", "0.008333", "0.008333"),
            "r99-3": ("99", "5.000000", "5.000000"),
        }
        assert by_call["r99-0"]["dst"] == "99123456"

        # nothing else went back to cdr.raw: the bad_json record was not replayed
        raw = await read_all(settings, "cdr.raw")
        assert len(raw) == len(first) + len(to_99)
        replays = [m for m in raw if dict(m.headers).get("replayed-from")]
        assert sorted(m.key for m in replays) == sorted(key for key, _ in to_99)
        after = Counter(orjson.loads(m.value)["reason"] for m in await read_all(settings, "cdr.rejected"))
        assert after == {"no_rate": len(to_99), "bad_json": 1}  # no new rejection of any kind
    finally:
        worker.stop()


async def _at_least(count_coro, wanted: int) -> bool:
    return (await count_coro) >= wanted


async def _rated(settings, wanted: int):
    rated = await read_all(settings, "cdr.rated")
    return rated if len(rated) >= wanted else None
