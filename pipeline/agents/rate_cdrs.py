"""cdr.raw -> cdr.rated | cdr.rejected: every CDR read ends in exactly one of them."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from pipeline.agents.reference import feed
from pipeline.app import app, settings, topics
from pipeline.cdr.process import Output, Source, process_cdr

log = logging.getLogger(__name__)
RATED = topics.cdr_rated.get_topic_name()
REJECTED = topics.cdr_rejected.get_topic_name()
# rejections that a reference record published a moment ago can cure: read the feed to its end
# and try once more before rejecting (the feed and the CDRs are separate consumers)
CURABLE = frozenset({"unknown_account", "no_tariff", "unknown_tariff", "no_rate", "unknown_provider"})
counts = {True: 0, False: 0}  # rated, rejected: since the last progress line


async def rate_cdrs(stream):
    await feed.ready.wait()
    async for events in stream.take_events(settings.rate_batch_size, within=settings.rate_batch_seconds):
        rated_at = datetime.now(timezone.utc)
        outputs = [rate_event(event, rated_at) for event in events]
        if any(out.reason in CURABLE for out in outputs):
            await feed.catch_up()
            outputs = [
                rate_event(event, rated_at) if out.reason in CURABLE else out
                for event, out in zip(events, outputs)
            ]
        send = app.producer.send
        for out in outputs:
            counts[out.rated] += 1
            # not awaiting delivery: Faust flushes the producer before it commits the offsets
            await send(RATED if out.rated else REJECTED, out.key, out.value, None, None, None)


def rate_event(event, rated_at: datetime) -> Output:
    message = event.message
    source = Source(message.topic, message.partition, message.offset)
    return process_cdr(message.key, message.value, source, feed.book, rated_at)


async def report_progress() -> None:
    if counts[True] or counts[False]:
        log.info("rate_cdrs: %d rated, %d rejected in the last 10 s", counts[True], counts[False])
        counts[True] = counts[False] = 0


if settings.runs("rate"):
    app.agent(topics.cdr_raw, name="rate_cdrs")(rate_cdrs)
    app.timer(10.0)(report_progress)
