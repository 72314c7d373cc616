"""The API's Kafka side: a Follower that keeps LiveData current, and the Writer on the real broker.

Read-your-writes: after producing, a writer takes the end offsets of the topics it wrote and waits
until the follower's position has passed them, so the 2xx answer is only sent once this instance's
next read shows the write (other instances follow within their poll interval).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiokafka import TopicPartition

from pipeline.api.live import AUDIT_TOPIC, CREDENTIALS_TOPIC, STATE_TOPICS, LiveData
from pipeline.invoices import issuer
from pipeline.kafka_admin import ensure_topics
from pipeline.rating.book import Record
from pipeline.reference_apply import Located, publish
from pipeline.settings import Settings
from pipeline.topic_io import reached, topic_partitions
from pipeline.runtime.clients import KafkaClients
from pipeline.topics import REFERENCE_TOPICS

log = logging.getLogger(__name__)

FOLLOWED = (*REFERENCE_TOPICS.values(), CREDENTIALS_TOPIC, *STATE_TOPICS, issuer.ISSUERS_TOPIC, issuer.LOGOS_TOPIC)


async def ensure_api_topics(settings: Settings) -> None:
    """The product's topics, the API's and the invoices' among them, each created only if missing."""
    await ensure_topics(settings)


class Follower:
    """One consumer, no group, every partition of the followed topics from the beginning."""

    def __init__(self, settings: Settings, live: LiveData) -> None:
        self.settings = settings
        self.live = live
        self._consumer = None
        self._partitions: list[TopicPartition] = []
        self._task: asyncio.Task | None = None
        self._missing: set[str] = set()

    async def start(self) -> None:
        # a write answers once this reader has seen it: the factory's short fetch wait keeps that short
        self._consumer = KafkaClients(self.settings).reader(large_messages=True)
        await self._consumer.start()
        await self._assign()
        await self.catch_up()
        self._task = asyncio.create_task(self._run(), name="api-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._consumer is not None:
            await self._consumer.stop()

    async def _assign(self) -> None:
        """(Re)assign: topics that appeared since (the invoices' topics may come later) are added."""
        assert self._consumer is not None
        partitions, missing = [], set()
        for topic in FOLLOWED:
            found = await topic_partitions(self._consumer, self.settings.topic(topic))
            partitions += found
            if not found:
                missing.add(topic)
        new = [tp for tp in partitions if tp not in self._partitions]
        if new:
            positions = {tp: await self._consumer.position(tp) for tp in self._partitions}
            self._consumer.assign(partitions)
            for tp, offset in positions.items():
                self._consumer.seek(tp, offset)
            await self._consumer.seek_to_beginning(*new)
            self._partitions = partitions
        self._missing = missing

    async def _run(self) -> None:
        polls = 0
        while True:
            try:
                await self.poll(200)
                polls += 1
                if self._missing and polls % 50 == 0:
                    await self._assign()
            except asyncio.CancelledError:
                raise
            except Exception:  # a broker hiccup must not end the follower
                log.exception("api follower poll failed; retrying")
                await asyncio.sleep(1)

    async def poll(self, timeout_ms: int) -> None:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=timeout_ms)
        prefix = self.settings.topic_prefix
        for tp, messages in batches.items():
            topic = tp.topic.removeprefix(prefix)
            for message in messages:
                self.live.apply(topic, message.key, message.value, message.headers)

    async def catch_up(self, topics: tuple[str, ...] | None = None, timeout: float = 30.0) -> None:
        """Until everything committed to these topics (all followed ones by default) is applied."""
        assert self._consumer is not None
        wanted = {self.settings.topic(t) for t in topics} if topics else None
        partitions = [tp for tp in self._partitions if wanted is None or tp.topic in wanted]
        ends = await self._consumer.end_offsets(partitions)
        deadline = asyncio.get_running_loop().time() + timeout
        while not await reached(self._consumer, ends):
            if self._task is None:
                await self.poll(200)  # during start, before the loop runs
            else:
                await asyncio.sleep(0.01)
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the API's reader did not reach {ends} within {timeout} s")


class KafkaWriter:
    def __init__(self, settings: Settings, follower: Follower) -> None:
        self.settings = settings
        self.follower = follower
        self._producer = None

    async def start(self) -> None:
        self._producer = KafkaClients(self.settings).producer()
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def publish_reference(self, records: list[Record]) -> None:
        # the very code `ref apply` publishes with: one Kafka transaction for the whole write
        await publish(self.settings, [Located("api", number, r) for number, r in enumerate(records, start=1)])
        await self.follower.catch_up(tuple(REFERENCE_TOPICS[r.kind] for r in records))

    async def publish_payment(self, payment: dict[str, str]) -> None:
        await self._send("balance.payments", payment["account"], orjson.dumps(payment))

    async def publish_credential(self, key: str, value: bytes | None) -> None:
        await self._send(CREDENTIALS_TOPIC, key, value)
        await self.follower.catch_up((CREDENTIALS_TOPIC,))

    async def publish_issuer(self, details) -> None:
        await issuer.publish_issuer(self.settings, details)
        await self.follower.catch_up((issuer.ISSUERS_TOPIC,))

    async def publish_logo(self, account: str, data: bytes, content_type: str) -> None:
        await issuer.publish_logo(self.settings, account, data, content_type)
        await self.follower.catch_up((issuer.LOGOS_TOPIC,))

    async def audit(self, entry: dict[str, Any]) -> None:
        await self._send(AUDIT_TOPIC, entry["actor"], orjson.dumps(entry))

    async def _send(self, topic: str, key: str, value: bytes | None) -> None:
        assert self._producer is not None, "start() first"
        await self._producer.send_and_wait(self.settings.topic(topic), value, key=key.encode())


async def publish_credential_once(settings: Settings, key: str, value: bytes | None) -> None:
    """For the CLI (`token create`, `password set`): one record, acknowledged, no follower."""
    await ensure_api_topics(settings)
    producer = KafkaClients(settings).producer()
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(CREDENTIALS_TOPIC), value, key=key.encode())
    finally:
        await producer.stop()


async def publish_logins(settings: Settings, accounts, password: str | None = None) -> dict[str, str]:
    """A new bearer token for each account (and a portal password when given): for the demo and
    tests. Returns account -> token (shown once, as `token create` does)."""
    from pipeline.api.credentials import new_token, password_record

    tokens = {}
    for account in accounts:
        made = new_token(account)
        await publish_credential_once(settings, made.key, made.value)
        tokens[account] = made.token
        if password is not None:
            await publish_credential_once(settings, *password_record(account, password))
    return tokens
