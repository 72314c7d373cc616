"""The alerts worker: a faust.App whose agents and windowed tables are Faust's own.

Unlike the money path (pipeline/worker.py, where Faust hosts the stages but its Kafka consumer,
agents and tables are off for measured reasons: its 1.5 s fetch wait put the block signal 20-40 s
behind, its agents read a fraction of what the stages need), alerts are what Faust's agents and
windowed tables are made for: statistics over cdr.rated where a second of delay costs nothing.
So this app has Kafka on, and its own consumer group (`{prefix}rating-alerts`):

    cdr.rated ──► route_calls ─┐                              ┌──► alerts ──► notify_webhooks
                               ├─► alerts.observations ──► watch_windows       └──► sink_alert_events (ClickHouse)
    auth.holds ─► route_holds ─┘   (key ALERT/TARGET)         └──► alert_blocks ──► the balance guard
    timer (leader) ─► a tick to every partition of alerts.observations

Nothing is built at import time: `build_alerts_app(settings)` makes the app, its topics, tables
and agents.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import faust
from faust.app.base import BootStrategy

from pipeline.agents.notify_webhooks import define_notify
from pipeline.agents.routing import Router
from pipeline.agents.sink_alert_events import define_sink
from pipeline.agents.watch_windows import Watcher, decode, define_tables
from pipeline.faust_host import FollowReference
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topics import ALERT_BLOCKS, ALERTS, ALERTS_OBSERVATIONS, AUTH_HOLDS, CDR_RATED
from pipeline.reference.book import ReferenceBook
from pipeline.reference.feed import ReferenceFeed
from pipeline.settings import Settings

log = logging.getLogger(__name__)
READY = "alert agents ready"
ROCKSDB_OPTIONS = {"driver": "rocksdict", "block_cache_size": 8 * 1024 * 1024, "write_buffer_size": 4 * 1024 * 1024,
                   "max_write_buffer_number": 2, "target_file_size_base": 8 * 1024 * 1024}


@dataclass
class AlertAgents:
    """What the agents share; `send` is replaced in the agent tests to see what they send."""
    app: faust.App
    settings: Settings
    book: ReferenceBook
    router: Router
    watcher: Watcher
    topics: dict = field(default_factory=dict)  # full name -> faust topic
    ready: asyncio.Event | None = None  # set once the reference data is read (None: given, in tests)
    agents: dict = field(default_factory=dict)
    sent: int = 0

    async def wait_ready(self) -> None:
        """Agents start reading once the alert definitions and accounts are known."""
        if self.ready is not None:
            await self.ready.wait()

    async def send(self, topic: str, key: bytes, value: bytes, timestamp: float | None = None) -> None:
        await self.topics[topic].send(key=key, value=value, timestamp=timestamp)
        self.sent += 1


def build_alerts_app(settings: Settings, book: ReferenceBook | None = None, *, store: str = "rocksdb://",
                     broker: str | None = None, sinks: bool = True) -> AlertAgents:
    """The app. `book`: reference data given (agent tests); otherwise a ReferenceFeed service
    reads the ref.* topics whole before the agents start, then follows them. `sinks`: the webhook
    and ClickHouse agents (off in the agent tests and the benchmark's window-only run)."""
    datadir = settings.data_dir.with_name(settings.data_dir.name + "-alerts")
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        f"{settings.app_id}-alerts",
        broker=broker or f"kafka://{settings.kafka_bootstrap}",
        store=store,
        datadir=str(datadir),
        autodiscover=False,
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        # measured here: with the defaults, joining the group took 30 s
        broker_session_timeout=10,
        broker_heartbeat_interval=1,
        broker_rebalance_timeout=10,
        processing_guarantee="at_least_once",
    )
    app.boot_strategy = BootStrategy(app, enable_web=False, enable_sensors=False)
    feed = None
    if book is None:
        feed = ReferenceFeed(settings, KafkaClients(settings))
        book = feed.book
    router = Router(book)
    tables = define_tables(app, settings.partitions, ROCKSDB_OPTIONS if store.startswith("rocksdb") else None)
    watcher = Watcher(tables, book.alert, settings.topic(ALERTS), settings.topic(ALERT_BLOCKS))
    agents = AlertAgents(app, settings, book, router, watcher)
    for name in (CDR_RATED, AUTH_HOLDS, ALERTS_OBSERVATIONS, ALERTS, ALERT_BLOCKS):
        full = settings.topic(name)
        agents.topics[full] = app.topic(full, key_serializer="raw", value_serializer="raw")
    _define_agents(agents)
    if feed is not None:
        feed.listeners.append(router.alerts_changed)
        agents.ready = feed.ready
        app.service(FollowReference(feed))
    if sinks:
        define_notify(agents)
        define_sink(agents)
    return agents


def _define_agents(agents: AlertAgents) -> None:
    app, settings, router, watcher = agents.app, agents.settings, agents.router, agents.watcher
    observations = settings.topic(ALERTS_OBSERVATIONS)

    @app.agent(agents.topics[settings.topic(CDR_RATED)], name="route_calls")
    async def route_calls(stream):
        await agents.wait_ready()
        async for event in stream.events():
            message = event.message
            for key, value in router.of_call(message.value, message.partition, message.offset):
                await agents.send(observations, key, value, message.timestamp)

    @app.agent(agents.topics[settings.topic(AUTH_HOLDS)], name="route_holds")
    async def route_holds(stream):
        await agents.wait_ready()
        async for event in stream.events():
            message = event.message
            for key, value in router.of_hold(message.value, message.partition, message.offset):
                await agents.send(observations, key, value, message.timestamp)

    @app.agent(agents.topics[observations], name="watch_windows")
    async def watch_windows(stream):
        await agents.wait_ready()
        async for event in stream.events():
            message = event.message
            key = (message.key or b"").decode()
            for topic, out_key, out_value in watcher.handle(key, decode(message.value), message.partition,
                                                             message.timestamp):
                await agents.send(topic, out_key, out_value)

    @app.timer(settings.alerts_tick_seconds, on_leader=True, name="alert_ticks")
    async def tick() -> None:
        topic = agents.topics[observations]
        for partition in range(settings.partitions):
            await topic.send(key=b"tick", value=b'{"k":"tick"}', partition=partition)

    async def say_ready() -> None:
        await agents.wait_ready()
        log.info("%s: partitions %s (%d alerts)", READY,
                 sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == observations),
                 len(agents.book.alerts()))

    @app.on_rebalance_complete.connect
    async def ready(sender, **kwargs) -> None:  # after the tables' recovery: the streams resume
        asyncio.ensure_future(say_ready())

    agents.agents.update(route_calls=route_calls, route_holds=route_holds, watch_windows=watch_windows)
