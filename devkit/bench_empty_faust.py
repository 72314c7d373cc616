"""Baseline (a) of bench-stream: a Faust agent that reads cdr.raw in batches and does nothing.

Run as its own worker (`python -m devkit.bench_empty_faust worker`); it writes how long it took
from its first batch to the BENCH_EVENTS-th event into the file BENCH_RESULT.
"""
from __future__ import annotations

import os
import time

import faust
import orjson

from pipeline.settings import Settings

settings = Settings()
datadir = settings.data_dir.with_name(settings.data_dir.name + "-empty-baseline")
datadir.mkdir(parents=True, exist_ok=True)
app = faust.App(
    f"{settings.app_id}-empty-baseline",
    broker=f"kafka://{settings.kafka_bootstrap}",
    key_serializer="raw",
    value_serializer="raw",
    web_enabled=False,
    broker_session_timeout=10,
    broker_heartbeat_interval=1,
    broker_rebalance_timeout=10,
    datadir=str(datadir),
)
source = app.topic(settings.topic("cdr.raw"), key_serializer="raw", value_serializer="raw")


@app.agent(source)
async def read_and_drop(stream):
    target, seen, first = int(os.environ["BENCH_EVENTS"]), 0, None
    async for events in stream.take_events(settings.rate_batch_size, within=settings.rate_batch_seconds):
        first = first or time.monotonic()
        seen += len(events)
        if seen >= target:
            result = {"events": seen, "seconds": time.monotonic() - first}
            with open(os.environ["BENCH_RESULT"], "wb") as fh:
                fh.write(orjson.dumps(result))


if __name__ == "__main__":
    app.main()
