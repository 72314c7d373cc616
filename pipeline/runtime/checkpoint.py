"""The checkpoint loop every stage runs on: handle, then outputs and state, then acks, then commit.

One loop for the rating, charging, balance, payment, guard and ClickHouse stages (the order of
`_step` is the whole at-least-once argument; docs/internals.md "Exact balances"):
1. read a batch from the stage's consumer group;
2. `handle` it into records and state writes (held in an overlay, nothing sent yet);
3. send the records and the state's changelog records;
4. once the broker acknowledged all of them: write the state to RocksDB, `flush` (the sink's
   insert), mark the batch's offsets done;
5. commit done offsets (at most every COMMIT_EVERY seconds).
A crash anywhere replays from the last commit; every stage's state is idempotent against that.

Batch N+1 is handled while the broker acknowledges batch N (a third of the loop's time was
round trips), so step 4 for N runs after step 2 for N+1; N+1 reads N's writes from its overlay.

Failures are of two kinds. One that belongs to a message (the stage's code raised on it, or it
would produce a record the topic refuses) must not stall its partition: the batch is handled
again one message at a time, and each message that still fails goes to `cdr.rejected` as a dead
letter with its stage, reason and original position. Anything else (the broker, ClickHouse) is
transient: the loop backs off, rewinds to the last commit and tries again, skipping nothing.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.partitioner import DefaultPartitioner

from pipeline.kafka.clients import FETCH_MAX_WAIT_MS
from pipeline.kafka.message import Message
from pipeline.observability.metrics import Metrics
from pipeline.runtime.outputs import BatchOutputs, Context, OutputTooLarge, Record
from pipeline.runtime.state import StateNotHeld, Store

log = logging.getLogger(__name__)
T = TypeVar("T")
COMMIT_EVERY = 0.25  # seconds; a commit is a broker round trip, the block signal crosses 4 stages
STATE_GAUGE_EVERY = 10.0  # seconds between updates of the state-size gauge (an estimate per DB)
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0  # seconds between tries after a transient failure
# a batch whose every message fails on its own is retried this often (about a minute of backoff)
# before its messages are set aside: two poison messages in one batch must not stall a stage
ALL_FAILED_TRIES = 8


class TransientError(Exception):
    """Raised by a stage for a failure that is not the message's own (e.g. ClickHouse is down)."""


TRANSIENT = (TransientError, StateNotHeld, KafkaError, ConnectionError, OSError, asyncio.TimeoutError)


class Stage:
    """What a stage provides; the loop provides everything else."""

    name: str = "stage"
    sources: tuple[str, ...] = ()  # full topic names read by its consumer group
    stores: tuple[str, ...] = ()  # names of its keyed stores (changelog `state.<name>`)
    batch_size: int = 5000
    batch_seconds: float = 0.02
    # > 0: keep reading until batch_size messages or this many seconds (the sink: few, large inserts)
    gather_seconds: float = 0.0
    handles_empty_batches: bool = False  # the guard re-judges accounts whose reference data changed
    disk_stores: dict[str, Store] = {}  # set by the loop: its stores, for a stage that rebuilds memory from them
    # the broker holds a fetch until this much data or this long (clients.stage_consumer): fuller
    # fetches cost less CPU per message, and add at most fetch_max_wait_ms to each hop
    fetch_min_bytes: int = 1
    fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS

    async def prepare(self) -> None:
        """Before the first batch (wait for reference data, ...)."""

    async def handle(self, messages: list[Message], ctx: Context) -> None:
        raise NotImplementedError

    async def flush(self, stash: list[Any]) -> None:
        """After the batch's records are acknowledged, before its offsets are committed: write
        what `handle` stashed. Failures here are transient by definition: the batch is read again."""

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        """The stage's partitions changed (state stores are already up to date)."""

    def tick(self) -> None:
        """After every step, batch or none (periodic log lines)."""

    async def rollback(self) -> None:
        """A batch failed half-way and is handled again one message at a time: undo whatever the
        stage keeps in memory beyond its stores (the stores' overlay is simply dropped)."""

    def dead_letter(self, message: Message, reason: str, detail: str) -> Record:
        raise NotImplementedError


@dataclass
class _InFlight:
    outputs: BatchOutputs
    acks: list[tuple[Awaitable[Any], tuple[str, int] | None, int]]  # [(future of a sent batch, changelog (store, partition) or None, records in it)]
    offsets: dict[TopicPartition, int]
    started: float
    messages: int
    changelog_ends: dict[tuple[str, int], int] = field(default_factory=dict)


class Checkpointer:
    """Runs one Stage: its consumer group, producer, state stores and the loop above."""

    def __init__(self, stage: Stage, clients: Any, *, state_dir: Path, changelog_topic: Callable[[str], str],
                 max_bytes: dict[str, int], metrics: Metrics | None = None) -> None:
        self.stage = stage
        self.clients = clients
        self.stores = {name: Store(name, changelog_topic(name), state_dir) for name in stage.stores}
        stage.disk_stores = self.stores  # what `assigned` may read (acknowledged writes only)
        self.max_bytes = max_bytes  # topic -> the largest record it accepts
        self.metrics = metrics
        self.partitioner = DefaultPartitioner()
        self.partitions_of: dict[str, list[int]] = {}
        self.lock = asyncio.Lock()  # a rebalance waits for the batch in hand
        self.in_flight: _InFlight | None = None
        self.done: dict[TopicPartition, int] = {}  # acknowledged, not yet committed
        self.committed_at = time.monotonic()
        self.stopping = False
        self.started = False
        self.ready = False
        self.holding_failed = False  # the stores could not take the partitions assigned: try again
        self.all_failed: tuple[tuple[tuple[str, int, int], ...], int] = ((), 0)  # (the batch, tries) whose every message failed
        self.gauged_at = 0.0
        self.polling_locked = False  # a paused poll made while the batch in hand holds the lock

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        self.reader = self.clients.reader()  # restores the state stores
        self.consumer = self.clients.stage_consumer(
            self.stage.name, max_poll_records=self.stage.batch_size, large_messages=True,
            fetch_min_bytes=self.stage.fetch_min_bytes, fetch_max_wait_ms=self.stage.fetch_max_wait_ms,
        )
        self.producer = self.clients.stage_producer(linger_ms=2)
        await self.reader.start()
        await self.producer.start()
        self.consumer.subscribe(list(self.stage.sources), listener=_Rebalance(self))
        self.started = True  # from here on stop() has clients to close
        await self.consumer.start()

    async def stop(self) -> None:
        self.stopping = True
        try:  # hand over cleanly: what is acknowledged is committed, a restart re-reads little
            async with self.lock:
                await self._settle_and_commit()
        except Exception:  # noqa: BLE001 - stopping anyway: what is not committed is read again
            log.warning("%s: could not commit on stop; the last batches will be re-read", self.stage.name)
        await self.consumer.stop()
        await self.producer.stop()
        await self.reader.stop()
        for store in self.stores.values():
            store.close()

    async def run(self) -> None:
        await self.stage.prepare()
        self.ready = True
        backoff = BACKOFF_FIRST
        while not self.stopping:
            try:
                if await self._step():
                    # only once a batch got through: right after a rewind a step just reads, and
                    # resetting there would keep a long outage retrying every 0.5 s
                    backoff = BACKOFF_FIRST
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - transient by elimination: messages' own are caught inside
                if self.stopping:
                    return
                self._count_failure("transient")
                log.warning("%s: %s: %s; retrying from the last commit in %.1f s",
                            self.stage.name, type(exc).__name__, exc, backoff,
                            exc_info=not isinstance(exc, TRANSIENT))
                await self._wait_polling(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                await self._recover()

    # --- the loop -------------------------------------------------------------------------------
    async def _step(self) -> bool:
        """One batch in; True when a batch was settled (made durable) on the way."""
        settled = False
        if self.holding_failed:  # before reading anything of partitions whose state is not here
            await self.assigned(set(self.consumer.assignment()), raise_errors=True)
        batches = await self._read()
        messages = [m for part in batches.values() for m in part]
        async with self.lock:
            current = None
            if messages or self.stage.handles_empty_batches:
                started = time.monotonic()
                outputs = await self._handle(messages)  # 2: records and state, nothing sent
                acks = await self._send(outputs)  # 3: sent, not yet acknowledged
                offsets = {tp: part[-1].offset + 1 for tp, part in batches.items()}
                current = _InFlight(outputs, acks, offsets, started, len(messages))
            if self.in_flight is not None:
                await self._settle(self.in_flight)  # 4: acks, state to disk, flush
                settled = True
            if current is not None and not current.acks and current.outputs.stash:
                # nothing to wait for (the sink's rows): insert now, not after the next gather,
                # which would hold every batch's rows back by up to a second
                await self._settle(current)
                current, settled = None, True
            self.in_flight = current
            if time.monotonic() - self.committed_at >= COMMIT_EVERY:
                await self._commit_done()  # 5
        if batches:
            self._report_lag(batches)
        self.stage.tick()
        return settled

    async def _read(self) -> dict[TopicPartition, list[Message]]:
        size = self.stage.batch_size
        batches: dict[TopicPartition, list[Message]] = await self.consumer.getmany(
            timeout_ms=max(1, int(self.stage.batch_seconds * 1000)), max_records=size)
        if self.stage.gather_seconds <= 0 or not batches:
            return batches
        count, deadline = sum(map(len, batches.values())), time.monotonic() + self.stage.gather_seconds
        while count < size and not self.stopping and (left := deadline - time.monotonic()) > 0:
            more = await self.consumer.getmany(timeout_ms=max(1, int(left * 1000)), max_records=size - count)
            if not more:
                break
            for tp, part in more.items():
                batches.setdefault(tp, []).extend(part)
                count += len(part)
        return batches

    async def _handle(self, messages: list[Message]) -> BatchOutputs:
        """The batch's outputs; a message the stage cannot handle becomes a dead letter."""
        outputs = BatchOutputs()
        try:
            await self.stage.handle(messages, self._context(outputs, []))
            return outputs
        except TRANSIENT:
            raise
        except Exception:  # noqa: BLE001 - find the message(s) it belongs to, below
            if not messages:
                raise
        await self.stage.rollback()
        outputs = BatchOutputs()
        failed: list[tuple[Message, Exception]] = []
        for message in messages:  # each alone, reading the writes of those before it
            one = BatchOutputs()
            try:
                await self.stage.handle([message], self._context(one, [outputs]))
                outputs.merge(one)
            except TRANSIENT:
                raise
            except Exception as exc:  # noqa: BLE001 - this message's own failure: a dead letter
                failed.append((message, exc))
        if len(failed) == len(messages) > 1:
            # every message fails on its own: perhaps not their fault (a bug, a broken disk), so the
            # batch is retried first; if it still fails, its messages are set aside (replayable)
            batch = tuple((m.topic, m.partition, m.offset) for m in messages)
            tries = self.all_failed[1] + 1 if self.all_failed[0] == batch else 1
            self.all_failed = (batch, tries)
            if tries < ALL_FAILED_TRIES:
                raise TransientError(f"every message of the batch failed ({tries}/{ALL_FAILED_TRIES}): "
                                     f"{type(failed[0][1]).__name__}: {failed[0][1]}") from failed[0][1]
        if failed:
            self._count_failure("message")
        for message, error in failed:
            reason = "too_large" if isinstance(error, OutputTooLarge) else "internal_error"
            detail = f"{type(error).__name__}: {error}"
            log.error("%s: %s[%d]@%d goes to the dead letters: %s", self.stage.name,
                      message.topic, message.partition, message.offset, detail[:500],
                      exc_info=(error if reason == "internal_error" else None))
            self._count_dead_letter(reason)
            outputs.records.append(self.stage.dead_letter(message, reason, detail))
        return outputs

    def _context(self, outputs: BatchOutputs, layers: list[BatchOutputs]) -> Context:
        in_flight = [self.in_flight.outputs] if self.in_flight is not None else []
        return Context(outputs, [*layers, *in_flight], self.stores, self.max_bytes)

    async def _send(self, outputs: BatchOutputs) -> list[tuple[Awaitable[Any], tuple[str, int] | None, int]]:
        """Hand every record and changelog write to the producer, one batch per partition."""
        batches: dict[tuple[str, int], list[Record]] = {}
        known = self.partitions_of
        for record in outputs.records:
            partition = record.partition
            if partition is None:
                parts = known.get(record.topic) or await self._partitions(record.topic)
                partition = self.partitioner(record.key, parts, parts)
            batches.setdefault((record.topic, partition), []).append(record)
        changelog: dict[tuple[str, int], tuple[str, int]] = {}
        for (store, partition), writes in outputs.writes.items():
            topic = self.stores[store].topic
            changelog[(topic, partition)] = (store, partition)
            batches.setdefault((topic, partition), []).extend(
                Record(topic, key, value, partition) for key, value in writes.items())
        acks: list[tuple[Awaitable[Any], tuple[str, int] | None, int]] = []
        for (topic, partition), records in batches.items():
            batch, count = self.producer.create_batch(), 0
            for record in records:
                if batch.append(key=record.key, value=record.value, timestamp=None, headers=record.headers) is None:
                    acks.append((await self.producer.send_batch(batch, topic, partition=partition),
                                 changelog.get((topic, partition)), count))
                    batch, count = self.producer.create_batch(), 0
                    batch.append(key=record.key, value=record.value, timestamp=None, headers=record.headers)
                count += 1
            acks.append((await self.producer.send_batch(batch, topic, partition=partition),
                         changelog.get((topic, partition)), count))
        return acks

    async def _settle(self, batch: _InFlight) -> None:
        """Wait for the broker, then make the batch's state durable locally and flush the sink."""
        results = await asyncio.gather(*(future for future, _, _ in batch.acks))
        for metadata, (_, where, count) in zip(results, batch.acks):
            if where is not None:
                batch.changelog_ends[where] = max(batch.changelog_ends.get(where, 0), metadata.offset + count)
        for (store, partition), writes in batch.outputs.writes.items():
            state = self.stores[store].partitions.get(partition)
            if state is not None:  # a partition given away meanwhile: its new owner reads the changelog
                state.apply(writes, batch.changelog_ends[(store, partition)])
        if batch.outputs.stash:
            # an insert can take long (ClickHouse shutting down, or hung): poll meanwhile
            await self._polling_while(self.stage.flush(batch.outputs.stash))
        self.done.update(batch.offsets)
        if self.metrics is not None:
            self.metrics.batch(self.stage.name, batch.messages, time.monotonic() - batch.started)
            per_topic: dict[str, int] = {}
            for record in batch.outputs.records:
                per_topic[record.topic] = per_topic.get(record.topic, 0) + 1
            for topic, count in per_topic.items():
                self.metrics.produced(self.stage.name, topic, count)
            if self.stores and time.monotonic() - self.gauged_at >= STATE_GAUGE_EVERY:
                self.gauged_at = time.monotonic()
                for name, kept in self.stores.items():
                    self.metrics.state_size(self.stage.name, name, kept.estimated_keys())

    async def _settle_and_commit(self) -> None:
        if self.in_flight is not None:
            batch, self.in_flight = self.in_flight, None
            await self._settle(batch)
        await self._commit_done()

    async def _commit_done(self) -> None:
        offsets, self.done, self.committed_at = self.done, {}, time.monotonic()
        assigned = self.consumer.assignment()  # partitions lost in a rebalance are their new owner's
        offsets = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError):
            # the partitions moved meanwhile: their new owner re-reads the batch, harmlessly
            log.warning("%s: offsets not committed after a rebalance; the batch will be re-read", self.stage.name)

    async def _wait_polling(self, seconds: float) -> None:
        """Back off without leaving the group: a consumer that does not poll for
        max.poll.interval is expelled and its partitions move, so through an outage of any length
        (ClickHouse down for an hour) it keeps polling with its partitions paused."""
        await self._polling_while(asyncio.sleep(seconds))

    async def _polling_while(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable` (a flush, a backoff) while polling every second with the partitions
        paused, so that however long it takes the consumer stays in its group."""
        task = asyncio.ensure_future(awaitable)
        done, _ = await asyncio.wait({task}, timeout=1.0)
        if done:
            return task.result()
        self.consumer.pause(*self.consumer.assignment())
        self.polling_locked = self.lock.locked()
        try:
            while not task.done():
                poll = asyncio.ensure_future(self._poll_paused())
                await asyncio.wait({task, poll}, return_when=asyncio.FIRST_COMPLETED)
                await poll  # bounded: a second at most
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            self.polling_locked = False
            self.consumer.resume(*self.consumer.assignment())
        return task.result()

    async def _poll_paused(self) -> None:
        if getattr(self.consumer, "in_rebalance", False):
            # librdkafka: this runs inside the consumer's own poll (a rebalance listener settling
            # a batch), whose thread is busy; the rebalance itself holds the group meanwhile
            await asyncio.sleep(1.0)
            return
        try:
            fetched = await self.consumer.getmany(timeout_ms=1000, max_records=1)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the broker is down too: just wait
            await asyncio.sleep(1.0)
            return
        for tp, messages in fetched.items():
            # handed over unpaused by a rebalance meanwhile: read it again, never skip it
            self.consumer.seek(tp, messages[0].offset)

    async def _recover(self) -> None:
        """After a transient failure: forget what was not acknowledged and read again from the
        last commit. RocksDB holds only acknowledged writes, so the state needs no reload."""
        async with self.lock:
            self.in_flight, self.done = None, {}
            try:
                if getattr(self.producer, "broken", None):
                    await self._replace_producer()
                for tp in self.consumer.assignment():
                    committed = await self.consumer.committed(tp)
                    if committed is None:
                        await self.consumer.seek_to_beginning(tp)
                    else:
                        self.consumer.seek(tp, committed)
                await self.stage.assigned(set(self.consumer.assignment()))
            except Exception as exc:  # noqa: BLE001 - the next step fails and recovers again
                log.warning("%s: recovery failed (%s); trying again", self.stage.name, exc)

    async def _replace_producer(self) -> None:
        """A producer that can never send again (librdkafka's fatal errors: fenced, or its
        idempotence state broken) is swapped for a new one, with a new producer id. What the old
        one did not get acknowledged is not committed, so the re-read that follows sends it
        again: what a worker restart would do, without stopping the worker's other stages."""
        old = self.producer
        log.error("%s: producer broken (%s); replacing it and re-reading from the last commit",
                  self.stage.name, old.broken)
        self.producer = self.clients.stage_producer(linger_ms=2)
        await self.producer.start()
        try:
            await old.stop()
        except Exception as exc:  # noqa: BLE001 - it is dropped either way
            log.warning("%s: the broken producer did not close cleanly: %s", self.stage.name, exc)
        if self.metrics is not None:
            self.metrics.step_failed(self.stage.name, "producer_replaced")

    # --- partitions -----------------------------------------------------------------------------
    async def _partitions(self, topic: str) -> list[int]:
        partitions = self.partitions_of.get(topic)
        if partitions is None:
            partitions = self.partitions_of[topic] = sorted(await self.producer.partitions_for(topic))
        return partitions

    def _called_from_locked_poll(self) -> bool:
        """A rebalance listener running inside a paused poll of the batch that holds the lock (a
        slow flush): waiting for the lock would wait for itself. Only clients that run listeners
        inside polls (librdkafka, the tests' memory broker) get here; aiokafka runs them apart."""
        return self.polling_locked and getattr(self.consumer, "rebalances_in_poll", False)

    async def revoked(self) -> None:
        if self.metrics is not None:
            for tp in self.consumer.assignment():
                self.metrics.partition_revoked(self.stage.name, tp.topic, tp.partition)
        if self._called_from_locked_poll():
            # only a stage that flushes (the sink, stateless) polls while it holds the lock: what it
            # has not committed its partitions' new owner reads again, and writes again idempotently;
            # what it commits later is checked against its assignment then
            log.warning("%s: partitions revoked during a flush; their last batches will be re-read", self.stage.name)
            return
        async with self.lock:  # the batch in hand and the one in flight are finished and committed
            try:
                await self._settle_and_commit()
            except Exception as exc:  # noqa: BLE001 - the new owner re-reads what is not committed
                log.warning("%s: could not finish the batch in flight before a rebalance: %s", self.stage.name, exc)
                self.in_flight, self.done = None, {}

    async def assigned(self, assigned: set[TopicPartition], raise_errors: bool = False) -> None:
        if self._called_from_locked_poll():
            self.holding_failed = True  # taken before the next read, once the lock is free
            return
        async with self.lock:
            try:
                numbers = {tp.partition for tp in assigned}
                for store in self.stores.values():
                    await store.hold(numbers, self.reader)
                await self.stage.assigned(assigned)
                self.holding_failed = False
            except Exception as exc:  # noqa: BLE001 - aiokafka would only log it; retried by the loop
                self.holding_failed = True
                if raise_errors:
                    raise
                log.warning("%s: could not take partitions %s: %s: %s; retrying", self.stage.name,
                            sorted(numbers), type(exc).__name__, exc)

    # --- metrics --------------------------------------------------------------------------------
    def _report_lag(self, batches: dict[TopicPartition, list[Message]]) -> None:
        if self.metrics is None:
            return
        assigned = self.consumer.assignment()
        for tp in batches:
            if tp not in assigned:  # gathered before a rebalance took it away: its owner reports it
                continue
            highwater = self.consumer.highwater(tp)  # the end offset as of the last fetch
            if highwater is not None:
                behind = highwater - (batches[tp][-1].offset + 1)
                self.metrics.lag(self.stage.name, tp.topic, tp.partition, max(0, behind))

    def _count_failure(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.step_failed(self.stage.name, kind)

    def _count_dead_letter(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.dead_lettered(self.stage.name, reason)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, checkpointer: Checkpointer) -> None:
        self.checkpointer = checkpointer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.checkpointer.revoked()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.checkpointer.assigned(set(assigned))
