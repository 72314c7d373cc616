"""The worker: Faust hosts the stages; the stages run on pipeline/runtime.

What of Faust runs, and why: its Worker (signal handling, logging setup, the service tree that
starts and stops everything in order, the "Ready" line) and mode's Services and timers. What
does not: Faust's Kafka consumer and producer, its agents, tables, topic conductor, assignor
and web server (BootStrategy with Kafka, web and sensors off). Every stage reads with its own
consumer group and batch `getmany` (README "Speed" measured Faust's consumer at a fraction of
that and its fetch wait hard-coded at 1.5 s), and keeps its state in RocksDB with a changelog
of its own; left on, Faust's consumer would join a group and create an assignor topic for
nothing.
"""
from __future__ import annotations

import asyncio
import faulthandler
import logging
import sys

import faust
from faust.app.base import BootStrategy

from pipeline.kafka_admin import check_partitions, ensure_topics
from pipeline.observability.metrics import Metrics
from pipeline.observability.server import start_ops_server, stop_ops_server
from pipeline.runtime.checkpoint import Checkpointer
from pipeline.runtime.clients import KafkaClients
from pipeline.runtime.state import claim_state_dir
from pipeline.settings import Settings
from pipeline.reference_feed import ReferenceFeed
from pipeline.topics import record_limits

log = logging.getLogger(__name__)
FOLLOW_POLL_MS = 500


async def prepare_topics(settings: Settings, clients: KafkaClients | None = None) -> None:
    """Create what is missing, then refuse a layout the co-partitioned state cannot work with
    (raises pipeline.kafka_admin.TopicLayoutError)."""
    await ensure_topics(settings, clients)
    await check_partitions(settings, clients)


class FollowReference(faust.Service):
    """Reads the ref.* topics to their end before any stage starts, then follows them."""

    def __init__(self, feed: ReferenceFeed, **kwargs) -> None:
        self.feed = feed
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        await self.feed.start()
        await self.feed.catch_up()
        log.info("reference data loaded: %d accounts", len(self.feed.book.accounts()))

    async def on_stop(self) -> None:
        await self.feed.stop()

    @faust.Service.task
    async def _follow(self) -> None:
        while not self.should_stop:
            try:
                await self.feed.poll(timeout_ms=FOLLOW_POLL_MS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the broker may be away a moment; go on
                log.warning("reference feed: %s: %s; retrying", type(exc).__name__, exc)
                await asyncio.sleep(1.0)


ALL_JOINED = "every stage has joined its consumer group"


class RunStage(faust.Service):
    """One stage's checkpoint loop as a service of the worker."""

    def __init__(self, checkpointer: Checkpointer, joined: list[int], **kwargs) -> None:
        self.checkpointer = checkpointer
        self.joined = joined  # [stages joined, stages in all], shared by the worker's stages
        super().__init__(**kwargs)

    @property
    def label(self) -> str:
        return f"stage {self.checkpointer.stage.name}"

    async def on_stop(self) -> None:
        if self.checkpointer.started:
            await self.checkpointer.stop()
        close = getattr(self.checkpointer.stage, "close", None)
        if close is not None:
            close()

    @faust.Service.task
    async def _run(self) -> None:
        # joined here, not in on_start: the stages' consumer groups are joined side by side
        # (a join takes seconds; one after another they made a worker slow to take over)
        await self.checkpointer.start()
        self.joined[0] += 1
        if self.joined[0] == self.joined[1]:
            log.info("%s (%d stages)", ALL_JOINED, self.joined[1])
        await self.checkpointer.run()


class OpsServer(faust.Service):
    """/metrics, /health and /ready (pipeline/observability)."""

    def __init__(self, settings: Settings, metrics: Metrics, readiness, **kwargs) -> None:
        self.settings, self.metrics, self.readiness = settings, metrics, readiness
        self.runner = None
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        self.runner = await start_ops_server(self.settings.metrics_host, self.settings.metrics_port,
                                             self.metrics, self.readiness)

    async def on_stop(self) -> None:
        if self.runner is not None:
            await stop_ops_server(self.runner)


class _RoutineKafkaNoise(logging.Filter):
    """aiokafka's warnings for what a rebalance or a topic's first seconds always do; a worker
    runs six consumer groups, so these were most of its log and said nothing."""

    ROUTINE = ("because it is rebalancing", "NotLeaderForPartitionError", "LeaderNotAvailable",
               "Topic(s) not found")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in self.ROUTINE)


class Worker(faust.Worker):
    """Faust's worker, with aiokafka's per-rebalance INFO lines and routine warnings kept out of
    the log (its errors, and warnings that say something, stay)."""

    def on_setup_root_logger(self, logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        kafka_log = logging.getLogger("aiokafka")
        kafka_log.setLevel(max(level, logging.WARNING))
        for handler in logging.getLogger().handlers:
            handler.addFilter(_RoutineKafkaNoise())

    # mode's defaults are for a developer at a terminal: SIGUSR2 stopped the whole worker in pdb
    # (no rating, no block signals) and SIGUSR1's task dump failed. In production a stray signal
    # must cost nothing: SIGUSR1 writes every thread's stack to the log, SIGUSR2 is only logged.
    def _on_sigusr1(self) -> None:
        log.warning("SIGUSR1: the stack of every thread follows")
        faulthandler.dump_traceback(file=sys.__stderr__, all_threads=True)  # mode wraps sys.stderr: no fileno

    def _on_sigusr2(self) -> None:
        log.warning("SIGUSR2 ignored (mode would have stopped the worker in a debugger)")


def build_stages(settings: Settings, clients: KafkaClients, feed: ReferenceFeed, metrics: Metrics) -> list:
    # imported here: a worker of one role does not load what the others need
    stages = []
    if settings.runs("rate"):
        from pipeline.stages.rate_cdrs import RateCdrs
        stages.append(RateCdrs(settings, feed, metrics))
    if settings.runs("charge"):
        from pipeline.stages.charge_calls import ChargeCalls
        stages.append(ChargeCalls(settings))
    if settings.runs("balance"):
        from pipeline.stages.accept_payments import AcceptPayments
        from pipeline.stages.apply_balances import ApplyBalances
        stages += [AcceptPayments(settings, feed, metrics), ApplyBalances(settings)]
    if settings.runs("guard"):
        from pipeline.stages.guard_balances import GuardBalances
        stages.append(GuardBalances(settings, feed, clients, metrics))
    if settings.runs("authorize"):
        from pipeline.stages.authorize_calls import AuthorizeCalls
        stages.append(AuthorizeCalls(settings, feed, clients))
    if settings.runs("clickhouse"):
        from pipeline.stages.sink_clickhouse import SinkClickHouse
        stages.append(SinkClickHouse(settings, metrics))
    return stages


def build_app(settings: Settings, clients: KafkaClients | None = None) -> faust.App:
    clients = clients or KafkaClients(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",  # never connected to: Kafka is off below
        store="memory://",
        datadir=str(settings.data_dir),
        autodiscover=False,
        web_enabled=False,
    )
    app.boot_strategy = BootStrategy(app, enable_kafka=False, enable_web=False, enable_sensors=False)
    metrics = Metrics()
    feed = ReferenceFeed(settings, clients)
    limits = record_limits(settings)
    state_dir = claim_state_dir(settings.data_dir / "state")
    checkpointers = [
        Checkpointer(stage, clients, state_dir=state_dir,
                     changelog_topic=lambda name: settings.topic(f"state.{name}"),
                     max_bytes=limits, metrics=metrics)
        for stage in build_stages(settings, clients, feed, metrics)
    ]

    def readiness() -> list[str]:
        waiting = [] if feed.ready.is_set() else ["reference data"]
        return waiting + [f"stage {c.stage.name}" for c in checkpointers if not c.ready]

    app.service(FollowReference(feed))
    joined = [0, len(checkpointers)]
    for checkpointer in checkpointers:
        app.service(RunStage(checkpointer, joined))
    app.service(OpsServer(settings, metrics, readiness))
    if settings.runs("alerts"):  # Faust agents with Kafka on: their own process (pipeline/agents/child.py)
        from pipeline.agents.child import AlertsChild
        app.service(AlertsChild(settings))
    return app
