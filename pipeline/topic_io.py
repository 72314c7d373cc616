"""Whole-topic reads and bulk writes: for commands, the demo, benchmarks and tests."""
from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pipeline.settings import Settings


async def topic_partitions(consumer: AIOKafkaConsumer, name: str) -> list[TopicPartition]:
    """The partitions of a topic by full name; empty if it does not exist."""
    parts = consumer.partitions_for_topic(name)
    if not parts:  # the client only knows topics it was asked about: refresh once
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(name) or set()
    return [TopicPartition(name, p) for p in sorted(parts)]


async def reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    """Whether the consumer's position is at or past each of these end offsets."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


async def read_all(settings: Settings, topic: str) -> list:
    """Every committed message of a topic (by contract name) up to its end as of this call."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, settings.topic(topic))
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        messages = []
        while not await reached(consumer, ends):
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                messages.extend(batch)
        return messages
    finally:
        await consumer.stop()


async def produce_all(settings: Settings, topic: str, messages, linger_ms: int = 5) -> None:
    """Send (key, value) pairs to a topic (by contract name) and wait until all are acknowledged."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True, acks="all", linger_ms=linger_ms
    )
    await producer.start()
    try:
        name = settings.topic(topic)
        for key, value in messages:
            await producer.send(name, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def count_messages(settings: Settings, topic: str) -> int:
    """Messages in a topic now (end offset minus start offset, summed over partitions)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
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
