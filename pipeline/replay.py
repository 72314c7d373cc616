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

from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topic_read import read_to_end, topic_partitions
from pipeline.kafka.topics import CDR_REJECTED
from pipeline.settings import Settings
from pipeline.stages.rate_cdrs import ALLOW_OLD_HEADER


async def replay(settings: Settings, reason: str | None, allow_old: bool = False) -> Counter:
    """`allow_old`: the replayed CDRs may be older than the dedup window (rated anyway; the
    operator vouches that they were never charged, as the window no longer remembers them)."""
    counts: Counter = Counter()
    clients = KafkaClients(settings)
    consumer = clients.reader(group=f"replay-{reason or 'all'}")  # the cursor of this filter
    producer = clients.producer()
    await consumer.start()
    await producer.start()
    try:
        partitions = await topic_partitions(consumer, settings.topic(CDR_REJECTED))
        if not partitions:
            return counts
        consumer.assign(partitions)
        positions = {tp: await consumer.position(tp) for tp in partitions}  # the cursor, else the start
        rejected_records: list = []
        # up to the end as of now: records rejected meanwhile (perhaps our own replays, rejected
        # again) wait for the next run
        ends = await read_to_end(consumer, partitions, rejected_records.append, from_offsets=positions)
        for message in rejected_records:
            rejected = orjson.loads(message.value)
            if reason is None or rejected["reason"] == reason:
                if rejected.get("payload_truncated"):
                    counts["not replayable (payload cut)"] += 1
                    continue
                await _resend(producer, message.key, rejected, allow_old)
                counts[rejected["reason"]] += 1
        await producer.flush()
        await consumer.commit(ends)
    finally:
        await consumer.stop()
        await producer.stop()
    return counts


async def _resend(producer, key: bytes | None, rejected: dict, allow_old: bool) -> None:
    payload = rejected["payload"].encode()
    if rejected.get("payload_encoding") == "base64":
        payload = base64.b64decode(payload)
    origin = f"{rejected['topic']}/{rejected['partition']}/{rejected['offset']}"
    headers = [("replayed-from", origin.encode())]
    if allow_old:
        headers.append((ALLOW_OLD_HEADER, b"1"))
    await producer.send(rejected["topic"], payload, key=key, headers=headers)
