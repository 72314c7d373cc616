"""Creating the product's topics before anything reads or writes them."""
from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from pipeline.settings import Settings
from pipeline.topics import TOPICS, partitions_of

log = logging.getLogger(__name__)


async def ensure_topics(settings: Settings) -> None:
    """Create every topic that is missing; existing topics are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                settings.topic(t.name),
                num_partitions=partitions_of(t, settings),
                replication_factor=settings.replication_factor,
                topic_configs=t.config,
            )
            for t in TOPICS
            if settings.topic(t.name) not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:  # another process created them meanwhile
                pass
            log.info("created topics: %s", ", ".join(t.name for t in missing))
            await _wait_for_leaders(admin, [t.name for t in missing])
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str], timeout: float = 15.0) -> None:
    """New partitions answer NotLeaderForPartition for a moment; readers should not see that."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        described = await admin.describe_topics(names)
        if all(p["leader"] >= 0 for t in described for p in t["partitions"]) and all(
            t["partitions"] for t in described
        ):
            # the controller has leaders; the broker's own metadata cache follows a moment later
            await asyncio.sleep(0.5)
            return
        await asyncio.sleep(0.1)
