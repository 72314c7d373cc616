"""What of Faust hosts the product's processes (the worker, pipeline/worker.py, and the alert agents,
pipeline/agents): its Worker, with the log kept to what says something and harmless signals, and
the service that reads the reference data before anything starts and then follows it."""
from __future__ import annotations

import asyncio
import faulthandler
import logging
import sys

import faust

from pipeline.reference.feed import ReferenceFeed

log = logging.getLogger(__name__)
FOLLOW_POLL_MS = 500


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
        if sys.__stderr__ is not None:  # None only without a console at all
            faulthandler.dump_traceback(file=sys.__stderr__, all_threads=True)  # mode wraps sys.stderr: no fileno

    def _on_sigusr2(self) -> None:
        log.warning("SIGUSR2 ignored (mode would have stopped the worker in a debugger)")
