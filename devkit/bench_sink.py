"""bench-sink: rows/s through the sink's own path beside a raw clickhouse-driver insert.

Both runs insert the same calls into one scratch database (migrated like production, so the
daily_stats view's cost is included), dropped at the end. The sink path includes what the sink stage
does per batch: Avro decode, row_from_record, dedup per call and ClickHouseWriter.write.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.schemas import wire
from pipeline.schemas.avro import SCHEMA_DIR
from pipeline.settings import Settings
from pipeline.sinks.batch import rows_from_payloads
from pipeline.sinks.clickhouse import ClickHouseWriter, client_url, connect, insert_statement
from pipeline.sinks.migrate import apply_migrations, load_migrations


@dataclass(frozen=True)
class Result:
    name: str
    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def example_payloads(count: int, wire_format: str = "json") -> list[tuple[int, bytes]]:
    """`count` distinct calls: the example priced call with its call_id and start_time varied."""
    with open(SCHEMA_DIR / "examples" / "rated_call.json", encoding="utf-8") as fh:
        record = json.load(fh)
    payloads = []
    for number in range(count):
        record.update(call_id=f"bench-{number}", start_time=record["start_time"] + 1000)
        payloads.append((number, wire.encode("rated_call.v1", record, wire_format)))
    return payloads


def run_bench(settings: Settings, total: int, batch_size: int, progress: Callable[[str], None]) -> list[Result]:
    scratch = f"{settings.clickhouse_database}_bench_{uuid.uuid4().hex[:8]}"
    scratch_settings = settings.model_copy(update={"clickhouse_url": client_url(settings, scratch)})
    admin = connect(settings, database="default")
    try:
        apply_migrations(admin.execute, scratch, load_migrations())
        payloads = example_payloads(total)
        batches = [payloads[start:start + batch_size] for start in range(0, total, batch_size)]
        progress(f"{total} rows in {len(batches)} batches of {batch_size} into {scratch}")

        writer = ClickHouseWriter(scratch_settings)
        mapped: list[list[tuple]] = []

        def sink_batch(batch):
            rows, refused = rows_from_payloads(batch)
            if refused:  # the example payload must map: a failure here is a bug in the mapper
                raise RuntimeError(f"benchmark payload refused: {refused[0]}")
            mapped.append(rows)
            writer.write(rows)

        sink = _timed("ClickHouseWriter (decode+map+write)", batches, sink_batch, progress)
        writer.close()

        raw_client = connect(scratch_settings)
        statement = insert_statement(scratch)
        raw = _timed("raw clickhouse-driver insert", mapped, lambda rows: raw_client.execute(statement, rows), progress)
        raw_client.disconnect()
        mapping = _timed("decode+map only (no insert)", batches, rows_from_payloads, progress)
        stored = admin.execute(f"SELECT count() FROM {scratch}.rated_calls")[0][0]
        progress(f"{stored} rows stored ({2 * total} inserted: each call twice, by both runs)")
        return [sink, raw, mapping]
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {scratch}")
        admin.disconnect()


def _timed(name: str, batches: list, work: Callable, progress: Callable[[str], None]) -> Result:
    rows = 0
    started = time.perf_counter()
    for number, batch in enumerate(batches, 1):
        work(batch)
        rows += len(batch)
        if number % 5 == 0 or number == len(batches):
            elapsed = time.perf_counter() - started
            progress(f"  {name}: {rows} rows, {rows / elapsed:,.0f} rows/s")
    return Result(name, rows, time.perf_counter() - started)
