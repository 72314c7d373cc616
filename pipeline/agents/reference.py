"""Every worker keeps the whole reference data (accounts, tariffs, ...) in memory."""
from __future__ import annotations

import logging

import faust

from pipeline.agents.loop import run_steps
from pipeline.app import app, settings
from pipeline.kafka_admin import ensure_topics
from pipeline.reference_feed import ReferenceFeed

log = logging.getLogger(__name__)

feed = ReferenceFeed(settings)


@app.service
class FollowReference(faust.Service):
    """Reads the ref.* topics to their end before the agents price anything, then follows them."""

    async def on_start(self) -> None:
        await ensure_topics(settings)  # the contract's topics, before anyone reads them
        await feed.start()
        await feed.catch_up()
        log.info("reference data loaded: %d accounts", len(feed.book.accounts()))

    async def on_stop(self) -> None:
        await feed.stop()

    @faust.Service.task
    async def _follow(self) -> None:
        await feed.ready.wait()
        await run_steps(self, lambda: feed.poll(timeout_ms=500))
