"""An in-memory Kafka for fast tests of the stream runtime: the methods of aiokafka's consumer,
producer and admin client that pipeline/runtime uses, and nothing more.

What it models, because the runtime's rules depend on it: partitioned append-only logs with
offsets; records become visible (and readable) only when the producer's batch is acknowledged,
which a test may hold back (`hold_acks`) or fail (`fail_sends`); consumer groups with committed
offsets, range assignment and rebalances (listeners called on the next poll) when members join
or leave. What it leaves out: compaction, transactions, timeouts, networking.
"""
from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import ConsumerRecord, RecordMetadata


@dataclass
class _Pending:
    tp: TopicPartition
    records: list
    future: asyncio.Future


class MemoryBroker:
    def __init__(self, default_partitions: int = 4) -> None:
        self.default_partitions = default_partitions
        self.logs: dict[str, list[list[ConsumerRecord]]] = {}
        self.committed: dict[tuple[str, TopicPartition], int] = {}
        self.commits: list[tuple[str, dict[TopicPartition, int]]] = []  # every commit, in order
        self.members: dict[str, list[MemoryConsumer]] = defaultdict(list)
        self.hold_acks = False
        self.fail_sends = 0  # the next N sent batches fail (a broker hiccup)
        self.pending: list[_Pending] = []

    # --- topics ---------------------------------------------------------------------------------
    def create_topic(self, name: str, partitions: int | None = None) -> None:
        if name not in self.logs:
            self.logs[name] = [[] for _ in range(partitions or self.default_partitions)]

    def partitions(self, topic: str) -> list[int]:
        self.create_topic(topic)
        return list(range(len(self.logs[topic])))

    def records(self, topic: str) -> list[ConsumerRecord]:
        return [r for part in self.logs.get(topic, []) for r in part]

    def end(self, tp: TopicPartition) -> int:
        self.create_topic(tp.topic)
        return len(self.logs[tp.topic][tp.partition])

    def append(self, tp: TopicPartition, key, value, headers=None) -> int:
        log = self.logs[tp.topic][tp.partition]
        offset = len(log)
        log.append(ConsumerRecord(tp.topic, tp.partition, offset, int(time.time() * 1000), 0, key, value,
                                  None, len(key or b""), len(value or b""), tuple(headers or ())))
        return offset

    # --- acknowledgements -------------------------------------------------------------------------
    def _submit(self, tp: TopicPartition, records: list) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        if self.fail_sends > 0:
            self.fail_sends -= 1
            future.set_exception(KafkaConnectionError("memory broker: send failed (injected)"))
            return future
        pending = _Pending(tp, records, future)
        if self.hold_acks:
            self.pending.append(pending)
        else:
            self._ack(pending)
        return future

    def _ack(self, pending: _Pending) -> None:
        self.create_topic(pending.tp.topic)
        base = None
        for key, value, headers in pending.records:
            offset = self.append(pending.tp, key, value, headers)
            base = offset if base is None else base
        base = self.end(pending.tp) if base is None else base
        pending.future.set_result(RecordMetadata(pending.tp.topic, pending.tp.partition, pending.tp, base, -1, 0, 0))

    def release_acks(self) -> None:
        pending, self.pending = self.pending, []
        for item in pending:
            self._ack(item)

    def crash(self, consumer: MemoryConsumer) -> None:
        """A worker SIGKILLed: its unacknowledged sends are gone and its group moves on without it."""
        self.pending = []
        if consumer.group is not None and consumer in self.members[consumer.group]:
            self.members[consumer.group].remove(consumer)
            self._rebalance(consumer.group)

    # --- groups ---------------------------------------------------------------------------------
    def _rebalance(self, group: str) -> None:
        members = self.members[group]
        topics = sorted({t for m in members for t in m.topics})
        shares: dict[int, set[TopicPartition]] = {id(m): set() for m in members}
        for topic in topics:
            subscribed = [m for m in members if topic in m.topics]
            parts = self.partitions(topic)
            for index, member in enumerate(subscribed):  # range assignment, like the stages use
                per, extra = divmod(len(parts), len(subscribed))
                start = index * per + min(index, extra)
                count = per + (1 if index < extra else 0)
                shares[id(member)] |= {TopicPartition(topic, p) for p in parts[start:start + count]}
        for member in members:
            member._next_assignment = shares[id(member)]

    def clients(self) -> MemoryClients:
        return MemoryClients(self)


class MemoryClients:
    """Same methods as pipeline.kafka.clients.KafkaClients."""

    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker

    def group_consumer(self, group: str, **options) -> MemoryConsumer:
        return MemoryConsumer(self.broker, group)

    def stage_consumer(self, group: str, **options) -> MemoryConsumer:
        return MemoryConsumer(self.broker, group)

    def stage_producer(self, **options) -> MemoryProducer:
        return MemoryProducer(self.broker)

    def reader(self, **options) -> MemoryConsumer:
        return MemoryConsumer(self.broker, None)

    def producer(self, **options) -> MemoryProducer:
        return MemoryProducer(self.broker)

    def admin(self) -> MemoryAdmin:
        return MemoryAdmin(self.broker)


class _Batch:
    def __init__(self, limit: int = 500) -> None:
        self.records: list = []
        self.limit = limit

    def append(self, *, key, value, timestamp, headers=None):
        if len(self.records) >= self.limit:
            return None
        self.records.append((key, value, headers))
        return object()


class MemoryProducer:
    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker
        self.broken: str | None = None  # as RdProducer after a fatal error: it never sends again

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def flush(self) -> None: ...

    async def partitions_for(self, topic: str) -> set[int]:
        return set(self.broker.partitions(topic))

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> asyncio.Future:
        if self.broken is not None:
            raise KafkaConnectionError(f"memory broker: producer broken ({self.broken})")
        return self.broker._submit(TopicPartition(topic, partition), batch.records)

    async def send(self, topic, value=None, key=None, partition=None, headers=None, **_) -> asyncio.Future:
        if partition is None:
            from aiokafka.partitioner import DefaultPartitioner

            parts = self.broker.partitions(topic)
            partition = DefaultPartitioner()(key, parts, parts)
        return self.broker._submit(TopicPartition(topic, partition), [(key, value, headers)])

    async def send_and_wait(self, *args, **kwargs):
        return await (await self.send(*args, **kwargs))


class _Client:
    async def force_metadata_update(self) -> None: ...


class MemoryConsumer:
    rebalances_in_poll = True  # as librdkafka: the listener runs inside getmany

    def __init__(self, broker: MemoryBroker, group: str | None) -> None:
        self.broker = broker
        self.group = group
        self.topics: list[str] = []
        self.listener = None
        self._assigned: set[TopicPartition] = set()
        self._next_assignment: set[TopicPartition] | None = None
        self._positions: dict[TopicPartition, int] = {}
        self._client = _Client()
        self.stopped = False
        self._paused: set[TopicPartition] = set()
        self.polls: list[tuple[float, frozenset]] = []  # (when, partitions paused): each getmany

    # --- lifecycle and membership ---------------------------------------------------------------
    def subscribe(self, topics, listener=None) -> None:
        self.topics, self.listener = list(topics), listener

    async def start(self) -> None:
        if self.group is not None and self.topics:
            self.broker.members[self.group].append(self)
            self.broker._rebalance(self.group)

    async def stop(self) -> None:
        self.stopped = True
        if self.group is not None and self in self.broker.members[self.group]:
            self.broker.members[self.group].remove(self)
            self.broker._rebalance(self.group)

    def assign(self, tps) -> None:
        self._assigned = set(tps)
        for tp in tps:
            self.broker.create_topic(tp.topic)
            self._positions.setdefault(tp, 0)

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    async def _maybe_rebalance(self) -> None:
        if self._next_assignment is None:
            return
        new, self._next_assignment = self._next_assignment, None
        if self.listener is not None and self._assigned:
            await self.listener.on_partitions_revoked(set(self._assigned))
        self._assigned = new
        self._paused &= new
        self._positions = {}
        for tp in new:
            self._positions[tp] = self.broker.committed.get((self.group, tp), 0)
        if self.listener is not None:
            await self.listener.on_partitions_assigned(set(new))

    # --- reading --------------------------------------------------------------------------------
    def pause(self, *tps) -> None:
        self._paused |= set(tps)

    def resume(self, *tps) -> None:
        self._paused -= set(tps)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    async def getmany(self, *partitions, timeout_ms: int = 0, max_records: int | None = None) -> dict:
        self.polls.append((asyncio.get_running_loop().time(), frozenset(self._paused & self._assigned)))
        await self._maybe_rebalance()
        wanted = [tp for tp in (partitions or sorted(self._assigned))
                  if tp in self._assigned and tp not in self._paused]
        out: dict[TopicPartition, list] = {}
        budget = max_records or 10_000
        for tp in wanted:
            log = self.broker.logs[tp.topic][tp.partition]
            position = self._positions.get(tp, 0)
            chunk = log[position:position + budget]
            if chunk:
                out[tp] = list(chunk)
                self._positions[tp] = position + len(chunk)
                budget -= len(chunk)
            if budget <= 0:
                break
        if not out:
            await asyncio.sleep(min(timeout_ms, 5) / 1000)
        return out

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        if topic not in self.broker.logs:
            return None
        return set(self.broker.partitions(topic))

    async def position(self, tp: TopicPartition) -> int:
        return self._positions.get(tp, 0)

    def highwater(self, tp: TopicPartition) -> int:
        assert tp in self._assigned, "Partition is not assigned"  # as aiokafka's
        return self.broker.end(tp)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._positions[tp] = offset

    async def seek_to_beginning(self, *tps) -> None:
        for tp in tps or self._assigned:
            self._positions[tp] = 0

    async def end_offsets(self, tps) -> dict[TopicPartition, int]:
        return {tp: self.broker.end(tp) for tp in tps}

    async def beginning_offsets(self, tps) -> dict[TopicPartition, int]:
        return {tp: 0 for tp in tps}

    # --- committing -----------------------------------------------------------------------------
    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            self.broker.committed[(self.group, tp)] = offset
        self.broker.commits.append((self.group, dict(offsets)))

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.broker.committed.get((self.group, tp))


class MemoryAdmin:
    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    async def list_topics(self) -> list[str]:
        return list(self.broker.logs)

    async def create_topics(self, new_topics) -> None:
        for topic in new_topics:
            self.broker.create_topic(topic.name, topic.num_partitions)

    async def describe_topics(self, names) -> list[dict]:
        return [{"topic": name, "partitions": [{"partition": p, "leader": 0}
                                               for p in range(len(self.broker.logs.get(name, [])))]}
                for name in names]
