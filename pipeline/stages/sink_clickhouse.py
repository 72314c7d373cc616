"""cdr.rated -> rating.rated_calls, and ref.accounts/tariffs/providers -> their mirror tables.

Its own consumer group: ClickHouse being down delays only ClickHouse, never charging or blocking.
Rows are inserted by `flush`, which the checkpoint loop runs before it commits the offsets of
what they came from; a crash or stop before that re-inserts, which the ReplacingMergeTree tables
(keyed by the call, by the id) absorb. While ClickHouse is down an insert fails after a few
tries and the loop backs off and polls again, so the consumer keeps its group membership
however long the outage lasts.
"""
from __future__ import annotations

import logging
from typing import Any, cast

from pipeline.kafka.message import Message, value_of
from pipeline.kafka.topics import CDR_RATED
from pipeline.observability.metrics import Metrics
from pipeline.runtime.checkpoint import TransientError
from pipeline.runtime.outputs import Context
from pipeline.settings import Settings
from pipeline.sinks.reference_rows import MIRRORS
from pipeline.sinks.rows_process import RATED_TABLE, InsertFailed, RowsInThread, RowsProcess
from pipeline.stages.base import PipelineStage

log = logging.getLogger(__name__)
INSERT_ATTEMPTS = 3  # then the loop's own backoff takes over


class SinkClickHouse(PipelineStage):
    name = "clickhouse"
    # it gathers a second of calls per insert anyway: full fetches, a fraction of the fetch cost
    fetch_min_bytes = 1 << 20
    fetch_max_wait_ms = 500

    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        super().__init__(settings)
        self.rated_topic = settings.topic(CDR_RATED)
        self.mirrored = {settings.topic(name): name for name in MIRRORS}  # full topic name -> contract name
        self.sources = (self.rated_topic, *self.mirrored)
        self.batch_size = settings.sink_batch_size
        self.batch_seconds = 0.2
        self.gather_seconds = settings.sink_flush_seconds  # ClickHouse wants few, large inserts
        self.metrics = metrics
        # the rows are made and held by a child process (rows_process.py says why), or in a thread
        self.rows = RowsProcess(settings) if settings.sink_rows_process else RowsInThread(settings)

    async def prepare(self) -> None:
        await self.rows.start()

    async def handle(self, messages: list[Message], ctx: Context) -> None:
        rated = [m for m in messages if m.topic == self.rated_topic]
        if rated:
            held, refused = await self.rows.prepare([(i, value_of(m)) for i, m in enumerate(rated)])  # RowsLost: transient
            ctx.stash((RATED_TABLE, held))
            for bad in refused:  # written by our rating stage only: a bug, kept as a dead letter
                letter = self.dead_letter(rated[cast(int, bad.position)], "internal_error", bad.error)
                ctx.send(letter.topic, letter.key, cast(bytes, letter.value))  # a dead letter always has a value
        mirrored: dict[str, list[tuple[bytes | None, bytes | None, int, float]]] = {}
        for m in messages:
            if m.topic in self.mirrored:
                mirrored.setdefault(m.topic, []).append((m.key, m.value, m.offset, m.timestamp / 1000))
        for topic, records in mirrored.items():
            name = self.mirrored[topic]
            ctx.stash((MIRRORS[name][0], await self.rows.prepare_mirror(name, records)))

    async def flush(self, stash: list[Any]) -> None:
        per_table: dict[str, list[int]] = {}
        for table, held in stash:
            per_table.setdefault(table, []).append(held)
        # in the order the batches were prepared: an insert drops what was prepared before its
        # first batch and is still held (a batch the loop gave up)
        for table, held in sorted(per_table.items(), key=lambda item: min(item[1])):
            await self._insert(table, held)

    async def _insert(self, table: str, held: list[int]) -> None:
        failures = 0
        try:
            _, failures = await self.rows.insert(held, INSERT_ATTEMPTS)
        except Exception as exc:  # noqa: BLE001 - not the rows' fault: rows.py checked them
            failures = exc.failures if isinstance(exc, InsertFailed) else failures
            if isinstance(exc, TransientError):  # RowsLost: the batch is read again
                raise
            raise TransientError(f"ClickHouse insert failed: {type(exc).__name__}: {str(exc)[:200]}") from exc
        finally:
            for _ in range(failures):
                if self.metrics is not None:
                    self.metrics.insert_failed(table)

    def close(self) -> None:
        self.rows.close()  # an insert still retrying gives up; its rows are not committed

