"""Agent `watch_windows`: counts the observations into Faust windowed tables and fires or clears
each alert for each target, once per crossing.

Tables (RocksDB, each with its changelog, so a restarted worker resumes its windows):
- `alert_buckets_W` for each window size W: tumbling buckets of W/6 s keyed ALERT/TARGET, relative
  to the observation's timestamp (the cdr.rated record's, so a replay lands in the same bucket);
- `alert_states`: the alerts fired now, per ALERT/TARGET (absent: not fired). A restart reads it
  back, so an alert that fired before is never fired twice;
- `alert_live_calls`: the calls held now, per ALERT/TARGET (simultaneous_calls).
Each observation writes one bucket and reads the five before it: the sliding value is their sum.
A tick (a timer's record on every partition) judges the fired alerts again with no call, so an
alert whose calls stopped clears.
"""
from __future__ import annotations

import logging
import time
from decimal import Decimal

import faust
import orjson

from pipeline.alerts.events import BLOCKED, LIFTED, alert_event, block_message, event_message
from pipeline.alerts.scope import split_key
from pipeline.alerts.windows import CLEARED, FIRED, add_call, bucket_bounds, judge, metric_value, totals
from pipeline.schemas.alerts import BUCKETS, WINDOW_SIZES, AlertIn

log = logging.getLogger(__name__)


def define_tables(app, partitions: int, store_options: dict | None = None) -> dict:
    """The tables, made once per app (Faust wants them before the worker starts)."""
    options = store_options or {}
    schema = faust.Schema(key_serializer="json", value_serializer="json")  # windowed keys are [key, [start, end]]
    common = {"partitions": partitions, "schema": schema, "options": options}
    tables = {"states": app.Table("alert_states", default=None, help="fired alerts per ALERT/TARGET", **common),
              "live": app.Table("alert_live_calls", default=None, help="held calls per ALERT/TARGET", **common)}
    for size in WINDOW_SIZES:
        bucket = size // BUCKETS
        table = app.Table(f"alert_buckets_{size}", default=dict, help=f"{bucket} s buckets of {size} s windows",
                          **common)
        tables[size] = table.tumbling(bucket, expires=size + bucket).relative_to_stream()
    return tables


class Watcher:
    """The agent's work for one observation; returns what to send: (topic name, key, value)."""

    def __init__(self, tables: dict, alert_of, alerts_topic: str, blocks_topic: str) -> None:
        self.tables = tables
        self.alert_of = alert_of  # id -> AlertIn | None (the reference book)
        self.alerts_topic, self.blocks_topic = alerts_topic, blocks_topic

    def handle(self, key: str, observation: dict, partition: int, at: float) -> list[tuple[str, bytes, bytes]]:
        kind = observation.get("k")
        if kind == "tick":
            return self.tick(partition, at)
        alert = self.alert_of(observation.get("a", ""))
        if alert is None or not alert.enabled:
            return []
        if kind == "c":
            return self._call(alert, key, observation, partition, at)
        if kind == "h":
            return self._hold(alert, key, observation, partition, at)
        return []

    def _call(self, alert: AlertIn, key: str, observation: dict, partition: int, at: float) -> list:
        windows = self.tables[alert.window_seconds][key]
        bucket = add_call(windows.current(), tuple(observation["src"]), observation["ans"], observation["bs"],
                          observation["pr"], observation["sh"])
        if bucket is None:  # counted before a crash: its effects are already in the changelog
            return []
        self.tables[alert.window_seconds][key] = bucket
        return self._judge(alert, key, [bucket, *self._earlier(windows, alert)], partition, at)

    def _earlier(self, windows, alert: AlertIn) -> list:
        return [windows.delta(alert.bucket_seconds * back) for back in range(1, BUCKETS)]

    def _judge(self, alert: AlertIn, key: str, buckets: list, partition: int, at: float) -> list:
        window = totals(buckets)
        value = metric_value(alert.metric, window)
        return self._transition(alert, key, value, window.calls, bucket_bounds(alert, at), partition, at)

    def _hold(self, alert: AlertIn, key: str, observation: dict, partition: int, at: float) -> list:
        live = self.tables["live"]
        calls = set((live.get(key) or {}).get("calls", ()))
        before = len(calls)
        if observation["st"] == "held":
            calls.add(observation["call"])
        else:  # settled or expired
            calls.discard(observation["call"])
        if len(calls) != before:
            if calls:
                live[key] = {"calls": sorted(calls)}
            else:
                live.pop(key, None)
        return self._transition(alert, key, Decimal(len(calls)), len(calls), (at, at), partition, at)

    def _transition(self, alert: AlertIn, key: str, value, calls: int, window: tuple[float, float],
                    partition: int, at: float) -> list:
        states = self.tables["states"]
        fired = states.get(key) is not None
        change = judge(alert, value, calls, fired)
        if change is None:
            return []
        if window[1] + alert.window_seconds < time.time():
            return []  # a backlog of old calls (a first start on a long cdr.rated): no alarm for the past
        _, target = split_key(key)
        out = []
        if change == FIRED:
            states[key] = {"p": partition, "since": at, "value": str(value)}
            if alert.action == "block":
                out.append((self.blocks_topic, *block_message(alert.id, target, BLOCKED, "alert", at)))
        else:
            states.pop(key, None)
            if alert.action == "block" and alert.lift == "on_clear":
                out.append((self.blocks_topic, *block_message(alert.id, target, LIFTED, "cleared", at)))
        log.info("alert %s %s for %s: %s %s %s", alert.id, change, target, alert.metric, value, alert.op)
        out.insert(0, (self.alerts_topic, *event_message(alert_event(alert, target, change, value, window, at))))
        return out

    def tick(self, partition: int, at: float) -> list:
        """Judge again the alerts fired on this partition (their windows slide with time)."""
        states = self.tables["states"]
        out = []
        for key, state in list(states.items()):
            if not state or state.get("p") != partition:
                continue
            alert = self.alert_of(split_key(key)[0])
            if alert is None or not alert.enabled:  # deleted or disabled: it no longer holds anything
                states.pop(key, None)
                continue
            if alert.metric == "simultaneous_calls":
                continue  # changes only with calls
            windows = self.tables[alert.window_seconds][key]
            out += self._judge(alert, key, [windows.current(), *self._earlier(windows, alert)], partition, at)
        return out


def decode(value: bytes) -> dict:
    return orjson.loads(value)


__all__ = ["CLEARED", "FIRED", "Watcher", "define_tables", "decode"]
