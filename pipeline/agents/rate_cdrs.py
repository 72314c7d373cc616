"""cdr.raw -> cdr.rated | cdr.rejected: every CDR read ends in exactly one of them.

The hottest loop of the product, so it reads with aiokafka's batch `getmany` under its own
consumer group instead of a Faust stream: measured here, a Faust agent doing nothing at all
reads ~4,500 events/s (its per-event stream machinery), below the 10,000 CDR/s this stage must
do. Same at-least-once rule as Faust: outputs are flushed before the offsets are committed, so a
crash replays a batch (cdr.rated is keyed by the call; charge_calls charges a call once).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import CommitFailedError

from pipeline.agents.loop import rewind_to_committed, run_steps
from pipeline.agents.reference import feed
from pipeline.app import app, settings
from pipeline.cdr.process import Output, Source, process_cdr
from pipeline.kafka_batches import BatchSender

log = logging.getLogger(__name__)
RAW = settings.topic("cdr.raw")
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


class RateCdrs(faust.Service):
    async def on_start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            RAW,
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=f"{settings.app_id}-rate",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=settings.rate_batch_size,
            session_timeout_ms=10000,
            heartbeat_interval_ms=1000,
        )
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True, acks="all", linger_ms=5,
        )
        await self.producer.start()
        await self.consumer.start()
        self.counts = {True: 0, False: 0}

    async def on_stop(self) -> None:
        await self.consumer.stop()
        await self.producer.stop()

    @faust.Service.task
    async def _rate(self) -> None:
        await feed.ready.wait()
        await run_steps(self, self._step, on_error=lambda: rewind_to_committed(self.consumer))

    async def _step(self) -> None:
        batches = await self.consumer.getmany(
            timeout_ms=int(settings.rate_batch_seconds * 1000) or 1, max_records=settings.rate_batch_size
        )
        messages = [m for partition in batches.values() for m in partition]
        if messages:
            await self._rate_and_send(messages)
            await self._commit(batches)

    async def _rate_and_send(self, messages) -> None:
        rated_at = datetime.now(timezone.utc)
        outputs = rate_batch(messages, rated_at)
        if any(out.reason in CURABLE for out in outputs):
            await feed.catch_up()
            retry = [m for m, out in zip(messages, outputs) if out.reason in CURABLE]
            again = iter(rate_batch(retry, rated_at))
            outputs = [next(again) if out.reason in CURABLE else out for out in outputs]
        batches = BatchSender(self.producer)
        for out in outputs:
            self.counts[out.rated] += 1
            await batches.add(RATED if out.rated else REJECTED, out.key, out.value)
        await batches.flush()  # every output acknowledged before the offsets move on

    async def _commit(self, batches) -> None:
        offsets = {tp: messages[-1].offset + 1 for tp, messages in batches.items()}
        try:
            await self.consumer.commit(offsets)
        except CommitFailedError:
            # the partitions moved to another worker meanwhile: it re-reads this batch, and the
            # repeats are harmless (same key on cdr.rated; charge_calls charges a call once)
            log.warning("rate_cdrs: offsets not committed after a rebalance; the batch will be re-read")

    @faust.Service.timer(PROGRESS_EVERY)
    async def _report_progress(self) -> None:
        if self.counts[True] or self.counts[False]:
            log.info("rate_cdrs: %d rated, %d rejected in the last %d s",
                     self.counts[True], self.counts[False], PROGRESS_EVERY)
            self.counts = {True: 0, False: 0}


if settings.runs("rate"):
    app.service(RateCdrs)
