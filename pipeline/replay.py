"""`replay-rejected`: send rejected records back where they came from, once the cause is fixed.

A replayed CDR that was rated meanwhile is not charged twice (charge_calls keeps one charge per
call) and stays one row in ClickHouse (ReplacingMergeTree keyed by the call).
"""
from __future__ import annotations

import base64
from collections import Counter

import orjson
from aiokafka import AIOKafkaProducer

from pipeline.topic_io import read_all
from pipeline.settings import Settings


async def replay(settings: Settings, reason: str | None) -> Counter:
    counts: Counter = Counter()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for message in await read_all(settings, "cdr.rejected"):
            rejected = orjson.loads(message.value)
            if reason is not None and rejected["reason"] != reason:
                continue
            payload = rejected["payload"].encode()
            if rejected.get("payload_encoding") == "base64":
                payload = base64.b64decode(payload)
            origin = f"{rejected['topic']}/{rejected['partition']}/{rejected['offset']}"
            await producer.send(rejected["topic"], payload, key=message.key, headers=[("replayed-from", origin.encode())])
            counts[rejected["reason"]] += 1
        await producer.flush()
    finally:
        await producer.stop()
    return counts
