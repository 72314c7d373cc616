"""Alert blocks and events as the CLI and the API read and change them (Kafka and ClickHouse).

- `current_blocks`: who an alert blocks now (alert_blocks read whole: the last value per key);
- `lift`: an operator lifts one alert's block of one account (a `lifted` record: the guard
  re-judges the account, which stays blocked if anything else blocks it: money, a manual block,
  another alert);
- `recent_events`: rows of ClickHouse alert_events, newest first, optionally for some owners or
  targets only (the API's tenant filter).
"""
from __future__ import annotations

import time

import orjson

from pipeline.alerts.events import BLOCKED, LIFTED, block_message
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.follower import read_whole
from pipeline.kafka.topics import ALERT_BLOCKS
from pipeline.settings import Settings

EVENT_COLUMNS = ("alert", "target", "state", "metric", "value", "threshold", "window_start", "window_end", "at",
                 "owner", "action")


async def current_blocks(settings: Settings) -> list[dict]:
    """Every (alert, account) an alert blocks now, oldest first."""
    last: dict[bytes, dict | None] = {}
    await read_whole(KafkaClients(settings), [settings.topic(ALERT_BLOCKS)],
                     lambda m: last.__setitem__(m.key, orjson.loads(m.value) if m.value else None))
    return sorted((v for v in last.values() if v and v.get("state") == BLOCKED), key=lambda v: v.get("at", ""))


async def lift(settings: Settings, alert_id: str, account: str, by: str) -> None:
    producer = KafkaClients(settings).producer()
    await producer.start()
    try:
        key, value = block_message(alert_id, account, LIFTED, by, time.time())
        await producer.send_and_wait(settings.topic(ALERT_BLOCKS), value, key=key)
    finally:
        await producer.stop()


def recent_events(client, database: str, limit: int = 100, owners: tuple[str, ...] | None = None,
                  targets: tuple[str, ...] | None = None, alert: str | None = None) -> list[dict]:
    """Newest first. `owners`/`targets`: rows whose owner is one of these OR whose target is."""
    where, params = [], {"limit": limit}
    if owners is not None or targets is not None:
        where.append("(owner IN %(owners)s OR target IN %(targets)s)")
        params.update(owners=tuple(owners or ("",)), targets=tuple(targets or ("",)))
    if alert is not None:
        where.append("alert = %(alert)s")
        params["alert"] = alert
    sql = (f"SELECT {', '.join(EVENT_COLUMNS)} FROM {database}.alert_events FINAL"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY at DESC LIMIT %(limit)s")
    rows = client.execute(sql, params)
    return [_event_json(dict(zip(EVENT_COLUMNS, row))) for row in rows]


def _event_json(row: dict) -> dict:
    for name in ("window_start", "window_end", "at"):
        row[name] = row[name].strftime("%Y-%m-%dT%H:%M:%SZ")
    for name in ("value", "threshold"):
        row[name] = str(row[name])
    return row
