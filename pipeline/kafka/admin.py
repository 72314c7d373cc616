"""Creating the product's topics before anything reads or writes them, and checking the ones that
exist: the pipeline's state is co-partitioned, so a topic with the wrong partition count (one
auto-created by a stray client with the broker's default of 1) would split ledgers silently."""
from __future__ import annotations

import asyncio
import logging
import sys

from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topics import TOPICS, TopicSpec, partitions_of
from pipeline.settings import Settings

log = logging.getLogger(__name__)


class TopicLayoutError(Exception):
    """Existing topics whose partition counts the pipeline cannot work with."""


def min_insync_replicas(replication_factor: int) -> int:
    """The fewest replicas that must hold a write (producers use acks=all) before it counts:
    2 from 3 replicas up, so one broker may be down and a write still sits on two; never more
    than rf - 1 (a topic whose every replica must answer stops at the first broker restart)."""
    return max(1, min(2, replication_factor - 1))


def topic_configs(topic: TopicSpec, settings: Settings) -> dict[str, str]:
    """What a topic is created with: its own config, plus min.insync.replicas for replicated
    topics unless the topic's config names one. With one replica the broker's default stays."""
    configs = dict(topic.config)
    if settings.replication_factor > 1:
        configs.setdefault("min.insync.replicas", str(min_insync_replicas(settings.replication_factor)))
    return configs


async def ensure_topics(settings: Settings, clients: KafkaClients | None = None) -> None:
    """Create every topic that is missing; existing topics are left as they are."""
    admin = (clients or KafkaClients(settings)).admin()
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                settings.topic(t.name),
                num_partitions=partitions_of(t, settings),
                replication_factor=settings.replication_factor,
                topic_configs=topic_configs(t, settings),
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


async def prepare_topics(settings: Settings, clients: KafkaClients | None = None) -> None:
    """Create what is missing, then refuse a layout the co-partitioned state cannot work with
    (raises TopicLayoutError)."""
    await ensure_topics(settings, clients)
    await check_partitions(settings, clients)


def prepare_topics_or_exit(settings: Settings) -> None:
    """`prepare_topics` for a process about to start (the worker, the alert agents): a refused
    layout ends it with exit code 2 and one line per wrong topic on standard error."""
    try:
        asyncio.run(prepare_topics(settings))
    except TopicLayoutError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(2)


async def check_partitions(settings: Settings, clients: KafkaClients | None = None) -> None:
    """Raise TopicLayoutError naming every topic whose partition count is not what the
    pipeline's co-partitioned state relies on."""
    admin = (clients or KafkaClients(settings)).admin()
    await admin.start()
    try:
        strict = {settings.topic(t.name): partitions_of(t, settings) for t in TOPICS if t.strict_partitions}
        described = await admin.describe_topics(list(strict))
    finally:
        await admin.close()
    problems = []
    for topic in described:
        expected = strict.get(topic["topic"])
        found = len(topic["partitions"])
        if expected is not None and found and found != expected:
            problems.append(f"{topic['topic']} has {found} partition(s), the pipeline needs {expected}")
    if problems:
        raise TopicLayoutError(
            "refusing to start: " + "; ".join(problems)
            + ". Was a topic auto-created by a client before the pipeline created it? Recreate it with "
            "the right count (or set RATING_PARTITIONS to the count the topics have) and start again."
        )


async def _wait_for_leaders(admin, names: list[str], timeout: float = 15.0) -> None:
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
