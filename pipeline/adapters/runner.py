"""Running an adapter: records from a spool (file or directory) or a topic -> cdr.raw / cdr.rejected.

One loop, visible in one function per source: read a batch -> convert -> produce -> await every
ack -> commit the position (state file, or the consumer group's offsets). A crash after the acks
and before the commit re-sends that one batch: the same calls under the same keys
(server_id/call_id[/segment]), which the pipeline charges once. Nothing is ever committed
unacknowledged. An adapter that holds records between batches (Kamailio's INVITE waiting for its
BYE) saves what it holds with the position: in the spool's state file, or, for a topic, in a
state file of its own written before the offsets are committed.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import TopicPartition

from pipeline.adapters import Adapter, SwitchContext
from pipeline.adapters.common import Skipped
from pipeline.adapters.convert import output_of
from pipeline.adapters.spool import Spool, save_json
from pipeline.adapters.stream import Converted
from pipeline.cdr.process import Output, Source
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topics import CDR_RAW, CDR_REJECTED
from pipeline.settings import Settings

log = logging.getLogger(__name__)
BATCH = 1000


@dataclass
class Counts:
    cdrs: int = 0
    rejected: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> records understood and not billed
    open_calls: int = 0  # records held for the rest of their call when the run ended

    def summary(self) -> str:
        parts = [f"{self.cdrs} CDR(s) to cdr.raw", f"{self.rejected} rejected"]
        if self.skipped:
            parts.append(f"{sum(self.skipped.values())} skipped (" +
                         "; ".join(f"{count} {reason}" for reason, count in sorted(self.skipped.items())) + ")")
        if self.open_calls:
            parts.append(f"{self.open_calls} record(s) held for calls still open (kept in the state file)")
        return ", ".join(parts)


def _outputs(adapter: Adapter, converted: list[Converted], counts: Counts,
             keys: dict[Source, bytes | None] | None = None) -> list[Output]:
    outputs = []
    skipped: Counter = Counter()
    for item in converted:
        output = output_of(adapter.name, item, (keys or {}).get(item.source))
        if isinstance(output, Skipped):
            skipped[output.reason] += 1
        else:
            outputs.append(output)
    if skipped:  # understood and not billed: said once per batch, counted for the summary
        log.info("%s: skipped %s", adapter.name, "; ".join(f"{count} {reason}" for reason, count in skipped.items()))
        counts.skipped.update(skipped)
    return outputs


async def _produce(producer, settings: Settings, outputs: list[Output], counts: Counts) -> None:
    pending = []
    for output in outputs:
        topic = settings.topic(CDR_RAW if output.rated else CDR_REJECTED)
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
    stream = adapter.stream(context)
    stream.restore(spool.adapter_state)
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
            converted = [item for record in batch if adapter.is_record(record.payload)
                         for item in stream.feed(record.payload, Source(f"file:{record.path}", 0, record.offset))]
            await _produce(producer, settings, _outputs(adapter, converted, counts), counts)
            spool.commit(batch, stream.state() if stream.stateful else None)
    finally:
        await producer.stop()
    counts.open_calls = stream.open_calls()
    return counts


async def run_topic(settings: Settings, adapter: Adapter, context: SwitchContext, topic: str,
                    stop: asyncio.Event, follow: bool = True, state_path: Path | None = None) -> Counts:
    """Reads `topic` (its full name, the switch's own) in the consumer group `<prefix>adapter-<name>`.
    A stream that holds records keeps them in `state_path`, written after the acks and before the
    offsets are committed (a crash between the two re-reads a batch the stream knows it has sent)."""
    await ensure_topics(settings)
    stream = adapter.stream(context)
    if stream.stateful and state_path is not None and state_path.exists():
        stream.restore(json.loads(state_path.read_text()).get("adapter") or {})
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
            keys = {Source(m.topic, m.partition, m.offset): m.key for m in messages}
            converted = [item for m in messages if adapter.is_record(m.value or b"")
                         for item in stream.feed(m.value or b"", Source(m.topic, m.partition, m.offset))]
            await _produce(producer, settings, _outputs(adapter, converted, counts, keys), counts)
            if stream.stateful and state_path is not None:
                save_json(state_path, {"topic": topic, "adapter": stream.state()})
            await consumer.commit({TopicPartition(tp.topic, tp.partition): batch[-1].offset + 1
                                   for tp, batch in fetched.items() if batch})
    finally:
        await consumer.stop()
        await producer.stop()
    counts.open_calls = stream.open_calls()
    return counts


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
