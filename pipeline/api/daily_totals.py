"""The stats pages from settled daily totals, exact, and the settling of past days.

A month of a reseller's stats is half a million calls to fold (FINAL) and sum: too slow on
ClickHouse 18.16 for a page. Past days rarely change, so their totals are settled once
(queries.settle_day: per day, reseller, account, provider, prefix and currency, from the calls
with FINAL) and a page reads the settlements of the days they still hold for, and the calls
themselves (queries.stats) for every other day of the period: today, days not settled yet,
days a later row (a copy, a re-rating, a late call) has changed since. Each day comes from one
source, all of it, so the figures are those of `rated_calls FINAL` (docs/analytics.md).

Settling: a page hands the past days it had to read from the calls to a DaySettler, which
settles a day once its count of rows (rated_calls_days: every row rated_calls received) has
stayed the same for `steady` seconds, under that count. A settlement holds only while the count
is unchanged. Why wait: a row reaches the count and the tenant copy through two views of one
INSERT, in no order a reader can rely on; a steady count means no INSERT of the day is under way.
What it assumes, as the copy itself does: every INSERT into rated_calls completes or is retried
(the sink retries until ClickHouse takes a batch).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date

from pipeline.api import queries
from pipeline.api.queries import Period
from pipeline.api.visibility import Scope
from pipeline.reports.queries import Query
from pipeline.reports.run import Table

log = logging.getLogger(__name__)

Read = Callable[[Query], Table]


def stats(read: Read, database: str, scope: Scope, period: Period, by_destination: bool,
          today: date) -> tuple[Table, list[date]]:
    """queries.stats' table for the period, from settlements where they hold; and the past days
    read from the calls instead (to settle)."""
    settled = read(queries.settled_stats(database, scope, period, by_destination))
    keys = 3 if by_destination else 2  # day[, destination], currency
    done, rows = set(), []
    for row in settled.rows:
        done.add(_day(row[0]))
        if int(row[keys]):  # in_scope: the scope's own figures (the other row only marks the day)
            rows.append(tuple(row[:keys]) + tuple(row[keys + 1:]))
    rest = [day for day in period.days() if day not in done]
    if not rest:
        columns = tuple(c for c in settled.columns if c != "in_scope")
        return Table(_canonical(columns), rows), []
    live = read(queries.stats(database, scope, period, by_destination, days=rest))
    # a day comes from one side only: the union needs no adding up, only the page's order
    merged = sorted(rows + list(live.rows), key=lambda row: tuple(row[:keys]))
    return Table(live.columns, merged), [day for day in rest if day < today]


def _canonical(columns: tuple[str, ...]) -> tuple[str, ...]:
    """settled_stats' names as stats' (`dest` and `cur` there: an alias may not be a column's)."""
    names = {"dest": "destination", "cur": "currency"}
    return tuple(names.get(name, name) for name in columns) if columns else ()


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def settle(read: Read, database: str, day: date, inserted: int) -> None:
    """Settles `day` under its count `inserted` (which the caller saw steady)."""
    read(queries.settle_day(database, day, inserted, time.time_ns() // 1000, uuid.uuid4().hex))


def counts(read: Read, database: str, days: list[date]) -> dict[date, int]:
    return {_day(day): int(count) for day, count in read(queries.day_counts(database, days)).rows}


class DaySettler:
    """Settles past days in a thread of its own, each once its count has stayed the same for
    `steady` seconds. `read` must be safe to call from that thread (its own client)."""

    def __init__(self, read: Read, database: str, steady: float = 60.0, poll: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.read, self.database, self.steady, self.poll, self.clock = read, database, steady, poll, clock
        self._pending: dict[date, tuple[int, float] | None] = {}  # day -> (count, since) once seen
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def offer(self, days: list[date]) -> None:
        with self._lock:
            for day in days:
                self._pending.setdefault(day, None)
            if days and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._run, name="day-settler", daemon=True)
                self._thread.start()

    def step(self) -> list[date]:
        """One look at the pending days: settles those steady long enough; returns them."""
        with self._lock:
            pending = dict(self._pending)
        if not pending:
            return []
        now, settled = self.clock(), []
        seen = counts(self.read, self.database, sorted(pending))
        for day, before in pending.items():
            count = seen.get(day, 0)
            if count == 0:  # no calls that day: nothing to settle
                self._forget(day)
            elif before is None or before[0] != count:
                with self._lock:
                    self._pending[day] = (count, now)
            elif now - before[1] >= self.steady:
                settle(self.read, self.database, day, count)
                self._forget(day)
                settled.append(day)
        return settled

    def _forget(self, day: date) -> None:
        with self._lock:
            self._pending.pop(day, None)

    def _run(self) -> None:
        while True:
            try:
                self.step()
            except Exception as exc:  # a page still reads the calls: only slower
                log.warning("settling daily totals failed (pages read the calls instead): %s", exc)
                with self._lock:
                    self._pending.clear()  # offered again by the next page that reads them
            with self._lock:
                if not self._pending:
                    self._thread = None
                    return
            time.sleep(self.poll)
