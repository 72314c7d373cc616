"""Scratch topics of a benchmark run: gone with it."""
from __future__ import annotations

from pipeline.kafka.clients import KafkaClients
from pipeline.settings import Settings


async def delete_topics_with_prefix(settings: Settings) -> None:
    """Every topic of `settings.topic_prefix` (a benchmark's own, never empty)."""
    assert settings.topic_prefix, "refusing to delete every topic of the broker"
    admin = KafkaClients(settings).admin()
    await admin.start()
    try:
        mine = [name for name in await admin.list_topics() if name.startswith(settings.topic_prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()
