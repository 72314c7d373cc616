"""The Faust app: built once from the settings; agents in pipeline/agents are discovered by it."""
from __future__ import annotations

import faust

from pipeline.settings import Settings
from pipeline.topics import LARGE_MESSAGE_BYTES, TOPICS, partitions_of

settings = Settings()
settings.data_dir.mkdir(parents=True, exist_ok=True)

app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap}",
    store=settings.store,
    datadir=str(settings.data_dir),
    autodiscover=["pipeline.agents"],
    origin="pipeline",
    topic_partitions=settings.partitions,
    topic_replication_factor=settings.replication_factor,
    # At-least-once plus idempotent state (see README "Exact balances"): Faust's exactly_once has
    # open reports of duplicates and lost table updates after kill -9 (NOTES-faust.md).
    processing_guarantee="at_least_once",
    key_serializer="raw",
    value_serializer="raw",
    producer_acks=-1,
    producer_max_request_size=LARGE_MESSAGE_BYTES,
    consumer_max_fetch_size=LARGE_MESSAGE_BYTES,
    # the defaults (60 s session) made joining the group take 30 s (NOTES-faust.md)
    broker_session_timeout=10,
    broker_heartbeat_interval=1,
    broker_rebalance_timeout=10,
    broker_commit_interval=1.0,
    web_enabled=False,
    web_bind=settings.web_host,
    web_host=settings.web_host,
    web_port=settings.web_port,
)


def declare(name: str) -> faust.TopicT:
    topic = next(t for t in TOPICS if t.name == name)
    return app.topic(
        settings.topic(name),
        partitions=partitions_of(topic, settings),
        config=topic.config or None,
        key_serializer="raw",
        value_serializer="raw",
    )


class Topics:
    """The Faust handles of the topics, for agents to consume and send to."""

    cdr_raw = declare("cdr.raw")
    cdr_rated = declare("cdr.rated")
    cdr_rejected = declare("cdr.rejected")
    payments = declare("balance.payments")
    charges = declare("balance.charges")
    balance_updates = declare("balance.updates")
    ref_accounts = declare("ref.accounts")
    switch_control = declare("switch.control")


topics = Topics()
