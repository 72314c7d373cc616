"""The consumer every stage and service of the worker reads with: its own group, manual commits."""
from __future__ import annotations

from aiokafka import AIOKafkaConsumer

from pipeline.settings import Settings

FETCH_MAX_WAIT_MS = 20  # aiokafka's 500 ms default holds back records of partitions still being read


def group_consumer(settings: Settings, group: str, *topics: str, **options) -> AIOKafkaConsumer:
    """A consumer in the group `<app id>-<group>`, committing only when told to."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{settings.app_id}-{group}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        # the defaults (45 s session) made a killed worker's partitions wait that long for a new owner
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
        **options,
    )
