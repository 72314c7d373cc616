"""Keyed state that survives crashes: a dict per partition, backed by a compacted changelog topic.

Partition p of the state holds the keys of partition p of the stage's source topics, and is
written to partition p of the changelog, so whoever owns source partition p restores exactly
the keys it will see. Written through the stage's BatchSender: the changelog is acknowledged
before the source offsets are committed, as with the stage's other outputs.
"""
from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.kafka_batches import BatchSender
from pipeline.settings import Settings
from pipeline.topic_io import reached

log = logging.getLogger(__name__)


class ChangelogStore:
    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.topic = settings.topic(f"state.{name}")
        self.partitions: dict[int, dict[bytes, bytes]] = {}

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self.partitions[partition].get(key)

    async def put(self, sender: BatchSender, partition: int, key: bytes, value: bytes) -> None:
        self.partitions[partition][key] = value
        await sender.add_to(self.topic, partition, key, value)

    async def hold(self, partitions: set[int]) -> None:
        """Keep exactly these partitions: forget the others, restore the new ones."""
        for partition in set(self.partitions) - partitions:
            del self.partitions[partition]
        missing = sorted(partitions - set(self.partitions))
        if missing:
            restored = await self._restore(missing)
            self.partitions.update(restored)
            log.info("%s: restored %d keys of partitions %s", self.name,
                     sum(len(d) for d in restored.values()), missing)

    async def _restore(self, partitions: list[int]) -> dict[int, dict[bytes, bytes]]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
            isolation_level="read_committed", fetch_max_wait_ms=20,
        )
        await consumer.start()
        try:
            tps = [TopicPartition(self.topic, p) for p in partitions]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            data: dict[int, dict[bytes, bytes]] = {p: {} for p in partitions}
            while not await reached(consumer, ends):
                for tp, messages in (await consumer.getmany(timeout_ms=200, max_records=50_000)).items():
                    part = data[tp.partition]
                    for message in messages:
                        if message.value is None:
                            part.pop(message.key, None)
                        else:
                            part[message.key] = message.value
            return data
        finally:
            await consumer.stop()
