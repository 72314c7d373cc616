"""The commit, replay and dead-letter rules of the checkpoint loop, on the in-memory broker.

Each test names the mistake it exists to catch: committing before the outputs are acknowledged,
committing past what was handled, losing or double-counting state on a replay, and one bad
message stalling its partition.
"""
from __future__ import annotations

import asyncio

import orjson
from aiokafka import TopicPartition

from pipeline.runtime import checkpoint as checkpoint_module
from tests.runtime.conftest import CountingStage, run_steps


def produce(broker, count: int, start: int = 0) -> None:
    """Messages v<i> under keys k0..k2; a key always on the same partition (k0, k2 on 0; k1 on 1)."""
    for i in range(start, start + count):
        key = f"k{i % 3}".encode()
        broker.append(TopicPartition("in", (i % 3) % 2), key, f"v{i}".encode())


async def run_until_committed(cp, broker, offsets: dict[int, int], seconds: float = 2.0) -> None:
    """Run the loop as a worker does (failures, backoff and all) until these offsets are committed."""
    task = asyncio.create_task(cp.run())
    for _ in range(int(seconds / 0.01)):
        await asyncio.sleep(0.01)
        if committed(broker) == offsets:
            break
    cp.stopping = True
    await task
    await cp.stop()


def counted(broker) -> dict[bytes, int]:
    counts: dict[bytes, int] = {}
    for record in broker.records("out"):
        counts[record.key] = max(counts.get(record.key, 0), orjson.loads(record.value)["count"])
    return counts


def committed(broker) -> dict[int, int]:
    return {tp.partition: offset for (g, tp), offset in broker.committed.items() if tp.topic == "in"}


async def test_offsets_are_committed_only_after_the_outputs_are_acknowledged(broker, make_checkpointer, monkeypatch):
    monkeypatch.setattr(checkpoint_module, "COMMIT_EVERY", 0.0)  # commit at every step
    produce(broker, 10)
    cp = make_checkpointer(CountingStage())
    await cp.start()
    broker.hold_acks = True
    await cp._step()  # the batch is handled and sent
    waiting = asyncio.create_task(cp._step())  # ... and waits for its acknowledgement
    await asyncio.sleep(0.05)
    assert not waiting.done()
    # nothing acknowledged: nothing may be committed, whatever was handled
    assert committed(broker) == {}
    assert broker.records("out") == []
    broker.hold_acks = False
    broker.release_acks()
    await waiting
    await run_steps(cp, 2)
    assert committed(broker) == {0: 7, 1: 3}
    # every commit ever made points at messages whose outputs were acknowledged before it
    assert len(broker.records("out")) == 10
    await cp.stop()


async def test_the_committed_offset_is_the_next_message_to_read(broker, make_checkpointer, monkeypatch):
    monkeypatch.setattr(checkpoint_module, "COMMIT_EVERY", 0.0)
    produce(broker, 7)
    cp = make_checkpointer(CountingStage())
    await cp.start()
    await run_steps(cp, 4)
    await cp.stop()
    # 5 messages on partition 0 (offsets 0-4), 2 on partition 1: the next to read are 5 and 2,
    # not one further (that message would never be handled)
    assert committed(broker) == {0: 5, 1: 2}


async def test_a_restart_after_a_crash_neither_loses_nor_double_counts_state(broker, make_checkpointer, tmp_path):
    produce(broker, 30)
    first = make_checkpointer(CountingStage(), state_dir=tmp_path / "a")
    await first.start()
    await run_steps(first, 3)
    # crash: no stop, no commit of the batch in flight; its unacknowledged sends are lost
    broker.crash(first.consumer)
    produce(broker, 30, start=30)
    # a new worker with its own (empty) disk: the state comes back from the changelog
    second = make_checkpointer(CountingStage(), state_dir=tmp_path / "b")
    await second.start()
    await run_steps(second, 6)
    await second.stop()
    # 60 messages over 3 keys: each counted exactly 20 times (the replay after the crash is
    # recognised by the state the changelog brought back; nothing was skipped)
    assert counted(broker) == {b"k0": 20, b"k1": 20, b"k2": 20}


async def test_a_message_the_stage_cannot_handle_is_a_dead_letter_and_the_rest_go_on(broker, make_checkpointer, monkeypatch):
    monkeypatch.setattr(checkpoint_module, "COMMIT_EVERY", 0.0)
    produce(broker, 6)  # offsets 0-3 on partition 0
    broker.append(TopicPartition("in", 0), b"k0", b"poison")  # offset 4
    produce(broker, 6, start=6)
    cp = make_checkpointer(CountingStage(poison=b"poison"))
    await cp.start()
    await run_steps(cp, 5)
    await cp.stop()
    dead = [orjson.loads(r.value) for r in broker.records("rejected")]
    assert [(d["reason"], d["offset"]) for d in dead] == [("internal_error", 4)]
    assert "cannot handle this one" in dead[0]["detail"]
    assert len(broker.records("out")) == 12  # everything else handled, nothing twice
    assert committed(broker) == {0: 9, 1: 4}  # and the partition moved past the poison


async def test_an_output_over_the_topic_limit_is_a_dead_letter(broker, make_checkpointer, monkeypatch):
    monkeypatch.setattr(checkpoint_module, "COMMIT_EVERY", 0.0)
    broker.append(TopicPartition("in", 0), b"k", b"x" * 5000)
    broker.append(TopicPartition("in", 0), b"k", b"small")
    cp = make_checkpointer(CountingStage(), max_bytes={"out": 1000})
    await cp.start()
    await run_steps(cp, 3)
    await cp.stop()
    assert [orjson.loads(r.value)["reason"] for r in broker.records("rejected")] == ["too_large"]
    assert [orjson.loads(r.value)["value"] for r in broker.records("out")] == ["small"]
    # the refused message's state write was dropped with it: the count starts from the good one
    assert orjson.loads(broker.records("out")[0].value)["count"] == 1


async def test_a_failed_send_is_retried_from_the_last_commit_without_loss(broker, make_checkpointer, monkeypatch):
    monkeypatch.setattr(checkpoint_module, "COMMIT_EVERY", 0.0)
    monkeypatch.setattr(checkpoint_module, "BACKOFF_FIRST", 0.01)
    produce(broker, 10)
    cp = make_checkpointer(CountingStage())
    await cp.start()
    broker.fail_sends = 1
    await run_until_committed(cp, broker, {0: 7, 1: 3})
    values = sorted({orjson.loads(r.value)["value"] for r in broker.records("out")})
    assert values == sorted(f"v{i}" for i in range(10))  # every message handled despite the failure
    assert sum(counted(broker).values()) == 10  # and counted once: the failed batch's state was dropped


async def test_partitions_move_between_workers_with_their_state(broker, make_checkpointer, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint_module, "COMMIT_EVERY", 0.0)
    produce(broker, 20)
    a = make_checkpointer(CountingStage(), state_dir=tmp_path / "a")
    await a.start()
    await run_steps(a, 3)
    b = make_checkpointer(CountingStage(), state_dir=tmp_path / "b")
    await b.start()  # a rebalance: a gives up one partition, b takes it with its state
    produce(broker, 20, start=20)
    for _ in range(4):
        await a._step()
        await b._step()
    assert {tp.partition for tp in a.consumer.assignment()} | {tp.partition for tp in b.consumer.assignment()} == {0, 1}
    await a.stop()
    await b.stop()
    assert sum(counted(broker).values()) == 40


async def test_state_of_a_partition_not_held_is_retried_never_dead_lettered(broker, make_checkpointer, monkeypatch):
    monkeypatch.setattr(checkpoint_module, "COMMIT_EVERY", 0.0)
    monkeypatch.setattr(checkpoint_module, "BACKOFF_FIRST", 0.01)
    produce(broker, 6)
    cp = make_checkpointer(CountingStage())
    await cp.start()
    await cp._step()  # takes the partitions (state restored)
    cp.stores["counts"].partitions.pop(0).close()  # as if restoring partition 0 had failed
    cp.holding_failed = True
    await run_until_committed(cp, broker, {0: 4, 1: 2})
    assert broker.records("rejected") == []
    assert sum(counted(broker).values()) == 6


async def test_a_batch_whose_every_message_fails_is_retried_not_set_aside(broker, make_checkpointer, monkeypatch):
    monkeypatch.setattr(checkpoint_module, "BACKOFF_FIRST", 0.01)
    broker.append(TopicPartition("in", 0), b"k0", b"poison")
    broker.append(TopicPartition("in", 0), b"k0", b"poison")
    cp = make_checkpointer(CountingStage(poison=b"poison"))
    await cp.start()
    task = asyncio.create_task(cp.run())
    await asyncio.sleep(0.2)
    cp.stopping = True
    await task
    await cp.stop()
    assert broker.records("rejected") == []  # nothing set aside ...
    assert committed(broker) == {}  # ... and nothing skipped: it waits for a fix


async def test_a_batch_that_keeps_failing_whole_is_set_aside_after_its_tries(broker, make_checkpointer, monkeypatch):
    monkeypatch.setattr(checkpoint_module, "COMMIT_EVERY", 0.0)
    monkeypatch.setattr(checkpoint_module, "BACKOFF_FIRST", 0.001)
    monkeypatch.setattr(checkpoint_module, "BACKOFF_MAX", 0.001)
    broker.append(TopicPartition("in", 0), b"k0", b"poison")
    broker.append(TopicPartition("in", 0), b"k0", b"poison")
    broker.append(TopicPartition("in", 0), b"k0", b"good")
    cp = make_checkpointer(CountingStage(poison=b"poison"))
    await cp.start()
    await run_until_committed(cp, broker, {0: 3})
    # two poison messages that made up a whole batch: retried, then set aside, and the next one handled
    assert [orjson.loads(r.value)["offset"] for r in broker.records("rejected")] == [0, 1]
    assert [orjson.loads(r.value)["value"] for r in broker.records("out")] == ["good"]


class FlakySinkStage(CountingStage):
    """A sink whose `flush` fails while its database is down (as ClickHouse's insert does)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.flushed: list = []

    async def handle(self, messages, ctx) -> None:
        await super().handle(messages, ctx)
        for m in messages:
            ctx.stash(m.value)

    async def flush(self, stash) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise checkpoint_module.TransientError("the database is down")
        self.flushed.extend(stash)


async def test_a_long_backoff_keeps_polling_with_the_partitions_paused(broker, make_checkpointer, monkeypatch):
    """An outage longer than max.poll.interval must not cost the group membership: a consumer
    that stops calling getmany is expelled, so the backoff polls, paused, and reads nothing."""
    monkeypatch.setattr(checkpoint_module, "COMMIT_EVERY", 0.0)
    monkeypatch.setattr(checkpoint_module, "BACKOFF_FIRST", 1.5)
    produce(broker, 6)
    stage = FlakySinkStage(failures=1)
    cp = make_checkpointer(stage)
    await cp.start()
    await run_until_committed(cp, broker, {0: 4, 1: 2}, seconds=6.0)
    paused_polls = [when for when, paused in cp.consumer.polls if paused]
    assert len(paused_polls) >= 2, "the backoff did not poll"
    assert cp.consumer.paused() == set()  # resumed afterwards
    assert sorted(stage.flushed) == sorted(f"v{i}".encode() for i in range(6))  # each flushed once in the end


async def test_lag_is_not_asked_of_a_partition_a_rebalance_took_away(broker, make_checkpointer):
    """A sink gathers batches for a second; a rebalance meanwhile may take one of their
    partitions, and aiokafka refuses `highwater` for it: the step must not fail on that."""
    class Lags:
        def __init__(self):
            self.seen = []

        def lag(self, stage, topic, partition, behind):
            self.seen.append(partition)

    produce(broker, 4)
    cp = make_checkpointer(CountingStage())
    cp.metrics = Lags()
    await cp.start()
    batches = await cp._read()
    assert batches
    gone = TopicPartition("in", 0)
    cp.consumer._assigned.discard(gone)  # as if revoked after the batch was read
    cp._report_lag(batches)
    assert gone.partition not in cp.metrics.seen
    await cp.stop()


class SlowSinkStage(FlakySinkStage):
    """A sink whose insert takes seconds (ClickHouse shutting down, or hung)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(failures=0)
        self.seconds = seconds

    async def flush(self, stash) -> None:
        await asyncio.sleep(self.seconds)
        await super().flush(stash)


async def test_a_slow_flush_keeps_polling_with_the_partitions_paused(broker, make_checkpointer, monkeypatch):
    monkeypatch.setattr(checkpoint_module, "COMMIT_EVERY", 0.0)
    produce(broker, 6)
    stage = SlowSinkStage(seconds=2.0)
    cp = make_checkpointer(stage)
    await cp.start()
    await run_until_committed(cp, broker, {0: 4, 1: 2}, seconds=8.0)
    assert [when for when, paused in cp.consumer.polls if paused], "nothing polled during the insert"
    assert cp.consumer.paused() == set()
    assert sorted(stage.flushed) == sorted(f"v{i}".encode() for i in range(6))


async def test_the_backoff_grows_while_the_same_failure_repeats(broker, make_checkpointer, monkeypatch):
    """After a rewind the next step only reads (the failing flush comes a step later): the
    backoff must not start over there, or an outage is retried every 0.5 s for its whole length."""
    monkeypatch.setattr(checkpoint_module, "COMMIT_EVERY", 0.0)
    monkeypatch.setattr(checkpoint_module, "BACKOFF_FIRST", 0.01)
    waits: list[float] = []
    produce(broker, 6)
    cp = make_checkpointer(FlakySinkStage(failures=3))

    async def record(seconds):
        waits.append(seconds)

    cp._wait_polling = record
    await cp.start()
    await run_until_committed(cp, broker, {0: 4, 1: 2})
    assert waits == [0.01, 0.02, 0.04]


async def test_a_rebalance_inside_the_paused_poll_of_a_slow_flush_does_not_deadlock(broker, make_checkpointer,
                                                                                     monkeypatch, tmp_path):
    """librdkafka (and this memory broker) run the rebalance listener inside the poll. The poll a
    slow flush makes holds the loop's lock, which the listener takes: without care the listener
    waits for the flush, the flush for the poll, the poll for the listener, and the stage stops."""
    monkeypatch.setattr(checkpoint_module, "COMMIT_EVERY", 0.0)
    produce(broker, 6)
    a_stage = SlowSinkStage(seconds=2.5)
    a = make_checkpointer(a_stage, state_dir=tmp_path / "a")
    await a.start()
    a_task = asyncio.create_task(a.run())
    for _ in range(400):
        await asyncio.sleep(0.01)
        if a.polling_locked:
            break
    assert a.polling_locked, "the flush never polled"
    b_stage = SlowSinkStage(seconds=0.0)
    b = make_checkpointer(b_stage, state_dir=tmp_path / "b")
    await b.start()  # the group rebalances: `a` learns of it inside its paused poll
    b_task = asyncio.create_task(b.run())
    produce(broker, 6, start=6)

    async def everything_committed():
        while committed(broker) != {0: 8, 1: 4}:
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(everything_committed(), 20)
    finally:
        for cp, task in ((a, a_task), (b, b_task)):
            cp.stopping = True
            await asyncio.wait_for(task, 10)
            await cp.stop()
    assert a.consumer.assignment().isdisjoint(b.consumer.assignment())
    assert {tp.partition for tp in a.consumer.assignment() | b.consumer.assignment()} == {0, 1}
    flushed = set(a_stage.flushed) | set(b_stage.flushed)
    assert flushed == {f"v{i}".encode() for i in range(12)}  # each at least once: re-reads are idempotent


async def test_a_producer_broken_for_good_is_replaced_and_nothing_is_lost_or_counted_twice(
        broker, make_checkpointer, monkeypatch):
    # librdkafka's fatal errors (fenced, idempotence state broken) leave a producer that never
    # sends again: retrying with it would stall the stage until someone restarts the worker
    monkeypatch.setattr(checkpoint_module, "BACKOFF_FIRST", 0.01)
    produce(broker, 10)
    cp = make_checkpointer(CountingStage())
    await cp.start()
    await run_steps(cp, 1)  # the first batch handled and sent, not yet settled or committed
    broken = cp.producer
    broken.broken = "KafkaError{FATAL,code=_FATAL,str=fenced (injected)}"
    produce(broker, 10, start=10)
    await run_until_committed(cp, broker, {0: 13, 1: 7})
    assert cp.producer is not broken
    assert committed(broker) == {0: 13, 1: 7}
    assert counted(broker) == {b"k0": 7, b"k1": 7, b"k2": 6}
