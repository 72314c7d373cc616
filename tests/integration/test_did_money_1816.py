"""The pages' figures of calls to DIDs on the local ClickHouse 18.16 are those of current ClickHouse
(chdb), where tests/api/test_did_money_queries.py checks them against the balances' own rule: the
same calls, every page of every scope, row for row (the SQL leans on ARRAY JOIN of tuples, Decimal
arithmetic under if() and a subquery of the accounts mirror, which 18.16 must read the same way)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import pytest

from pipeline.api import queries
from pipeline.api.visibility import Scope
from pipeline.sinks.clickhouse import connect
from pipeline.sinks.migrate import migrate
from pipeline.sinks.rows import COLUMNS, row_from_record
from tests.api.test_did_money_queries import ACCOUNTS, OCTOBER, WORLD, _seed
from tests.unit.chdb_kit import migrated_session, run

pytestmark = pytest.mark.clickhouse

SCOPES = (Scope("user", "u1"), Scope("user", "u9"), Scope("user", "d1"), Scope("reseller", "r1"),
          Scope("reseller", "r2"), Scope("reseller", "r1", "u1"), Scope("admin", "admin"),
          Scope("admin", "admin", None, "r1"), Scope("admin", "admin", "d1"))


def _cell(value) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return str(value)


def test_every_page_on_18_16_is_what_current_clickhouse_says(settings_factory, tmp_path):
    settings = settings_factory()
    migrate(settings)
    database = settings.clickhouse_database
    client = connect(settings)
    try:
        rows = [row_from_record(record) for record in WORLD]
        client.execute(f"INSERT INTO {database}.rated_calls ({', '.join(COLUMNS)}) VALUES", rows)
        client.execute(f"INSERT INTO {database}.rated_calls ({', '.join(COLUMNS)}) VALUES", rows[:4])
        client.execute(f"INSERT INTO {database}.accounts (id, type, reseller, version) VALUES",
                       [(a, t, r, 1) for a, t, r in ACCOUNTS])
        chdb = migrated_session(tmp_path / "chdb", "scratch", only="0001_rated_calls")
        _seed(chdb, database, WORLD)
        for scope in SCOPES:
            built = [queries.calls(database, scope, OCTOBER, 100, 0), queries.call_totals(database, scope, OCTOBER)]
            if scope.role != "user":
                built += [queries.profit(database, scope, OCTOBER), queries.user_stats(database, scope, OCTOBER),
                          queries.stats(database, scope, OCTOBER, True), queries.stats(database, scope, OCTOBER, False)]
            for query in built:
                here = [[_cell(v) for v in row] for row in client.execute(query.sql, query.params)]
                there = [[_cell(v) for v in row] for row in run(chdb, query)]
                assert here == there, (scope, query.sql)
                assert here, (scope, query.sql)  # every scope has calls: the comparison says something
        chdb.close()
    finally:
        client.disconnect()
