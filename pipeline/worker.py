"""The worker: Faust hosts the stages; the stages run on pipeline/runtime.

What of Faust runs, and why: its Worker (signal handling, logging setup, the service tree that
starts and stops everything in order, the "Ready" line) and mode's Services and timers. What
does not: Faust's Kafka consumer and producer, its agents, tables, topic conductor, assignor
and web server (BootStrategy with Kafka, web and sensors off). Every stage reads with its own
consumer group and batch `getmany` (docs/benchmarks.md measured Faust's consumer at a fraction of
that and its fetch wait hard-coded at 1.5 s), and keeps its state in RocksDB with a changelog
of its own; left on, Faust's consumer would join a group and create an assignor topic for
nothing.
"""
from __future__ import annotations

import logging

import faust
from aiohttp.web import AppRunner
from faust.app.base import BootStrategy

from pipeline.agents.child import AlertsChild
from pipeline.faust_host import FollowReference
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topics import record_limits
from pipeline.observability.metrics import Metrics
from pipeline.observability.server import start_ops_server, stop_ops_server
from pipeline.reference.feed import ReferenceFeed
from pipeline.runtime.checkpoint import Checkpointer
from pipeline.runtime.state import claim_state_dir
from pipeline.settings import Settings
from pipeline.stages.accept_payments import AcceptPayments
from pipeline.stages.apply_balances import ApplyBalances
from pipeline.stages.authorize_calls import AuthorizeCalls
from pipeline.stages.base import PipelineStage
from pipeline.stages.charge_calls import ChargeCalls
from pipeline.stages.guard_balances import GuardBalances
from pipeline.stages.rate_cdrs import RateCdrs
from pipeline.stages.sink_clickhouse import SinkClickHouse

log = logging.getLogger(__name__)
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
        self.runner: AppRunner | None = None
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        self.runner = await start_ops_server(self.settings.metrics_host, self.settings.metrics_port,
                                             self.metrics, self.readiness)

    async def on_stop(self) -> None:
        if self.runner is not None:
            await stop_ops_server(self.runner)




def build_stages(settings: Settings, clients: KafkaClients, feed: ReferenceFeed, metrics: Metrics) -> list[PipelineStage]:
    stages: list[PipelineStage] = []
    if settings.runs("rate"):
        stages.append(RateCdrs(settings, feed, metrics))
    if settings.runs("charge"):
        stages.append(ChargeCalls(settings))
    if settings.runs("balance"):
        stages += [AcceptPayments(settings, feed, metrics), ApplyBalances(settings)]
    if settings.runs("guard"):
        stages.append(GuardBalances(settings, feed, clients, metrics))
    if settings.runs("authorize"):
        stages.append(AuthorizeCalls(settings, feed, clients))
    if settings.runs("clickhouse"):
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

    app.service(FollowReference(feed))  # type: ignore[arg-type]  # faust types the class form; an instance works alike
    joined = [0, len(checkpointers)]
    for checkpointer in checkpointers:
        app.service(RunStage(checkpointer, joined))  # type: ignore[arg-type]
    app.service(OpsServer(settings, metrics, readiness))  # type: ignore[arg-type]
    if settings.runs("alerts"):  # Faust agents with Kafka on: their own process (pipeline/agents/child.py)
        app.service(AlertsChild(settings))  # type: ignore[arg-type]
    return app
