"""Every worker (and `ref apply`) reads all reference data into its own ReferenceBook.

Not a Faust GlobalTable: faust-streaming #283 reports GlobalTables misbehaving with several
worker instances. A plain consumer with no group, assigned every partition of the `ref.*` topics
and reading them from the beginning, sees every update in every process by construction.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from pipeline.rating.book import ReferenceBook
from pipeline.rating.reference import parse_reference_record
from pipeline.settings import Settings
from pipeline.topic_io import reached, topic_partitions
from pipeline.topics import LARGE_MESSAGE_BYTES, REFERENCE_TOPICS

log = logging.getLogger(__name__)
KIND_OF_TOPIC = {topic: kind for kind, topic in REFERENCE_TOPICS.items()}


class ReferenceFeed:
    def __init__(self, settings: Settings, book: ReferenceBook | None = None,
                 on_change: Callable[[str, str], None] | None = None) -> None:
        self.settings = settings
        self.book = book if book is not None else ReferenceBook()
        self.on_change = on_change  # (kind, id) after each applied record
        self.ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # `ref apply` publishes in one transaction: a run that failed half-way is never seen
            isolation_level="read_committed",
            max_partition_fetch_bytes=LARGE_MESSAGE_BYTES,
            fetch_max_bytes=LARGE_MESSAGE_BYTES,
        )
        await self._consumer.start()
        self._partitions = []
        for topic in REFERENCE_TOPICS.values():
            self._partitions += await topic_partitions(self._consumer, self.settings.topic(topic))
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def catch_up(self) -> None:
        """Apply everything published up to now (the end offsets as of this call)."""
        assert self._consumer is not None, "start() first"
        ends = await self._consumer.end_offsets(self._partitions)
        while not await reached(self._consumer, ends):
            await self.poll(timeout_ms=200)
        self.ready.set()

    async def poll(self, timeout_ms: int) -> int:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=timeout_ms)
        count = 0
        for tp, messages in batches.items():
            kind = KIND_OF_TOPIC[tp.topic.removeprefix(self.settings.topic_prefix)]
            for message in messages:
                self.apply(kind, message.key, message.value)
                count += 1
        return count

    def apply(self, kind: str, key: bytes | None, value: bytes | None) -> None:
        ident = (key or b"").decode()
        try:
            if not value:
                self.book.delete(kind, ident)
            else:
                self.book.apply(parse_reference_record(orjson.loads(value)))
        except (ValidationError, ValueError, KeyError) as exc:
            # written by `ref apply`, which validated it: a bad record here was written by hand
            log.error("ignoring invalid %s %r on the reference topics: %s", kind, ident, exc)
            return
        if self.on_change is not None:
            self.on_change(kind, ident)
