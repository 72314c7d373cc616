"""The Faust worker: built once from the settings; the stages in pipeline/agents are its services.

Topics are created by pipeline/kafka_admin.py from pipeline/topics.py, not declared here: no
stage is a Faust stream (pipeline/agents/stage.py says why).
"""
from __future__ import annotations

import faust

from pipeline.settings import Settings
from pipeline.topics import LARGE_MESSAGE_BYTES

settings = Settings()
settings.data_dir.mkdir(parents=True, exist_ok=True)

app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap}",
    store="memory://",  # the stages keep their own state (pipeline/state_store.py), not Faust tables
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

