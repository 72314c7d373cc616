"""ref.accounts, ref.tariffs, ref.providers -> their ClickHouse mirrors, for reports that need
names and ownership. Same acking rule as sink_clickhouse: a batch's offsets are committed only
after its rows are in ClickHouse; a bad message is counted and logged, never fatal.
"""
from __future__ import annotations

import logging

from pipeline.app import app, declare, settings
from pipeline.sinks.clickhouse import ClickHouseWriter, write_to_end
from pipeline.sinks.reference_rows import MIRRORS, mirror_row

log = logging.getLogger(__name__)

# ref topics are small and rarely written: a short wait keeps the mirror fresh without many inserts
BATCH_SIZE = 1000
BATCH_SECONDS = 1.0


def _writer(topic: str) -> ClickHouseWriter:
    table, columns, _ = MIRRORS[topic]
    return ClickHouseWriter(settings, table=table, columns=columns)


writers = {topic: _writer(topic) for topic in MIRRORS}


async def mirror(topic: str, events) -> None:
    rows = []
    for event in events:
        message = event.message
        try:
            rows.append(mirror_row(topic, message.key, message.value, message.offset, message.timestamp))
        except Exception as exc:  # noqa: BLE001 - `ref apply` validated it; log the bug, go on
            log.error("%s[%d]@%d cannot be mirrored: %s: %s", message.topic, message.partition,
                      message.offset, type(exc).__name__, exc)
    if not rows:
        return
    await write_to_end(writers[topic], rows)


@app.agent(declare("ref.accounts"))
async def mirror_accounts(stream):
    async for events in stream.take_events(BATCH_SIZE, within=BATCH_SECONDS):
        await mirror("ref.accounts", events)


@app.agent(declare("ref.tariffs"))
async def mirror_tariffs(stream):
    async for events in stream.take_events(BATCH_SIZE, within=BATCH_SECONDS):
        await mirror("ref.tariffs", events)


@app.agent(declare("ref.providers"))
async def mirror_providers(stream):
    async for events in stream.take_events(BATCH_SIZE, within=BATCH_SECONDS):
        await mirror("ref.providers", events)
