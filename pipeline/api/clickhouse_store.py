"""CallStore on ClickHouse: the queries of queries.py through clickhouse-driver.

clickhouse-driver's Client is not thread-safe and FastAPI runs sync routes on a thread pool, so
each thread keeps its own client.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone

from pipeline.api import daily_totals, queries
from pipeline.api.daily_totals import DaySettler
from pipeline.api.newest_calls import newest_calls
from pipeline.api.queries import Period
from pipeline.api.visibility import Scope
from pipeline.reports.run import Table, fetch
from pipeline.settings import Settings
from pipeline.sinks.clickhouse import connect


class ClickHouseCalls:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = settings.clickhouse_database
        self._local = threading.local()
        # past days a stats page read from the calls, settled in the background (daily_totals.py)
        self.settler = DaySettler(self._run, self.database)

    def _client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = connect(self.settings)
        return client

    def _run(self, query: queries.Query) -> Table:
        return fetch(self._client(), query)

    def calls(self, scope: Scope, period: Period, limit: int, offset: int, dst_prefix: str | None,
              filters: queries.CallFilter | None = None) -> Table:
        # the newest days first: a page rarely needs the whole period read (newest_calls.py)
        return newest_calls(self._run, self.database, scope, period, limit, offset, dst_prefix, filters)

    def totals(self, scope: Scope, period: Period, dst_prefix: str | None,
               filters: queries.CallFilter | None = None) -> Table:
        return self._run(queries.call_totals(self.database, scope, period, dst_prefix, filters))

    def latest(self, scope: Scope, within: Period):
        latest, calls = self._run(queries.latest_call(self.database, scope, within)).rows[0]
        return _utc(latest) if calls else None

    def user_stats(self, scope: Scope, period: Period) -> Table:
        return self._run(queries.user_stats(self.database, scope, period))

    def stats(self, scope: Scope, period: Period, by_destination: bool) -> Table:
        table, unsettled = daily_totals.stats(self._run, self.database, scope, period, by_destination,
                                              datetime.now(timezone.utc).date())
        if unsettled:
            self.settler.offer(unsettled)
        return table

    def profit(self, scope: Scope, period: Period) -> Table:
        return self._run(queries.profit(self.database, scope, period))

    def usage(self, accounts: list[str]) -> dict[str, dict]:
        if not accounts:
            return {}
        table = self._run(queries.account_usage(self.database, accounts))
        return {account: {"first_use": _utc(first), "last_use": _utc(last), "calls": int(calls)}
                for account, first, last, calls in table.rows}


def _utc(value):
    return value if value is None or value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
