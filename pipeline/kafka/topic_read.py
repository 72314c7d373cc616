"""Reading partitions to their end: the one implementation behind every "read a topic whole"
(follower.TopicFollower reads through it)."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from aiokafka import TopicPartition

from pipeline.kafka.message import Client, Message


async def topic_partitions(consumer: Client, name: str) -> list[TopicPartition]:
    """The partitions of a topic by full name; empty if it does not exist."""
    parts = consumer.partitions_for_topic(name)
    if not parts:  # the client only knows topics it was asked about: refresh once
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(name) or set()
    return [TopicPartition(name, p) for p in sorted(parts)]


async def reached(consumer: Client, ends: dict[TopicPartition, int]) -> bool:
    """Whether the consumer's position is at or past each of these end offsets."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


async def read_to_end(consumer: Client, partitions: Iterable[TopicPartition], apply: Callable[[Message], object],
                      *, from_offsets: dict[TopicPartition, int] | None = None,
                      batch: int = 50_000, include_later: bool = False) -> dict[TopicPartition, int]:
    """Apply every message of these (already assigned) partitions from their start, or from
    `from_offsets`, up to their end offsets as of this call; return those end offsets.

    Messages written after the call are left for the caller's next read, so a busy topic
    cannot keep this from returning; those fetched anyway are dropped, unless `include_later`
    (a follower that goes on reading from where this stops must not lose them).
    """
    partitions = list(partitions)
    if not partitions:
        return {}
    from_offsets = from_offsets or {}
    starts = [tp for tp in partitions if tp not in from_offsets]
    if starts:
        await consumer.seek_to_beginning(*starts)
    for tp, offset in from_offsets.items():
        consumer.seek(tp, offset)
    ends = await consumer.end_offsets(partitions)
    open_ = {tp: end for tp, end in ends.items()}
    while not await reached(consumer, open_):
        for tp, messages in (await consumer.getmany(*open_, timeout_ms=200, max_records=batch)).items():
            end = ends[tp]
            for message in messages:
                if include_later or message.offset < end:
                    apply(message)
        open_ = {tp: end for tp, end in open_.items() if await consumer.position(tp) < end}
    return ends
