"""cdr.raw -> cdr.rated | cdr.rejected: every CDR read ends in exactly one of them.

The hottest stage, and stateless: a crash replays a batch (at-least-once), which is harmless,
as cdr.rated is keyed by the call and charge_calls charges a call once.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

from pipeline.cdr.process import Output, Source, process_cdr
from pipeline.kafka.message import Message
from pipeline.kafka.topics import CDR_RATED, CDR_RAW
from pipeline.observability.metrics import Metrics
from pipeline.reference.feed import ReferenceFeed
from pipeline.runtime.outputs import Context
from pipeline.settings import Settings
from pipeline.stages.base import PipelineStage

log = logging.getLogger(__name__)
# rejections that a reference record published a moment ago can cure: read the feed to its end
# and try once more before rejecting (the feed and the CDRs are separate consumers)
CURABLE = frozenset({"unknown_account", "no_tariff", "unknown_tariff", "no_rate", "unknown_provider", "unknown_did",
                     "not_a_number"})
PROGRESS_EVERY = 10.0  # seconds between progress lines in the worker's log
# a replayed record carrying this header may be older than the dedup window (the operator's call)
ALLOW_OLD_HEADER = "rating-allow-old"


class RateCdrs(PipelineStage):
    name = "rate"
    fetch_min_bytes = 16384  # a few ms' worth of CDRs at a busy switch; at most 20 ms added when quiet

    def __init__(self, settings: Settings, feed: ReferenceFeed, metrics: Metrics | None = None) -> None:
        super().__init__(settings)
        self.feed = feed
        self.metrics = metrics
        self.sources = (settings.topic(CDR_RAW),)
        self.rated_topic = settings.topic(CDR_RATED)
        self.batch_size = settings.rate_batch_size
        self.batch_seconds = settings.rate_batch_seconds
        self.counts = {True: 0, False: 0}  # rated, rejected: since the last progress line
        self.reported_at = time.monotonic()

    async def prepare(self) -> None:
        await self.feed.ready.wait()

    def rate_batch(self, messages: list[Message], rated_at: datetime) -> list[Output]:
        oldest = rated_at - timedelta(days=self.settings.dedup_days)
        return [
            process_cdr(m.key, m.value, Source(m.topic, m.partition, m.offset), self.feed.book, rated_at,
                        self.settings.wire_format, oldest_start=oldest, allow_old=_allows_old(m))
            for m in messages
        ]

    async def handle(self, messages: list[Message], ctx: Context) -> None:
        rated_at = datetime.now(timezone.utc)
        outputs = self.rate_batch(messages, rated_at)
        if any(out.reason in CURABLE for out in outputs):
            await self.feed.catch_up()
            retry = [m for m, out in zip(messages, outputs) if out.reason in CURABLE]
            again = iter(self.rate_batch(retry, rated_at))
            outputs = [next(again) if out.reason in CURABLE else out for out in outputs]
        for out in outputs:
            self.counts[out.rated] += 1
            if not out.rated and self.metrics is not None:
                self.metrics.rejected(self.name, out.reason)
            ctx.send(self.rated_topic if out.rated else self.rejected_topic, out.key, out.value)

    def tick(self) -> None:
        """A progress line every PROGRESS_EVERY seconds in which something was rated."""
        if time.monotonic() - self.reported_at < PROGRESS_EVERY:
            return
        if self.counts[True] or self.counts[False]:
            log.info("rate_cdrs: %d rated, %d rejected in the last %d s",
                     self.counts[True], self.counts[False], time.monotonic() - self.reported_at)
        self.counts, self.reported_at = {True: 0, False: 0}, time.monotonic()


def _allows_old(message: Message) -> bool:
    return any(name == ALLOW_OLD_HEADER and value == b"1" for name, value in (message.headers or ()))
