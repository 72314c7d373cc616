"""cdr.rated -> rating.rated_calls, and ref.accounts/tariffs/providers -> their mirror tables.

Its own consumer group, not a Faust agent: a Faust app's agents share one consumer, so a sink
waiting for ClickHouse would stall the money path behind it (charging, balances, blocking).
Here ClickHouse being down delays only ClickHouse. Offsets are committed only after the rows
of everything read so far are inserted; a crash or stop before that re-inserts, which the
ReplacingMergeTree tables (keyed by the call, by the id) absorb.
"""
from __future__ import annotations

import asyncio
import logging
import time

import faust
from aiokafka.errors import CommitFailedError

from pipeline.agents.consumers import group_consumer
from pipeline.agents.loop import rewind_to_committed, run_steps
from pipeline.app import app, settings
from pipeline.sinks.batch import rows_from_payloads
from pipeline.sinks.clickhouse import ClickHouseWriter
from pipeline.sinks.reference_rows import MIRRORS, mirror_row
from pipeline.topics import LARGE_MESSAGE_BYTES

log = logging.getLogger(__name__)
RATED = settings.topic("cdr.rated")
MIRRORED = {settings.topic(name): name for name in MIRRORS}  # full topic name -> contract name


class SinkClickHouse(faust.Service):
    async def on_start(self) -> None:
        self.calls = ClickHouseWriter(settings)
        self.mirrors = {
            topic: ClickHouseWriter(settings, table=MIRRORS[name][0], columns=MIRRORS[name][1])
            for topic, name in MIRRORED.items()
        }
        self.consumer = group_consumer(
            settings, "clickhouse", RATED, *MIRRORED, max_partition_fetch_bytes=LARGE_MESSAGE_BYTES,
        )
        await self.consumer.start()
        self.refused_total = 0

    async def on_stop(self) -> None:
        for writer in (self.calls, *self.mirrors.values()):
            writer.close()  # a writer still retrying gives up; its rows are not committed
        await self.consumer.stop()

    @faust.Service.task
    async def _sink(self) -> None:
        await run_steps(self, self._step, on_error=lambda: rewind_to_committed(self.consumer))

    async def _step(self) -> None:
        batch = await self._next_batch()
        if batch:
            await self._store(batch)
            await self._commit(batch)

    async def _next_batch(self) -> dict:
        """Messages by partition, until sink_batch_size of them or sink_flush_seconds have passed."""
        batch: dict = {}
        count, deadline = 0, time.monotonic() + settings.sink_flush_seconds
        while count < settings.sink_batch_size and time.monotonic() < deadline and not self.should_stop:
            wait_ms = max(1, int((deadline - time.monotonic()) * 1000))
            got = await self.consumer.getmany(timeout_ms=wait_ms, max_records=settings.sink_batch_size - count)
            for tp, messages in got.items():
                batch.setdefault(tp, []).extend(messages)
                count += len(messages)
            if count and not got:
                break
        return batch

    async def _store(self, batch: dict) -> None:
        rated = [m for tp, messages in batch.items() if tp.topic == RATED for m in messages]
        if rated:
            # decoding and mapping a second's worth of calls takes tens of ms: off the event loop,
            # where the money path's stages of this worker wait for their turn
            rows, refused = await asyncio.to_thread(
                rows_from_payloads, [((m.topic, m.partition, m.offset), m.value) for m in rated])
            for bad in refused:  # cdr.rated is written by our rating agent only: a bug, not input
                self.refused_total += 1
                log.error("cdr.rated record at %s[%d]@%d cannot be stored (%d so far): %s",
                          *bad.position, self.refused_total, bad.error)
            if rows:
                await asyncio.to_thread(self.calls.write, rows)  # retries until ClickHouse takes them
        for tp, messages in batch.items():
            if tp.topic in MIRRORED:
                await self._mirror(tp.topic, messages)

    async def _mirror(self, topic: str, messages) -> None:
        rows = []
        for m in messages:
            try:
                rows.append(mirror_row(MIRRORED[topic], m.key, m.value, m.offset, m.timestamp / 1000))
            except Exception as exc:  # noqa: BLE001 - `ref apply` validated it; log the bug, go on
                log.error("%s[%d]@%d cannot be mirrored: %s: %s", m.topic, m.partition, m.offset,
                          type(exc).__name__, exc)
        if rows:
            await asyncio.to_thread(self.mirrors[topic].write, rows)

    async def _commit(self, batch: dict) -> None:
        try:
            await self.consumer.commit({tp: messages[-1].offset + 1 for tp, messages in batch.items()})
        except CommitFailedError:  # partitions moved meanwhile: their new owner inserts them again
            log.warning("sink_clickhouse: offsets not committed after a rebalance; rows will be re-inserted")


if settings.runs("clickhouse"):
    app.service(SinkClickHouse)
