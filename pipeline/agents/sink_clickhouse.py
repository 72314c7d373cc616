"""cdr.rated -> rating.rated_calls: decode, map, insert a batch, and only then let Faust commit.

Faust's `take_events` acks a batch's events when the agent asks for the next batch (the `finally`
after its `yield`), and the consumer commits acked offsets only. The insert runs inside the loop
body and retries until ClickHouse takes the rows, so no offset passes a row that is not stored.
Two more ways the batch could be acked early are closed here:
- an exception escaping the body would close the generator and ack the batch: nothing escapes,
  a record that cannot become a row is counted and logged with its position instead;
- a worker stop cancels the agent mid-insert, and the stream then acks and commits the batch:
  `write_to_end` finishes the insert first (see there).
"""
from __future__ import annotations

import logging

from pipeline.app import app, settings, topics
from pipeline.sinks.batch import rows_from_payloads
from pipeline.sinks.clickhouse import ClickHouseWriter, write_to_end

log = logging.getLogger(__name__)

writer = ClickHouseWriter(settings)
refused_total = 0  # records that could not become rows since start: a bug upstream


@app.agent(topics.cdr_rated)
async def sink_clickhouse(stream):
    global refused_total
    async for events in stream.take_events(settings.sink_batch_size, within=settings.sink_flush_seconds):
        positions = ((e.message.topic, e.message.partition, e.message.offset) for e in events)
        rows, refused = rows_from_payloads(zip(positions, (e.value for e in events)))
        for bad in refused:
            # cdr.rated is written by our own rating agent only: this is a bug, not bad input
            refused_total += 1
            log.error("cdr.rated record at %s[%d]@%d cannot be stored (%d so far): %s",
                      *bad.position, refused_total, bad.error)
        if rows:
            await write_to_end(writer, rows)
