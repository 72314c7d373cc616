"""Running for months, on the real broker: inputs that used to stall a partition forever, payments from any
Kafka client, the partition-count check, keys that collided, the dedup window, state on disk."""
from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal

import orjson
import pytest
from aiokafka.admin import NewTopic

from pipeline.control_topic import current_balances
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.kafka.topics import MESSAGE_BYTES
from pipeline.payments import send_payment
from tests.integration.kit import seed_reference, start_worker, wait_for

STARTED = "2026-11-24T10:00:00Z"


def call(call_id: str, account: str = "d1", server: str = "ast1", seconds: int = 60) -> tuple[bytes, bytes]:
    cdr = {"call_id": call_id, "server_id": server, "account": account, "dst": "37052123456",
           "start_time": STARTED, "billsec": seconds, "provider": "p1"}
    return call_id.encode(), orjson.dumps(cdr)


async def rejections(settings) -> list[dict]:
    return [orjson.loads(m.value) for m in await read_all(settings, "cdr.rejected")]


async def balance_of(settings, account: str) -> Decimal | None:
    return (await current_balances(settings)).get(account)


async def test_inputs_that_stalled_a_partition_are_refused_and_the_next_ones_go_through(settings_factory):
    settings = settings_factory(partitions=1)  # one partition: a stall would stop everything behind it
    await seed_reference(settings)
    worker = start_worker(settings)
    try:
        await produce_all(settings, "balance.payments", [
            (b"d1", orjson.dumps({"id": "huge", "account": "d1", "amount": "1E+1000000"})),
            (b"d1", orjson.dumps({"id": "ok", "account": "d1", "amount": "25"})),
        ])
        await produce_all(settings, "cdr.raw", [
            (b"nul", b"\x00" * 1_000_000),
            (b"ff", b"\xff" * 800_000),
            call("after-the-garbage"),
        ])
        # d1 (direct user, retail 0.35 for 60 s to 3705...) paid 25 and was charged for the call
        await wait_for(lambda: _rated_keys(settings), 30, "the good CDR rated", worker)
        await wait_for(lambda: _balance_is(settings, "d1", None, not_none=True), 30, "d1's balance", worker)
        found = await rejections(settings)
        reasons = sorted(r["reason"] for r in found)
        assert reasons == ["bad_avro", "bad_avro", "bad_payment"], reasons
        for rejection in found:  # every copy of a huge input stays far below the topic's limit
            assert len(orjson.dumps(rejection)) < MESSAGE_BYTES // 2
        big = [r for r in found if r["partition"] == 0 and r.get("payload_truncated")]
        assert len(big) == 2 and all(len(r["payload_sha256"]) == 64 for r in big)
    finally:
        worker.stop()


async def _rated_keys(settings):
    return {m.key for m in await read_all(settings, "cdr.rated")}


async def _balance_is(settings, account, expected, not_none=False):
    got = await balance_of(settings, account)
    return got is not None if not_none else got == expected


async def test_thousands_of_payment_ids_keep_the_ledger_small(settings_factory):
    settings = settings_factory(partitions=2)
    await seed_reference(settings)
    worker = start_worker(settings)
    try:
        count = 30_000  # past ~27k ids the old ledger record was over 1 MB and stalled its partition
        await produce_all(settings, "balance.payments", [
            (b"u1", orjson.dumps({"id": f"p{n}", "account": "u1", "amount": "0.01"})) for n in range(count)
        ], linger_ms=20)
        await wait_for(lambda: _balance_is(settings, "u1", Decimal("300.00")), 120, "30,000 payments applied", worker)
        ledgers = [m for m in await read_all(settings, "state.ledgers") if m.key == b"u1"]
        assert ledgers and all(len(m.value) < 1000 for m in ledgers)
    finally:
        worker.stop()


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat (Debian package kcat) is not installed")
async def test_a_payment_written_by_a_librdkafka_client_lands_in_the_accounts_ledger(settings_factory):
    settings = settings_factory(partitions=8)
    await seed_reference(settings)
    worker = start_worker(settings)
    try:
        await send_payment(settings, "r1-pays", "r1", Decimal("20"))  # his reseller is not what blocks u1
        await produce_all(settings, "cdr.raw", [call("kcat-1", account="u1")])  # u1 pays 2/min: -2
        await wait_for(lambda: _balance_is(settings, "u1", Decimal("-2")), 30, "u1 charged", worker)
        # kcat partitions keys by CRC32 (librdkafka's default), not murmur2 like the Java client
        body = orjson.dumps({"id": "kcat-pay", "account": "u1", "amount": "10"}).decode()
        subprocess.run(["kcat", "-P", "-b", settings.kafka_bootstrap, "-t", settings.topic("balance.payments"),
                        "-k", "u1"], input=body.encode(), check=True, timeout=30)
        # one ledger, one balance: the payment and the charge meet
        await wait_for(lambda: _balance_is(settings, "u1", Decimal("8")), 30, "u1's payment applied", worker)
        # and the guard saw the same ledger: u1 (prepaid) flipped to active with that balance
        await wait_for(lambda: _state_of(settings, "u1", ("active", "8")), 30, "u1 active at 8", worker)
    finally:
        worker.stop()


async def _state_of(settings, account, expected):
    from pipeline.control_topic import account_states

    state = (await account_states(settings)).get(account)
    return state is not None and (state["state"], Decimal(state["balance"])) == (expected[0], Decimal(expected[1]))


async def test_the_worker_refuses_to_start_on_a_topic_with_the_wrong_partition_count(settings_factory):
    settings = settings_factory(partitions=4)
    admin = KafkaClients(settings).admin()
    await admin.start()
    try:  # a stray client auto-created it with the broker default of 1 partition
        await admin.create_topics([NewTopic(settings.topic("cdr.rated"), 1, 1)])
    finally:
        await admin.close()
    from devkit.worker_process import settings_env

    done = subprocess.run(["python3", "-m", "pipeline", "worker"], env=settings_env(settings),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"{settings.topic('cdr.rated')} has 1 partition(s), the pipeline needs 4" in done.stderr
    assert "Traceback" not in done.stderr


async def test_call_keys_that_used_to_collide_are_both_charged(settings_factory):
    settings = settings_factory(partitions=2)
    await seed_reference(settings)
    worker = start_worker(settings)
    try:
        await send_payment(settings, "seed", "d1", Decimal("10"))
        # "ast1/x" + "y" and "ast1" + "x/y" were both the key "ast1/x/y": the second went uncharged
        await produce_all(settings, "cdr.raw", [call("y", server="ast1/x"), call("x/y", server="ast1")])
        # direct user d1, 60 s to 37052...: 0.35 each (see samples/)
        rated = await wait_for(lambda: _rated_count(settings, 2), 30, "both calls rated", worker)
        assert len({m.key for m in rated}) == 2
        price = Decimal(orjson.loads(rated[0].value)["user_price"])
        await wait_for(lambda: _balance_is(settings, "d1", Decimal("10") - 2 * price), 30, "both charged", worker)
    finally:
        worker.stop()


async def _rated_count(settings, wanted):
    rated = await read_all(settings, "cdr.rated")
    return rated if len(rated) >= wanted else None


async def test_a_cdr_older_than_the_window_is_rejected_and_replayable_with_the_override(settings_factory):
    settings = settings_factory(partitions=2, dedup_days=62)
    await seed_reference(settings)
    worker = start_worker(settings)
    try:
        old = {"call_id": "old-1", "server_id": "ast1", "account": "d1", "dst": "37052123456",
               "start_time": "2026-06-01T10:00:00Z", "billsec": 60, "provider": "p1"}
        await produce_all(settings, "cdr.raw", [(b"old-1", orjson.dumps(old))])
        found = await wait_for(lambda: rejections(settings), 30, "the old CDR rejected", worker)
        assert [r["reason"] for r in found] == ["too_old"]
        from devkit.worker_process import settings_env

        subprocess.run(["python3", "-m", "pipeline", "replay-rejected", "--reason", "too_old", "--allow-old"],
                       env=settings_env(settings), check=True, capture_output=True, timeout=60)
        assert await wait_for(lambda: _rated_keys(settings), 30, "the old CDR rated after the replay", worker)
        assert [r["reason"] for r in await rejections(settings)] == ["too_old"]  # not rejected again
    finally:
        worker.stop()


async def test_a_restarted_worker_restores_only_the_changelog_tail(settings_factory):
    settings = settings_factory(partitions=2)
    await seed_reference(settings)
    worker = start_worker(settings, "first")
    try:
        await produce_all(settings, "cdr.raw", [call(f"tail-{n}", account="u1") for n in range(300)])
        await wait_for(lambda: _balance_is(settings, "u1", Decimal("-600")), 60, "300 calls charged", worker)
    finally:
        worker.stop()
    again = start_worker(settings, "second")
    try:
        # ready is the guard's word; the charge stage may still be taking its partitions
        again.wait_until_logged("charged_calls: partitions", timeout=60)
        log = again.log_path.read_text()
        # 300 calls are on disk already: at most a few records were read back from the changelog
        restored = [line for line in log.splitlines() if "charged_calls: partitions" in line]
        assert restored and all(int(line.split("(")[-1].split()[0]) < 300 for line in restored), restored
        await produce_all(settings, "cdr.raw", [call("tail-300", account="u1")])
        await wait_for(lambda: _balance_is(settings, "u1", Decimal("-602")), 30, "the next call charged", again)
    finally:
        again.stop()
