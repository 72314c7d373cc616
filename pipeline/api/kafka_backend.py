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

from pipeline.api.credentials import new_token, password_record
from pipeline.api.live import STATE_TOPICS, LiveData
from pipeline.invoices import issuer
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.follower import TopicFollower
from pipeline.kafka.topics import AUDIT, BALANCE_PAYMENTS, REF_CREDENTIALS, REF_ISSUERS, REF_LOGOS, REFERENCE_TOPICS
from pipeline.reference.publish import Located, publish
from pipeline.reference.records import Record
from pipeline.settings import Settings

log = logging.getLogger(__name__)

FOLLOWED = (*REFERENCE_TOPICS.values(), REF_CREDENTIALS, *STATE_TOPICS, REF_ISSUERS, REF_LOGOS)


async def ensure_api_topics(settings: Settings) -> None:
    """The product's topics, the API's and the invoices' among them, each created only if missing."""
    await ensure_topics(settings)


class Follower:
    """Every partition of the followed topics from the beginning (kafka.follower.TopicFollower),
    polled by a task of its own."""

    def __init__(self, settings: Settings, live: LiveData) -> None:
        self.settings = settings
        self.live = live
        # a write answers once this reader has seen it: the factory's short fetch wait keeps that short
        self._reader = TopicFollower(KafkaClients(settings), [settings.topic(t) for t in FOLLOWED], self._apply,
                                     large_messages=True)
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await self._reader.start()
        await self.catch_up()
        self._task = asyncio.create_task(self._run(), name="api-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._reader.stop()

    def _apply(self, message) -> None:
        self.live.apply(message.topic.removeprefix(self.settings.topic_prefix), message.key, message.value,
                        message.headers)

    async def _run(self) -> None:
        polls = 0
        while True:
            try:
                await self.poll(200)
                polls += 1
                if self._reader.missing and polls % 50 == 0:  # the invoices' topics may come later
                    await self._reader.assign_new()
            except asyncio.CancelledError:
                raise
            except Exception:  # a broker hiccup must not end the follower
                log.exception("api follower poll failed; retrying")
                await asyncio.sleep(1)

    async def poll(self, timeout_ms: int) -> None:
        await self._reader.poll(timeout_ms)

    async def catch_up(self, topics: tuple[str, ...] | None = None, timeout: float = 30.0) -> None:
        """Until everything committed to these topics (all followed ones by default) is applied."""
        ends = await self._reader.end_offsets([self.settings.topic(t) for t in topics] if topics else None)
        deadline = asyncio.get_running_loop().time() + timeout
        while not await self._reader.reached(ends):
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
        await self._send(BALANCE_PAYMENTS, payment["account"], orjson.dumps(payment))

    async def publish_credential(self, key: str, value: bytes | None) -> None:
        await self._send(REF_CREDENTIALS, key, value)
        await self.follower.catch_up((REF_CREDENTIALS,))

    async def publish_issuer(self, details) -> None:
        await issuer.publish_issuer(self.settings, details)
        await self.follower.catch_up((REF_ISSUERS,))

    async def publish_logo(self, account: str, data: bytes, content_type: str) -> None:
        await issuer.publish_logo(self.settings, account, data, content_type)
        await self.follower.catch_up((REF_LOGOS,))

    async def audit(self, entry: dict[str, Any]) -> None:
        await self._send(AUDIT, entry["actor"], orjson.dumps(entry))

    async def _send(self, topic: str, key: str, value: bytes | None) -> None:
        assert self._producer is not None, "start() first"
        await self._producer.send_and_wait(self.settings.topic(topic), value, key=key.encode())


async def publish_credential_once(settings: Settings, key: str, value: bytes | None) -> None:
    """For the CLI (`token create`, `password set`): one record, acknowledged, no follower."""
    await ensure_api_topics(settings)
    producer = KafkaClients(settings).producer()
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(REF_CREDENTIALS), value, key=key.encode())
    finally:
        await producer.stop()


async def publish_logins(settings: Settings, accounts, password: str | None = None) -> dict[str, str]:
    """A new bearer token for each account (and a portal password when given): for the demo and
    tests. Returns account -> token (shown once, as `token create` does)."""

    tokens = {}
    for account in accounts:
        made = new_token(account)
        await publish_credential_once(settings, made.key, made.value)
        tokens[account] = made.token
        if password is not None:
            await publish_credential_once(settings, *password_record(account, password))
    return tokens
