"""TopicFollower: the one reader that rebuilds state from topics and then keeps it current.

No consumer group: it is assigned every partition of its topics, starts at their beginning, reads
them to their end (`catch_up`), then follows them (`poll`). Every process that keeps a whole topic
in memory reads through it: the reference feed, the API's follower, the balance guard's and the
authorizer's rebuilds, the switch controller, the alert blocks, and `read_all` (the CLI's reads of
switch.control and balance.updates).
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import TopicPartition

from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.message import Message
from pipeline.kafka.topic_read import reached, read_to_end, topic_partitions


class TopicFollower:
    def __init__(self, clients: KafkaClients, topics: Iterable[str], apply: Callable[[Message], object], *,
                 large_messages: bool = False, fetch_max_wait_ms: int | None = None) -> None:
        self.clients = clients
        self.topics = tuple(topics)  # full names, with the prefix
        self.apply = apply  # called with each message, in offset order per partition
        self.partitions: list[TopicPartition] = []
        self.missing: set[str] = set()  # topics that had no partitions (not created yet) at the last assign
        self._options: dict[str, Any] = {"large_messages": large_messages}
        if fetch_max_wait_ms is not None:
            self._options["fetch_max_wait_ms"] = fetch_max_wait_ms
        self._consumer: Any = None
        self._lock = asyncio.Lock()  # catch_up and poll from different tasks share the consumer

    async def start(self) -> None:
        """Assigned every partition of the topics, each at its beginning."""
        self._consumer = self.clients.reader(**self._options)
        await self._consumer.start()
        self.partitions = []
        await self.assign_new()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def assign_new(self) -> None:
        """(Re)assign: partitions of topics that appeared since (created later) start at their
        beginning; those already read keep their position."""
        consumer = self._require()
        partitions, missing = [], set()
        for topic in self.topics:
            found = await topic_partitions(consumer, topic)
            partitions += found
            if not found:
                missing.add(topic)
        new = [tp for tp in partitions if tp not in self.partitions]
        if new:
            positions = {tp: await consumer.position(tp) for tp in self.partitions}
            consumer.assign(partitions)
            for tp, offset in positions.items():
                consumer.seek(tp, offset)
            await consumer.seek_to_beginning(*new)
            self.partitions = partitions
        self.missing = missing

    async def catch_up(self, *, include_later: bool = True) -> dict[TopicPartition, int]:
        """Apply everything from the current positions up to the end offsets as of this call; return
        those offsets. Messages fetched past them are applied too unless `include_later` is False
        (a one-off read of the topics as of now, after which the follower is stopped)."""
        consumer = self._require()
        async with self._lock:
            positions = {tp: await consumer.position(tp) for tp in self.partitions}
            return await read_to_end(consumer, self.partitions, self.apply, from_offsets=positions,
                                     include_later=include_later)

    async def poll(self, timeout_ms: int) -> int:
        """Apply what arrived (waiting up to timeout_ms for something); how many messages."""
        consumer = self._require()
        async with self._lock:
            batches = await consumer.getmany(timeout_ms=timeout_ms)
        count = 0
        for messages in batches.values():
            for message in messages:
                self.apply(message)
                count += 1
        return count

    async def end_offsets(self, topics: Iterable[str] | None = None) -> dict[TopicPartition, int]:
        """The end offsets now of the partitions of these topics (full names; all by default)."""
        wanted = None if topics is None else set(topics)
        partitions = [tp for tp in self.partitions if wanted is None or tp.topic in wanted]
        return await self._require().end_offsets(partitions)

    async def reached(self, ends: dict[TopicPartition, int]) -> bool:
        """Whether every partition's position is at or past these offsets."""
        return await reached(self._require(), ends)

    def _require(self) -> Any:
        assert self._consumer is not None, "start() first"
        return self._consumer


async def read_whole(clients: KafkaClients, topics: Iterable[str], apply: Callable[[Message], object], *,
                     large_messages: bool = False) -> dict[TopicPartition, int]:
    """Apply every message of these topics (full names) up to their end as of this call; messages
    written meanwhile are left out. Returns the end offsets read to."""
    follower = TopicFollower(clients, topics, apply, large_messages=large_messages)
    await follower.start()
    try:
        return await follower.catch_up(include_later=False)
    finally:
        await follower.stop()
