"""Running an adapter: records from a spool (file or directory) or a topic -> cdr.raw / cdr.rejected.

One loop, visible in one function per source: read a batch -> convert -> produce -> await every
ack -> commit the position (state file, or the consumer group's offsets). A crash after the acks
and before the commit re-sends that one batch: the same calls under the same keys
(server_id/call_id), which the pipeline charges once. Nothing is ever committed unacknowledged.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka import TopicPartition

from pipeline.adapters import Adapter, SwitchContext
from pipeline.adapters.convert import convert_record
from pipeline.runtime.clients import KafkaClients
from pipeline.adapters.spool import Spool
from pipeline.cdr.process import Output, Source
from pipeline.kafka_admin import ensure_topics
from pipeline.settings import Settings

log = logging.getLogger(__name__)
BATCH = 1000


@dataclass
class Counts:
    cdrs: int = 0
    rejected: int = 0


async def _produce(producer, settings: Settings, outputs: list[Output], counts: Counts) -> None:
    pending = []
    for output in outputs:
        topic = settings.topic("cdr.raw" if output.rated else "cdr.rejected")
        pending.append(await producer.send(topic, output.value, key=output.key))
        if output.rated:
            counts.cdrs += 1
        else:
            counts.rejected += 1
    await asyncio.gather(*pending)  # raises if the broker refused one: then nothing is committed


async def run_spool(settings: Settings, adapter: Adapter, context: SwitchContext, spool: Spool,
                    stop: asyncio.Event, follow: bool = True, poll_seconds: float = 0.2) -> Counts:
    """Until `stop` is set (or, without `follow`, until the spool has nothing more)."""
    await ensure_topics(settings)
    producer = KafkaClients(settings).producer(linger_ms=5)
    await producer.start()
    counts = Counts()
    try:
        while not stop.is_set():
            batch = spool.read_batch(BATCH)
            if not batch:
                if not follow and not spool.unsettled:  # --once: what is there, settled files included
                    break
                await sleep_or_stop(stop, poll_seconds)
                continue
            outputs = [convert_record(adapter, context, record.payload, Source(f"file:{record.path}", 0, record.offset))
                       for record in batch if adapter.is_record(record.payload)]
            await _produce(producer, settings, outputs, counts)
            spool.commit(batch)
    finally:
        await producer.stop()
    return counts


async def run_topic(settings: Settings, adapter: Adapter, context: SwitchContext, topic: str,
                    stop: asyncio.Event, follow: bool = True) -> Counts:
    """Reads `topic` (its full name, the switch's own) in the consumer group `<prefix>adapter-<name>`."""
    await ensure_topics(settings)
    clients = KafkaClients(settings)
    producer = clients.producer(linger_ms=5)
    consumer = clients.group_consumer(f"adapter-{adapter.name}")
    consumer.subscribe([topic])
    await producer.start()
    await consumer.start()
    counts = Counts()
    try:
        idle_rounds = 0
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=500, max_records=BATCH)
            messages = [message for batch in fetched.values() for message in batch]
            if not messages:
                idle_rounds += 1
                if not follow and idle_rounds >= 4 and consumer.assignment():
                    break
                continue
            idle_rounds = 0
            outputs = [convert_record(adapter, context, m.value or b"", Source(m.topic, m.partition, m.offset), m.key)
                       for m in messages if adapter.is_record(m.value or b"")]
            await _produce(producer, settings, outputs, counts)
            await consumer.commit({TopicPartition(tp.topic, tp.partition): batch[-1].offset + 1
                                   for tp, batch in fetched.items() if batch})
    finally:
        await consumer.stop()
        await producer.stop()
    return counts


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
