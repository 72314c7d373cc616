"""Whole-topic reads and bulk writes for commands and tests, on the one client factory (clients.py)
and the one reader (follower.py)."""
from __future__ import annotations

from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.follower import read_whole
from pipeline.kafka.topic_read import topic_partitions
from pipeline.settings import Settings


async def read_all(settings: Settings, topic: str, clients: KafkaClients | None = None) -> list:
    """Every committed message of a topic (by contract name) up to its end as of this call."""
    messages: list = []
    await read_whole(clients or KafkaClients(settings), [settings.topic(topic)], messages.append, large_messages=True)
    return messages


async def produce_all(settings: Settings, topic: str, messages, linger_ms: int = 5,
                      clients: KafkaClients | None = None) -> None:
    """Send (key, value) pairs to a topic (by contract name) and wait until all are acknowledged."""
    producer = (clients or KafkaClients(settings)).producer(linger_ms=linger_ms)
    await producer.start()
    try:
        name = settings.topic(topic)
        for key, value in messages:
            await producer.send(name, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def count_messages(settings: Settings, topic: str, clients: KafkaClients | None = None) -> int:
    """Messages in a topic now (end offset minus start offset, summed over partitions)."""
    consumer = (clients or KafkaClients(settings)).reader()
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, settings.topic(topic))
        if not partitions:
            return 0
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        return sum(ends[tp] - starts[tp] for tp in partitions)
    finally:
        await consumer.stop()
