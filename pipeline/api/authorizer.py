"""The API's side of POST /v1/authorize: put the question on auth.requests, wait for the answer.

The answer is the authorizer's state record for the call (pipeline/stages/authorize_calls.py), read
from its changelog state.auth_calls: a record there is acknowledged by every in-sync replica, so an
answer this instance returns can never be lost with its holds. Each instance follows the changelog
from its end (it only waits for questions it asked itself) and resolves the waiting requests by key.
"""
from __future__ import annotations

import asyncio
import logging

import orjson
from aiokafka import TopicPartition

from pipeline.authorize.request import AuthorizeRequest
from pipeline.runtime.clients import KafkaClients
from pipeline.settings import Settings

log = logging.getLogger(__name__)
ANSWERS_TOPIC = "state.auth_calls"
REQUESTS_TOPIC = "auth.requests"


class NoAnswer(Exception):
    """The authorizer did not answer in time (no worker runs it, or it is taking over)."""


class KafkaAuthorizer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.timeout = settings.authorize_timeout_ms / 1000
        self._waiting: dict[bytes, list[asyncio.Future]] = {}
        self._producer = self._consumer = self._task = None

    async def start(self) -> None:
        clients = KafkaClients(self.settings)
        self._producer = clients.producer(linger_ms=0)
        self._consumer = clients.reader(fetch_max_wait_ms=5)
        await self._producer.start()
        await self._consumer.start()
        answers = TopicPartition(self.settings.topic(ANSWERS_TOPIC), 0)
        self._consumer.assign([answers])
        await self._consumer.seek_to_end(answers)
        await self._consumer.position(answers)  # fixed now: what is written from here on is seen
        self._task = asyncio.create_task(self._follow(), name="api-authorize-answers")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for client in (self._consumer, self._producer):
            if client is not None:
                await client.stop()

    async def authorize(self, request: AuthorizeRequest) -> dict:
        """The stored answer (Answer.to_json()) for this call; NoAnswer after the timeout."""
        key = request.call_key.encode()
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        try:
            await self._producer.send_and_wait(self.settings.topic(REQUESTS_TOPIC),
                                               request.model_dump_json().encode(), key=key)
            return await asyncio.wait_for(future, self.timeout)
        except asyncio.TimeoutError:
            raise NoAnswer(f"no answer from the authorizer within {self.timeout:g} s") from None
        finally:
            waiting = self._waiting.get(key)
            if waiting is not None:
                if future in waiting:
                    waiting.remove(future)
                if not waiting:
                    del self._waiting[key]

    async def _follow(self) -> None:
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=500)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the broker may be away a moment; go on
                log.warning("authorize answers: %s: %s; retrying", type(exc).__name__, exc)
                await asyncio.sleep(0.5)
                continue
            for messages in batches.values():
                for message in messages:
                    waiting = self._waiting.pop(message.key, None) if message.value else None
                    if waiting:
                        answer = orjson.loads(message.value)["answer"]
                        for future in waiting:
                            if not future.done():
                                future.set_result(answer)
