"""`replay-rejected`: send rejected records back where they came from, once the cause is fixed.

Each run starts where the previous run with the same filter stopped (a consumer group per
`--reason`, committed after the records are re-sent), so replaying twice never sends a record
twice, and a cause not yet fixed does not multiply the rejections. A replayed CDR that was rated
meanwhile is not charged twice (charge_calls keeps one charge per call) and stays one row in
ClickHouse (ReplacingMergeTree keyed by the call).
"""
from __future__ import annotations

import base64
from collections import Counter

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline.settings import Settings
from pipeline.topic_io import reached, topic_partitions


async def replay(settings: Settings, reason: str | None) -> Counter:
    counts: Counter = Counter()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{settings.app_id}-replay-{reason or 'all'}",  # the cursor of this filter
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True, acks="all")
    await consumer.start()
    await producer.start()
    try:
        partitions = await topic_partitions(consumer, settings.topic("cdr.rejected"))
        if not partitions:
            return counts
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        while not await reached(consumer, ends):
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                for message in messages:
                    if _past_end(message, ends):
                        continue
                    rejected = orjson.loads(message.value)
                    if reason is None or rejected["reason"] == reason:
                        await _resend(producer, message.key, rejected)
                        counts[rejected["reason"]] += 1
        await producer.flush()
        await consumer.commit({tp: end for tp, end in ends.items()})
    finally:
        await consumer.stop()
        await producer.stop()
    return counts


def _past_end(message, ends) -> bool:
    # records rejected while we read (perhaps our own replays, rejected again) wait for next time
    return any(tp.topic == message.topic and tp.partition == message.partition and message.offset >= end
               for tp, end in ends.items())


async def _resend(producer: AIOKafkaProducer, key: bytes | None, rejected: dict) -> None:
    payload = rejected["payload"].encode()
    if rejected.get("payload_encoding") == "base64":
        payload = base64.b64decode(payload)
    origin = f"{rejected['topic']}/{rejected['partition']}/{rejected['offset']}"
    await producer.send(rejected["topic"], payload, key=key, headers=[("replayed-from", origin.encode())])
