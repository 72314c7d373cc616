"""cdr.raw -> cdr.rated | cdr.rejected: every CDR read ends in exactly one of them.

The hottest stage. A crash replays a batch (at-least-once, pipeline/agents/stage.py): the
repeats are harmless, as cdr.rated is keyed by the call and charge_calls charges a call once.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import faust

from pipeline.agents.reference import feed
from pipeline.agents.stage import Stage
from pipeline.app import app, settings
from pipeline.cdr.process import Output, Source, process_cdr
from pipeline.kafka_batches import BatchSender

log = logging.getLogger(__name__)
RATED = settings.topic("cdr.rated")
REJECTED = settings.topic("cdr.rejected")
# rejections that a reference record published a moment ago can cure: read the feed to its end
# and try once more before rejecting (the feed and the CDRs are separate consumers)
CURABLE = frozenset({"unknown_account", "no_tariff", "unknown_tariff", "no_rate", "unknown_provider"})
PROGRESS_EVERY = 10.0  # seconds between progress lines in the worker's log


def rate_batch(messages, rated_at: datetime) -> list[Output]:
    return [
        process_cdr(m.key, m.value, Source(m.topic, m.partition, m.offset), feed.book, rated_at,
                    settings.wire_format)
        for m in messages
    ]


class RateCdrs(Stage):
    name = "rate"
    sources = ("cdr.raw",)
    settings = settings
    batch_size = settings.rate_batch_size
    batch_seconds = settings.rate_batch_seconds
    counts = {True: 0, False: 0}  # rated, rejected: since the last progress line

    async def before_first_batch(self) -> None:
        await feed.ready.wait()

    async def handle(self, messages: list, sender: BatchSender) -> None:
        rated_at = datetime.now(timezone.utc)
        outputs = rate_batch(messages, rated_at)
        if any(out.reason in CURABLE for out in outputs):
            await feed.catch_up()
            retry = [m for m, out in zip(messages, outputs) if out.reason in CURABLE]
            again = iter(rate_batch(retry, rated_at))
            outputs = [next(again) if out.reason in CURABLE else out for out in outputs]
        for out in outputs:
            self.counts[out.rated] += 1
            await sender.add(RATED if out.rated else REJECTED, out.key, out.value)

    @faust.Service.timer(PROGRESS_EVERY)
    async def _report_progress(self) -> None:
        if self.counts[True] or self.counts[False]:
            log.info("rate_cdrs: %d rated, %d rejected in the last %d s",
                     self.counts[True], self.counts[False], PROGRESS_EVERY)
            self.counts = {True: 0, False: 0}


if settings.runs("rate"):
    app.service(RateCdrs)
