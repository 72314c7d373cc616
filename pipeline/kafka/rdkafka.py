"""The stages' consumer and producer on librdkafka (confluent-kafka), with aiokafka's methods.

Why: the whole worker spent about a third of its CPU in aiokafka's pure-Python protocol code
(fetch responses decoded, produce requests encoded, a task per broker connection). librdkafka
does the same work in C on its own threads, outside the GIL: measured here, about 3 us per
message passed through (consumed and produced) against about 25 us with aiokafka.

Only the checkpoint loop's clients live here (`KafkaClients.stage_consumer`/`stage_producer`);
they offer exactly the aiokafka methods `pipeline/runtime/checkpoint.py` uses, so the loop, the
in-memory broker of the tests and aiokafka (`RATING_KAFKA_CLIENT=aiokafka`) stay interchangeable.
Commands, readers and the API keep aiokafka: they are not on the hot path.

Threads: librdkafka's calls block, so each consumer polls on a thread of its own. Its rebalance
callbacks run on that thread, inside the poll (as Kafka's Java consumer runs them): they hand the
listener's coroutine to the event loop and wait for it, so a partition is given away only after
the stage finished and committed what it holds of it (`rebalances_in_poll` tells the loop).
Each producer has a thread that serves delivery reports and resolves one future per batch.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer
from confluent_kafka import TopicPartition as RdPartition

log = logging.getLogger(__name__)
JOIN_WAIT = 60  # seconds start() waits for the group's first answer (aiokafka's start waits too)


class RdKafkaError(KafkaError):
    """A librdkafka error, as the aiokafka error the checkpoint loop treats as transient."""


class RdMessage:
    """A consumed record with aiokafka's attribute names (what every stage reads)."""

    __slots__ = ("topic", "partition", "offset", "key", "value", "timestamp", "headers")

    def __init__(self, message) -> None:
        self.topic = message.topic()
        self.partition = message.partition()
        self.offset = message.offset()
        self.key = message.key()
        self.value = message.value()
        self.timestamp = message.timestamp()[1]
        self.headers = message.headers()

    def __repr__(self) -> str:
        return f"RdMessage({self.topic}[{self.partition}]@{self.offset})"


def _rd(tp: TopicPartition, offset: int | None = None) -> RdPartition:
    return RdPartition(tp.topic, tp.partition) if offset is None else RdPartition(tp.topic, tp.partition, offset)


def _raise(error, what: str):
    raise RdKafkaError(f"{what}: {error}")


class RdConsumer:
    """A consumer group member (subscribe, getmany, pause, seek, commit, ...) on librdkafka."""

    rebalances_in_poll = True  # the listener runs inside getmany: see the module's docstring

    def __init__(self, config: dict) -> None:
        self.config = config
        self.topics: list[str] = []
        self.listener = None
        self.in_rebalance = False  # a listener coroutine runs inside this consumer's poll
        self._rebalanced = False  # during the fetch under way
        self._assigned: set[TopicPartition] = set()
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()  # see _blocking
        self._joined = False  # the group answered this member's first join
        self._early: list = []  # records fetched while start() waited for the join
        self._highwater: dict[TopicPartition, int] = {}  # end offsets seen by the last fetches
        self._consumer: Consumer | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"rdkafka-{config['group.id']}")
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle and membership ---------------------------------------------------------------
    def subscribe(self, topics, listener=None) -> None:
        self.topics, self.listener = list(topics), listener

    async def start(self) -> None:
        """Subscribes and, as aiokafka's start does, returns once the group gave this member its
        partitions (none is an answer too): a worker says it joined only when it has."""
        self._loop = asyncio.get_running_loop()
        self._consumer = Consumer(self.config)
        self._consumer.subscribe(self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke,
                                 on_lost=self._on_lost)
        deadline = self._loop.time() + JOIN_WAIT
        while not self._joined and self._loop.time() < deadline:  # the join happens inside polls
            self._early.extend(await self._in_thread(self._fetch, 10_000, 0.1))
        if not self._joined:
            log.warning("%s: not in the group after %d s; joining on", self.config["group.id"], JOIN_WAIT)

    async def stop(self) -> None:
        if self._consumer is not None:
            # leaves the group at once (its partitions move now, not after the session timeout);
            # the revocation this causes runs the listener as any other does
            await self._in_thread(self._consumer.close)
            self._consumer = None
        self._thread.shutdown(wait=False)

    def _on_assign(self, consumer, partitions) -> None:
        consumer.assign(partitions)  # before the listener, so that it may seek or pause them
        self._assigned = {TopicPartition(p.topic, p.partition) for p in partitions}
        self._joined = True
        self._call_listener("on_partitions_assigned", partitions)

    def _on_revoke(self, consumer, partitions) -> None:
        self._call_listener("on_partitions_revoked", partitions)  # still assigned meanwhile, as aiokafka's
        self._assigned = set()

    def _on_lost(self, consumer, partitions) -> None:
        # the group already gave them to others (this member missed its session): nothing of them
        # may be committed, which the loop's commit checks against the (now empty) assignment
        log.warning("%s: partitions lost to the group: %s", self.config["group.id"],
                    sorted((p.topic, p.partition) for p in partitions))
        self._assigned = set()  # first: nothing of them may be committed by the listener
        self._call_listener("on_partitions_revoked", partitions)

    def _call_listener(self, method: str, partitions) -> None:
        if self.listener is None or self._loop is None:
            return
        tps = {TopicPartition(p.topic, p.partition) for p in partitions}
        self.in_rebalance = self._rebalanced = True
        try:
            done = asyncio.run_coroutine_threadsafe(getattr(self.listener, method)(tps), self._loop)
            while not done.done():  # meanwhile run the listener's calls that must be made from here
                try:
                    job = self._jobs.get(timeout=0.02)
                except queue.Empty:
                    continue
                job.run()
            done.result()
        except Exception:  # noqa: BLE001 - as aiokafka: a failing listener is logged, the group goes on
            log.exception("%s: rebalance listener %s failed", self.config["group.id"], method)
        finally:
            self.in_rebalance = False
            while not self._jobs.empty():  # a pause or seek asked as the listener ended
                self._jobs.get().run()

    # --- reading --------------------------------------------------------------------------------
    async def getmany(self, *partitions, timeout_ms: int = 0, max_records: int | None = None) -> dict:
        """What is fetched, up to max_records, by partition; waits up to timeout_ms for the first
        record only (as aiokafka: a batch never waits to fill up)."""
        if partitions:
            raise NotImplementedError("the stages read all their partitions")
        # on the consumer's thread even when records are waiting: a rebalance callback may run
        # inside any poll, and it must not run on the event loop it waits for
        if self._early:  # fetched while start() waited for the group
            count = max_records or 10_000
            messages, self._early = self._early[:count], self._early[count:]
            self._rebalanced = True  # kept only if still assigned
        else:
            self._rebalanced = False
            messages = await self._in_thread(self._fetch, max_records or 10_000, timeout_ms / 1000)
        # records fetched before a rebalance inside this poll may be of partitions given away
        # meanwhile: handling them now would write for another member's partitions
        owned = self.assignment() if self._rebalanced else None
        out: dict[TopicPartition, list] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if error.fatal():
                    _raise(error, "consumer")
                log.warning("%s: %s", self.config["group.id"], error)  # librdkafka retries these itself
                continue
            record = RdMessage(message)
            tp = TopicPartition(record.topic, record.partition)
            if owned is not None and tp not in owned:
                continue
            part = out.get(tp)
            if part is None:
                out[tp] = [record]
            else:
                part.append(record)
        return out

    def _fetch(self, count: int, timeout: float) -> list:
        messages = self._consumer.consume(count, 0)
        if not messages and timeout > 0:
            first = self._consumer.poll(timeout)  # returns at the first record, unlike consume()
            if first is not None:
                messages = [first, *self._consumer.consume(count - 1, 0)] if count > 1 else [first]
        for topic, partition in {(m.topic(), m.partition()) for m in messages if m.error() is None}:
            try:  # remembered here, on the consumer's thread: see highwater()
                high = self._consumer.get_watermark_offsets(RdPartition(topic, partition), cached=True)[1]
            except KafkaException:
                continue
            if high >= 0:
                self._highwater[TopicPartition(topic, partition)] = high
        return messages

    # Nothing below calls librdkafka from the event loop while a rebalance listener runs: during a
    # rebalance (or close) librdkafka's own calls wait for its group thread, which waits for the
    # listener, which waits for the event loop (a SIGTERMed worker hung in get_watermark_offsets).
    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def highwater(self, tp: TopicPartition) -> int | None:
        """The end offset as of the last fetch that returned records of it (no request)."""
        return self._highwater.get(tp)

    def pause(self, *tps) -> None:
        if tps:
            self._call(self._consumer.pause, [_rd(tp) for tp in tps])

    def resume(self, *tps) -> None:
        if tps:
            self._call(self._consumer.resume, [_rd(tp) for tp in tps])

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._call(self._consumer.seek, _rd(tp, offset))

    async def seek_to_beginning(self, *tps) -> None:
        for tp in tps or self.assignment():
            self._call(self._consumer.seek, _rd(tp, OFFSET_BEGINNING))

    def _call(self, function, *args) -> None:
        """Now, or, inside a rebalance, on the thread that runs the listener, in order."""
        if self.in_rebalance:
            self._jobs.put(_Job(function, args))
        else:
            function(*args)

    # --- committing -----------------------------------------------------------------------------
    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        def commit():
            try:
                return self._consumer.commit(offsets=[_rd(tp, o) for tp, o in offsets.items()], asynchronous=False)
            except KafkaException as exc:
                raise CommitFailedError(str(exc)) from exc
        for result in await self._blocking(commit):
            if result.error is not None:
                raise CommitFailedError(str(result.error))

    async def committed(self, tp: TopicPartition) -> int | None:
        (result,) = await self._blocking(self._consumer.committed, [_rd(tp)], 30)
        return result.offset if result.offset >= 0 else None

    async def _blocking(self, function, *args):
        """A blocking call (commit, committed) off the event loop. Inside a rebalance it runs on
        the thread that runs the listener: librdkafka answers nothing asked from elsewhere
        until the rebalance callback returns (a commit from another thread waited forever)."""
        if not self.in_rebalance:
            return await asyncio.to_thread(function, *args)
        job = _Job(function, args)
        self._jobs.put(job)
        return await asyncio.wrap_future(job.future)

    async def _in_thread(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)


class _Job:
    """A call for the consumer's thread to make while it waits for a rebalance listener."""

    def __init__(self, function, args) -> None:
        self.function, self.args = function, args
        self.future: concurrent.futures.Future = concurrent.futures.Future()

    def run(self) -> None:
        try:
            self.future.set_result(self.function(*self.args))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            self.future.set_exception(exc)


@dataclass
class RecordMetadata:
    offset: int  # of the batch's first record, as aiokafka's


class _Batch:
    """aiokafka's batch interface: records go to librdkafka, which batches them itself."""

    __slots__ = ("records",)

    def __init__(self) -> None:
        self.records: list = []

    def append(self, *, key, value, timestamp, headers=None):
        self.records.append((key, value, headers))
        return True  # never full: librdkafka splits what it sends


class _Acks:
    """Counts the delivery reports of one batch (on the producer's thread), then resolves its future."""

    __slots__ = ("remaining", "first", "error", "future", "loop", "outstanding")

    def __init__(self, count: int, future: asyncio.Future, loop, outstanding: set) -> None:
        self.remaining, self.first, self.error = count, None, None
        self.future, self.loop = future, loop
        self.outstanding = outstanding  # the producer's batches still waiting for reports
        outstanding.add(self)

    def __call__(self, error, message) -> None:
        if error is not None:
            self.error = self.error or error
        else:
            offset = message.offset()
            if self.first is None or offset < self.first:
                self.first = offset
        self.remaining -= 1
        if self.remaining == 0:
            self.outstanding.discard(self)
            self.loop.call_soon_threadsafe(self._resolve)

    def fail(self, error) -> None:
        """No more reports will come (the producer is broken): fail the batch now."""
        self.error = self.error or error
        self.loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        if self.future.done():
            return
        if self.error is not None:
            self.future.set_exception(RdKafkaError(f"delivery failed: {self.error}"))
        else:
            self.future.set_result(RecordMetadata(self.first))


class RdProducer:
    """Idempotent producer with aiokafka's create_batch/send_batch; a future per batch."""

    def __init__(self, config: dict) -> None:
        self.config = config
        # set on a fatal error (a fenced or broken idempotent producer): this client will never
        # send again, and the checkpoint loop replaces it (`Checkpointer._recover`)
        self.broken: str | None = None
        self._producer: Producer | None = None
        self._stopped = threading.Event()
        self._poller: threading.Thread | None = None
        self._outstanding: set[_Acks] = set()

    async def start(self) -> None:
        self._producer = Producer({**self.config, "error_cb": self._on_error})
        self._poller = threading.Thread(target=self._serve_reports, name="rdkafka-producer", daemon=True)
        self._poller.start()

    def _serve_reports(self) -> None:
        while not self._stopped.is_set():
            try:
                self._producer.poll(0.05)  # delivery reports and errors run their callbacks here
            except KafkaException as exc:  # a fatal error is raised here too (seen: fenced)
                self._on_error(exc.args[0])
                self._stopped.wait(0.05)

    def _on_error(self, error) -> None:
        """librdkafka's client-wide errors (on the reports thread). All but fatal ones it retries
        itself (a broker down); with this callback set it no longer logs them itself."""
        if not error.fatal():
            log.warning("producer: %s", error)
            return
        if self.broken is None:
            self.broken = str(error)
            log.error("producer: fatal error, this client can never send again: %s", error)
        # reports of what it still held may never come: a batch waiting for them would hold its
        # stage for ever instead of failing into the loop's recovery
        for acks in list(self._outstanding):
            self._outstanding.discard(acks)
            acks.fail(error)

    async def stop(self) -> None:
        if self._producer is None:
            return
        try:
            if self.broken is not None:  # nothing it holds can be delivered: do not wait for it
                self._producer.purge()
            await asyncio.to_thread(self._producer.flush, 0 if self.broken is not None else 30)
        finally:
            self._stopped.set()
            await asyncio.to_thread(self._poller.join)
            self._producer = None

    async def partitions_for(self, topic: str) -> set[int]:
        metadata = await asyncio.to_thread(self._producer.list_topics, topic, 30)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            _raise(found.error if found is not None else "unknown topic", f"partitions of {topic}")
        return set(found.partitions)

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not batch.records:
            future.set_result(RecordMetadata(-1))
            return future
        acks = _Acks(len(batch.records), future, loop, self._outstanding)
        produce = self._producer.produce
        for key, value, headers in batch.records:
            while True:
                try:
                    produce(topic, value, key, partition, on_delivery=acks, headers=headers)
                    break
                except BufferError:  # librdkafka's queue is full: let it drain
                    await asyncio.sleep(0.01)
                except KafkaException as exc:
                    self._outstanding.discard(acks)
                    future.cancel()  # nobody will await it: the batch fails here
                    self._on_error(exc.args[0])
                    _raise(exc.args[0], f"send to {topic}[{partition}]")
        return future
