"""Every worker (and `ref apply`, and the API) keeps the whole reference data in memory.

Not a Faust GlobalTable: faust-streaming #283 reports GlobalTables misbehaving with several
worker instances. A plain reader with no group, assigned every partition of the `ref.*` topics
and reading them from the beginning, sees every update in every process by construction.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import orjson
from pydantic import ValidationError

from pipeline.rating.book import ReferenceBook
from pipeline.rating.reference import parse_reference_record
from pipeline.runtime.clients import KafkaClients
from pipeline.runtime.topic_read import partitions_of, read_to_end
from pipeline.settings import Settings
from pipeline.topics import REFERENCE_TOPICS

log = logging.getLogger(__name__)
KIND_OF_TOPIC = {topic: kind for kind, topic in REFERENCE_TOPICS.items()}


class ReferenceFeed:
    def __init__(self, settings: Settings, clients=None, book: ReferenceBook | None = None,
                 on_change: Callable[[str, str], None] | None = None) -> None:
        self.settings = settings
        self.clients = clients or KafkaClients(settings)
        self.book = book if book is not None else ReferenceBook()
        self.listeners: list[Callable[[str, str], None]] = [on_change] if on_change else []  # (kind, id) after each applied record
        self.ready = asyncio.Event()
        self._consumer = None
        self._partitions: list = []
        self._lock = asyncio.Lock()  # catch_up from a stage and the follower's poll share the consumer

    async def start(self) -> None:
        # new data ends a fetch at once; the wait only sets how often an idle follower asks, and
        # at 20 ms this one reader was a tenth of an idle worker's CPU
        self._consumer = self.clients.reader(large_messages=True, fetch_max_wait_ms=250)
        await self._consumer.start()
        self._partitions = []
        for topic in REFERENCE_TOPICS.values():
            self._partitions += await partitions_of(self._consumer, self.settings.topic(topic))
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def catch_up(self) -> None:
        """Apply everything published up to now (the end offsets as of this call)."""
        assert self._consumer is not None, "start() first"
        async with self._lock:
            positions = {tp: await self._consumer.position(tp) for tp in self._partitions}
            await read_to_end(self._consumer, self._partitions, self._apply_message, from_offsets=positions,
                              include_later=True)
        self.ready.set()

    async def poll(self, timeout_ms: int) -> int:
        assert self._consumer is not None
        async with self._lock:
            batches = await self._consumer.getmany(timeout_ms=timeout_ms)
        count = 0
        for messages in batches.values():
            for message in messages:
                self._apply_message(message)
                count += 1
        return count

    def _apply_message(self, message) -> None:
        self.apply(KIND_OF_TOPIC[message.topic.removeprefix(self.settings.topic_prefix)], message.key, message.value)

    def apply(self, kind: str, key: bytes | None, value: bytes | None) -> None:
        ident = (key or b"").decode(errors="replace")
        try:
            if not value:
                self.book.delete(kind, ident)
            else:
                self.book.apply(parse_reference_record(orjson.loads(value)))
        except (ValidationError, ValueError, KeyError) as exc:
            # written by `ref apply`, which validated it: a bad record here was written by hand
            log.error("ignoring invalid %s %r on the reference topics: %s", kind, ident, str(exc)[:500])
            return
        for listener in self.listeners:
            listener(kind, ident)
