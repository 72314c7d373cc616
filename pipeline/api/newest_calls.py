"""A page of calls, newest first, read from the newest days of the period outward.

The page's SQL is queries.calls (the one place it is written); this only narrows the period it is
given. A page needs `offset + limit + 1` rows from the newest end, usually a few hours of calls,
but `ORDER BY start_time DESC LIMIT` over the whole period makes ClickHouse 18.16 read, fold
(FINAL) and sort every call of it first. So the page is asked of the last day, then of 4, 16, ...
days, until it comes back full or the window is the whole period.

Why that is the same page: every call outside a window started before the window's first day,
so after all of the window's calls in the page's order. When the window has enough calls for
the page (limit + 1 rows came back), the whole period's page is the same rows; when it has not,
the window grows, and the last try is the whole period itself.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from pipeline.api import queries
from pipeline.api.queries import CallFilter, Period
from pipeline.api.visibility import Scope
from pipeline.reports.queries import Query
from pipeline.reports.run import Table

GROWTH = 4  # each try covers this many times the days of the one before


def windows(period: Period, today: date) -> list[Period]:
    """The periods to try in turn, each ending where `period` ends and starting further back; the
    first is one day, counted back from today when the period reaches past it."""
    anchor = min(period.last, max(today, period.first))
    out, span = [], 1
    while True:
        first = max(period.first, anchor - timedelta(days=span - 1))
        out.append(Period(first, period.last))
        if first == period.first:
            return out
        span *= GROWTH


def newest_calls(run: Callable[[Query], Table], database: str, scope: Scope, period: Period, limit: int,
                 offset: int, dst_prefix: str | None = None, filters: CallFilter | None = None,
                 today: date | None = None) -> Table:
    """queries.calls' page (up to limit + 1 rows from `offset`), asked of ever wider windows."""
    today = today or datetime.now(timezone.utc).date()
    table = None
    for window in windows(period, today):
        table = run(queries.calls(database, scope, window, limit, offset, dst_prefix, filters))
        if len(table.rows) > limit:  # full: the whole period's page is these rows
            return table
    return table
