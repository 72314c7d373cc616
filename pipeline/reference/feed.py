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

from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.follower import TopicFollower
from pipeline.kafka.topics import REFERENCE_TOPICS
from pipeline.reference.book import ReferenceBook
from pipeline.reference.records import parse_reference_record
from pipeline.settings import Settings

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
        # new data ends a fetch at once; the wait only sets how often an idle follower asks, and
        # at 20 ms this one reader was a tenth of an idle worker's CPU
        self._follower = TopicFollower(self.clients, [settings.topic(t) for t in REFERENCE_TOPICS.values()],
                                       self._apply_message, large_messages=True, fetch_max_wait_ms=250)

    async def start(self) -> None:
        await self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    async def catch_up(self) -> None:
        """Apply everything published up to now (the end offsets as of this call)."""
        await self._follower.catch_up()
        self.ready.set()

    async def poll(self, timeout_ms: int) -> int:
        return await self._follower.poll(timeout_ms)

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


async def read_book(settings: Settings, clients: KafkaClients | None = None) -> ReferenceBook:
    """The reference data as published now: every ref.* topic read to its end, once."""
    feed = ReferenceFeed(settings, clients)
    await feed.start()
    try:
        await feed.catch_up()
    finally:
        await feed.stop()
    return feed.book
