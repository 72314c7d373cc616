"""The API's side of POST /v1/authorize: put the question on auth.requests, wait for the answer.

The answer is the authorizer's state record for the call (pipeline/stages/authorize_calls.py), read
from its changelog state.auth_calls: a record there is acknowledged by every in-sync replica, so an
answer this instance returns can never be lost with its holds. Each instance follows the changelog
from its end (it only waits for questions it asked itself) and resolves the waiting requests by key.

Both ends are librdkafka (confluent-kafka), each on its own thread: an authorization waits on two
broker hops, and with aiokafka the protocol work of those hops (and the empty fetches of a reader
that must answer within milliseconds) ran on the event loop that serves every HTTP request.
"""
from __future__ import annotations

import asyncio
import logging
import threading

import orjson
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from pipeline.authorize.request import AuthorizeRequest
from pipeline.kafka.topics import AUTH_REQUESTS, STATE_AUTH_CALLS
from pipeline.settings import Settings

log = logging.getLogger(__name__)
POLL_SECONDS = 0.1  # how long the threads wait for work; a record wakes them at once


class NoAnswer(Exception):
    """The authorizer did not answer in time (no worker runs it, or it is taking over)."""


class KafkaAuthorizer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.timeout = settings.authorize_timeout_ms / 1000
        self.requests_topic = settings.topic(AUTH_REQUESTS)
        self._waiting: dict[bytes, list[asyncio.Future]] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._producer = self._consumer = self._loop = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        common = {"bootstrap.servers": self.settings.kafka_bootstrap, "client.id": "rating-api-authorize"}
        self._producer = Producer({**common, "enable.idempotence": True, "acks": "all", "linger.ms": 0})
        self._consumer = Consumer({**common, "group.id": "unused", "enable.auto.commit": False,
                                   "fetch.wait.max.ms": 5, "fetch.min.bytes": 1, "isolation.level": "read_committed"})
        # from the changelog's end as of now, an explicit offset: whatever is written from here on
        # (every answer to a question this instance asks) is read
        topic = self.settings.topic(STATE_AUTH_CALLS)
        _, end = await asyncio.to_thread(self._consumer.get_watermark_offsets, TopicPartition(topic, 0), 10)
        self._consumer.assign([TopicPartition(topic, 0, end)])
        self._threads = [threading.Thread(target=target, name=name, daemon=True)
                         for target, name in ((self._follow, "api-authorize-answers"),
                                              (self._serve_reports, "api-authorize-reports"))]
        for thread in self._threads:
            thread.start()

    async def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            await asyncio.to_thread(thread.join)
        if self._consumer is not None:
            await asyncio.to_thread(self._consumer.close)
        if self._producer is not None:
            await asyncio.to_thread(self._producer.flush, 5)

    async def authorize(self, request: AuthorizeRequest) -> dict:
        """The stored answer (Answer.to_json()) for this call; NoAnswer after the timeout."""
        key = request.call_key.encode()
        future = self._loop.create_future()
        self._waiting.setdefault(key, []).append(future)
        sent = self._loop.create_future()
        try:
            self._producer.produce(self.requests_topic, request.model_dump_json().encode(), key, partition=0,
                                   on_delivery=lambda error, _: self._loop.call_soon_threadsafe(_settle, sent, error))
            await asyncio.wait_for(sent, self.timeout)
            return await asyncio.wait_for(future, self.timeout)
        except (TimeoutError, KafkaException, BufferError) as exc:
            raise NoAnswer(f"no answer from the authorizer within {self.timeout:g} s ({type(exc).__name__})") \
                from None
        finally:
            waiting = self._waiting.get(key)
            if waiting is not None:
                if future in waiting:
                    waiting.remove(future)
                if not waiting:
                    del self._waiting[key]

    # --- the threads ------------------------------------------------------------------------------
    def _serve_reports(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(POLL_SECONDS)  # delivery reports run their callbacks here

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                # poll returns at the first record; consume(n, t) would wait t to fill n
                first = self._consumer.poll(POLL_SECONDS)
                messages = [] if first is None else [first, *self._consumer.consume(500, 0)]
            except KafkaException as exc:  # the broker may be away a moment; go on
                log.warning("authorize answers: %s; retrying", exc)
                continue
            answers = []
            for message in messages:
                if message.error() is None and message.value():
                    answers.append((message.key(), message.value()))
            if answers:
                self._loop.call_soon_threadsafe(self._resolve, answers)

    def _resolve(self, answers: list[tuple[bytes, bytes]]) -> None:
        for key, value in answers:
            waiting = self._waiting.pop(key, None)
            if waiting:
                answer = orjson.loads(value)["answer"]
                for future in waiting:
                    if not future.done():
                        future.set_result(answer)


def _settle(future: asyncio.Future, error) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(KafkaException(error))
