"""Agent `sink_alert_events`: `alerts` -> ClickHouse `alert_events` (migration 0007).

Batches of up to 500 events or 1 s; an insert that fails is retried with backoff (0.5 s doubling
to 30 s) before the agent reads on, so its offsets move only past rows ClickHouse holds. A replay
after a crash inserts a row again: ReplacingMergeTree on (alert, target, at, state) keeps one.
"""
from __future__ import annotations

import asyncio
import logging

import orjson

from pipeline.alerts.events import event_row
from pipeline.kafka.topics import ALERTS
from pipeline.sinks.clickhouse import connect

log = logging.getLogger(__name__)
COLUMNS = ("alert", "target", "state", "metric", "value", "threshold", "window_start", "window_end", "at",
           "owner", "action")


def insert_rows(client, database: str, rows: list[dict]) -> None:
    client.execute(f"INSERT INTO {database}.alert_events ({', '.join(COLUMNS)}) VALUES",
                   [tuple(row[c] for c in COLUMNS) for row in rows])


def define_sink(agents) -> None:
    app, settings = agents.app, agents.settings
    holder = {"client": None}

    def insert(rows: list[dict]) -> None:
        if holder["client"] is None:
            holder["client"] = connect(settings)
        try:
            insert_rows(holder["client"], settings.clickhouse_database, rows)
        except Exception:
            holder["client"] = None  # a new connection for the next try
            raise

    @app.agent(agents.topics[settings.topic(ALERTS)], name="sink_alert_events")
    async def sink_alert_events(stream):
        async for values in stream.take(500, within=1.0):
            rows = []
            for value in values:
                try:
                    rows.append(event_row(orjson.loads(value)))
                except (ValueError, KeyError, TypeError) as exc:
                    log.error("alert_events: skipping an unreadable event: %s", exc)
            delay = 0.5
            while rows:
                try:
                    await asyncio.to_thread(insert, rows)
                    break
                except Exception as exc:  # noqa: BLE001 - ClickHouse away: retry, never skip
                    log.warning("alert_events: insert of %d failed: %s: %s; again in %.1f s", len(rows),
                                type(exc).__name__, str(exc)[:200], delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)

    agents.agents["sink_alert_events"] = sink_alert_events
