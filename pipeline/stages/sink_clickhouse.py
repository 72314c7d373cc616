"""cdr.rated -> rating.rated_calls, and ref.accounts/tariffs/providers -> their mirror tables.

Its own consumer group: ClickHouse being down delays only ClickHouse, never charging or blocking.
Rows are inserted by `flush`, which the checkpoint loop runs before it commits the offsets of
what they came from; a crash or stop before that re-inserts, which the ReplacingMergeTree tables
(keyed by the call, by the id) absorb. While ClickHouse is down an insert fails after a few
tries and the loop backs off and polls again, so the consumer keeps its group membership
however long the outage lasts.
"""
from __future__ import annotations

import asyncio
import logging

from pipeline.runtime.checkpoint import TransientError
from pipeline.runtime.outputs import Context
from pipeline.sinks.batch import rows_from_payloads
from pipeline.sinks.clickhouse import ClickHouseWriter
from pipeline.sinks.reference_rows import MIRRORS, mirror_row
from pipeline.sinks.rows_process import InsertFailed, RowsProcess
from pipeline.stages.base import PipelineStage

log = logging.getLogger(__name__)
INSERT_ATTEMPTS = 3  # then the loop's own backoff takes over
HELD = "held by the rows process"  # a stash entry whose rows the child process holds


class SinkClickHouse(PipelineStage):
    name = "clickhouse"
    # it gathers a second of calls per insert anyway: full fetches, a fraction of the fetch cost
    fetch_min_bytes = 1 << 20
    fetch_max_wait_ms = 500

    def __init__(self, settings, metrics=None) -> None:
        super().__init__(settings)
        self.rated_topic = settings.topic("cdr.rated")
        self.mirrored = {settings.topic(name): name for name in MIRRORS}  # full topic name -> contract name
        self.sources = (self.rated_topic, *self.mirrored)
        self.batch_size = settings.sink_batch_size
        self.batch_seconds = 0.2
        self.gather_seconds = settings.sink_flush_seconds  # ClickHouse wants few, large inserts
        self.metrics = metrics
        self.calls = ClickHouseWriter(settings)
        # rows made and inserted in a child process (rows_process.py says why); in a thread if not
        self.rows_process = RowsProcess(settings) if settings.sink_rows_process else None
        self.mirrors = {
            topic: ClickHouseWriter(settings, table=MIRRORS[name][0], columns=MIRRORS[name][1])
            for topic, name in self.mirrored.items()
        }
        for table, writer in (("rated_calls", self.calls), *((MIRRORS[n][0], self.mirrors[t]) for t, n in self.mirrored.items())):
            writer.on_failure = (lambda table=table: self.metrics.insert_failed(table)) if metrics else None

    async def prepare(self) -> None:
        if self.rows_process is not None:
            await self.rows_process.start()

    async def handle(self, messages: list, ctx: Context) -> None:
        rated = [m for m in messages if m.topic == self.rated_topic]
        if rated:
            payloads = [(i, m.value) for i, m in enumerate(rated)]
            if self.rows_process is not None:
                held, refused = await self.rows_process.prepare(payloads)  # RowsLost: transient
                ctx.stash((HELD, held))
            else:
                # decoding and mapping a second's worth of calls takes tens of ms: off the event
                # loop, where the money path's stages of this worker wait for their turn
                rows, refused = await asyncio.to_thread(rows_from_payloads, payloads)
                ctx.stash((self.rated_topic, rows))
            for bad in refused:  # written by our rating stage only: a bug, kept as a dead letter
                ctx.send(*_as_send(self.dead_letter(rated[bad.position], "internal_error", bad.error)))
        mirrored: dict[str, list[tuple]] = {}
        for m in messages:
            if m.topic in self.mirrored:
                mirrored.setdefault(m.topic, []).append((m.key, m.value, m.offset, m.timestamp / 1000))
        for topic, records in mirrored.items():
            name = self.mirrored[topic]
            if self.rows_process is not None:
                ctx.stash((HELD, await self.rows_process.prepare_mirror(name, records)))
            else:
                ctx.stash((topic, [mirror_row(name, *record) for record in records]))

    async def flush(self, stash: list) -> None:
        rows: list[tuple] = []
        held: list[int] = []
        mirror_rows: dict[str, list[tuple]] = {}
        for topic, batch in stash:
            if topic == HELD:
                held.append(batch)
            else:
                (rows if topic == self.rated_topic else mirror_rows.setdefault(topic, [])).extend(batch)
        try:
            if held:
                await self._insert_held(held)
            if rows:
                await asyncio.to_thread(self.calls.write, rows, INSERT_ATTEMPTS)
            for topic, batch in mirror_rows.items():
                await asyncio.to_thread(self.mirrors[topic].write, batch, INSERT_ATTEMPTS)
        except Exception as exc:  # noqa: BLE001 - not the rows' fault: rows.py checked them
            raise TransientError(f"ClickHouse insert failed: {type(exc).__name__}: {str(exc)[:200]}") from exc

    async def _insert_held(self, held: list[int]) -> None:
        failures = 0
        try:
            _, failures = await self.rows_process.insert(held, INSERT_ATTEMPTS)
        except InsertFailed as exc:
            failures = exc.failures
            raise
        finally:  # the tries failed in the child count as the in-thread writer's do
            for _ in range(failures if self.metrics is not None else 0):
                self.metrics.insert_failed("rated_calls")

    def close(self) -> None:
        if self.rows_process is not None:
            self.rows_process.close()
        for writer in (self.calls, *self.mirrors.values()):
            writer.close()  # a writer still retrying gives up; its rows are not committed


def _as_send(record):
    return record.topic, record.key, record.value
