"""Rating on the real broker: every CDR ends rated or rejected, redelivery charges nothing more,
two workers share the partitions and both follow reference data published after they started."""
from __future__ import annotations

import asyncio
from collections import Counter

import orjson

from devkit.sample_cdrs import sample_stream
from pipeline.control_topic import current_balances
from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.schemas import wire
from tests.integration.kit import WORKER_READY, outputs, seed_reference, start_worker, wait_for


async def test_every_cdr_ends_rated_or_rejected_and_resending_charges_nothing(settings_factory):
    settings = settings_factory()
    await seed_reference(settings)
    messages, expected = sample_stream("n-in-n-out", 500)
    worker = start_worker(settings)
    try:
        await produce_all(settings, "cdr.raw", messages)
        await wait_for(lambda: outputs(settings), 90, "all outputs", worker)
        await wait_for(lambda: _eq(outputs(settings), len(messages)), 90, f"{len(messages)} outputs", worker)
        rejected = Counter(orjson.loads(m.value)["reason"] for m in await read_all(settings, "cdr.rejected"))
        rated = await read_all(settings, "cdr.rated")
        assert {"rated": len(rated), **rejected} == expected
        # each rejection carries the original bytes and where they were read
        sample = orjson.loads((await read_all(settings, "cdr.rejected"))[0].value)
        assert sample["topic"] == settings.topic("cdr.raw") and sample["payload"] and sample["detail"]

        await asyncio.sleep(2)
        balances_before = await current_balances(settings)
        assert balances_before, "the calls charged someone"

        await produce_all(settings, "cdr.raw", messages)  # the switch sends the same batch again
        await wait_for(lambda: _eq(outputs(settings), 2 * len(messages)), 90, "the resent batch", worker)
        await asyncio.sleep(3)
        assert {m.key for m in await read_all(settings, "cdr.rated")} == {m.key for m in rated}
        assert await current_balances(settings) == balances_before
    finally:
        worker.stop()


async def test_two_workers_share_partitions_and_see_new_reference_data(settings_factory, tmp_path):
    settings = settings_factory(partitions=4)
    await seed_reference(settings)
    first, second = start_worker(settings, "w1"), start_worker(settings, "w2", ready=WORKER_READY)
    try:
        # published after both started: a new reseller's user with a tariff of his own
        late = tmp_path / "late.json"
        late.write_bytes(orjson.dumps([
            {"kind": "account", "id": "r9", "type": "reseller", "tariff": "t-r-buy", "billing": "postpaid"},
            {"kind": "tariff", "id": "t-r9", "owner": "r9", "rates": [{"prefix": "44", "rate": "0.7"}]},
            {"kind": "account", "id": "u9", "type": "user", "parent": "r9", "tariff": "t-r9", "billing": "postpaid"},
        ]))
        await seed_reference(settings, late)
        cdrs = [
            (f"k{n}".encode(), orjson.dumps({"call_id": f"late-{n}", "server_id": "ast9", "account": "u9",
                                             "dst": "447700900123", "start_time": 1764064800, "billsec": 60}))
            for n in range(400)
        ]
        await produce_all(settings, "cdr.raw", cdrs)
        rated = await wait_for(lambda: _all_rated(settings, 400), 120, "400 rated calls", first)
        assert {wire.decode("rated_call.v1", m.value)["user_price"] for m in rated} == {"0.700000"}
        assert await read_all(settings, "cdr.rejected") == []
        for worker in (first, second):  # each writes a progress line within 10 s of rating
            await wait_for(lambda: "rate_cdrs:" in worker.log_path.read_text(), 30,
                           f"{worker.log_path.name}'s progress line: did it rate anything?", worker)
    finally:
        first.stop()
        second.stop()


async def _eq(count_coro, wanted: int) -> bool:
    return (await count_coro) >= wanted


async def _all_rated(settings, wanted: int):
    rated = await read_all(settings, "cdr.rated")
    return rated if len(rated) >= wanted else None


async def test_a_worker_stopped_under_load_hands_over_and_exits_by_itself(settings_factory):
    """SIGTERM to one of two workers while CDRs flow: it finishes its batches, leaves its groups
    and exits on its own (a stop that hung was SIGKILLed after 30 s by the caller, its partitions
    waiting out the session timeout); the other one rates everything, each CDR once."""
    import signal
    import subprocess

    from devkit.bench_scale import steady_feed

    settings = settings_factory(partitions=4)
    await seed_reference(settings)
    first = start_worker(settings, "w1")
    second = start_worker(settings, "w2", ready=WORKER_READY)
    stop = asyncio.Event()
    feeding = asyncio.create_task(steady_feed(settings, 500, stop))
    try:
        await asyncio.sleep(4)
        second.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(second.process.wait, 60)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the stopped worker did not exit:\n{second.log_tail()}") from None
        assert "Closing event loop" in second.log_path.read_text()
        await asyncio.sleep(2)
        stop.set()
        sent = await feeding

        async def every_call_out():
            out = [m.key for topic in ("cdr.rated", "cdr.rejected") for m in await read_all(settings, topic)]
            return out if len(set(out)) >= sent else None

        out = await wait_for(every_call_out, 120, f"{sent} calls out", first)
        assert len(set(out)) == sent and await read_all(settings, "cdr.rejected") == []
    finally:
        stop.set()
        first.stop()
        second.kill()


async def test_sigusr1_and_sigusr2_cost_a_running_worker_nothing(settings_factory):
    """mode's defaults: SIGUSR2 stopped the worker in pdb (no rating, no block signals) and
    SIGUSR1's task dump failed. A stray signal must leave the worker rating."""
    import signal

    settings = settings_factory(partitions=2)
    await seed_reference(settings)
    worker = start_worker(settings, "signals")
    try:
        worker.process.send_signal(signal.SIGUSR1)
        worker.process.send_signal(signal.SIGUSR2)
        await wait_for(lambda: "SIGUSR2 ignored" in worker.log_path.read_text(), 30, "the SIGUSR2 line", worker)
        messages, _ = sample_stream("n-in-n-out", 20)
        await produce_all(settings, "cdr.raw", messages)
        await wait_for(lambda: _eq(outputs(settings), len(messages)), 60, "the CDRs sent after the signals", worker)
        log_text = worker.log_path.read_text()
        assert "SIGUSR1: the stack of every thread follows" in log_text and "Thread 0x" in log_text
        assert worker.alive()
    finally:
        worker.stop()
