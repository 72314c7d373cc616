"""The API's pages read rated_calls_by_tenant (migrations/0009), sliced and with a hint of the
reseller's accounts (pipeline/api/queries.py), and the calls page from the newest days outward
(pipeline/api/newest_calls.py). On current ClickHouse (chdb), for any history of deliveries,
redeliveries and re-ratings (a re-rating may move a call to another reseller, prefix or price),
every page says exactly what the same SQL says over `rated_calls FINAL`, for every scope.
The same on 18.16, with the backfill of an upgraded install: tests/integration/test_tenant_copy_1816.py."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devkit.bench_api import over_rated_calls as before_0009
from pipeline.api import daily_totals, queries
from pipeline.api.newest_calls import newest_calls, windows
from pipeline.api.queries import Period
from pipeline.api.visibility import Scope
from pipeline.reports.run import Table
from pipeline.sinks.migrate import load_migrations, schema_statements
from tests.unit.chdb_kit import rows_of, run

chdb_session = pytest.importorskip("chdb.session")

DB = "tenantcopy"
PERIOD = Period(date(2026, 3, 1), date(2026, 3, 31))  # 31 days: slices meet mid-month
ACCOUNTS = ("u1", "u2", "u3", "d1", "r1")
RESELLERS = ("r1", "r2", "")
INSERT_COLUMNS = ("server_id", "call_id", "segment", "account", "reseller", "provider", "src", "dst", "start_time",
                  "billsec", "disposition", "user_prefix", "user_price", "reseller_price", "provider_price",
                  "reseller_profit", "admin_profit", "currency", "version")
SCOPES = (Scope("reseller", "r1"), Scope("reseller", "r2"), Scope("reseller", "r1", "u2"), Scope("user", "u1"),
          Scope("user", "r1"), Scope("admin", "admin"), Scope("admin", "admin", None, "r1"),
          Scope("admin", "admin", "d1"))


@pytest.fixture(scope="module")
def chdb(tmp_path_factory):
    session = chdb_session.Session(str(tmp_path_factory.mktemp("tenantcopy")))
    for statement in schema_statements(DB):
        session.query(statement)
    yield session
    session.close()


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}0000" if cents >= 0 else "-" + money(-cents)


ratings = st.lists(st.tuples(st.sampled_from(RESELLERS), st.integers(0, 50_000), st.integers(-2_000, 9_000),
                             st.sampled_from(("370", "44", "4420")), st.booleans()), min_size=1, max_size=3)
calls = st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.integers(-1, 31), st.sampled_from((0, 1, 43_199, 86_398)),
                           st.sampled_from(("", "1", "2")), st.sampled_from((0, 35, 600)), ratings),
                 min_size=1, max_size=14)


def history_rows(generated) -> list[tuple]:
    """Rows for rated_calls: each call's ratings (a later one with a higher version), each rating
    delivered once or twice (the same row again)."""
    rows = []
    for number, (account, day, second, segment, billsec, ratings_of_call) in enumerate(generated):
        # one segment per call id: the page's order (start_time, server_id, call_id) has no ties;
        # days -1 and 31 lie just outside the period, seconds 0 and 86,399 on a slice's edges
        start = datetime(2026, 3, 1) + timedelta(days=day, seconds=second + number % 2)
        for version, (reseller, user_cents, profit_cents, prefix, again) in enumerate(ratings_of_call, start=1):
            row = ("s1", f"c{number}", segment, account, reseller, "p1", "3700", prefix + "555", start, billsec,
                   "ANSWERED" if billsec else "NO ANSWER", prefix, money(user_cents), money(user_cents // 2),
                   money(user_cents // 4), money(profit_cents), money(profit_cents // 3), "EUR", 1_000 + version)
            rows += [row, row] if again else [row]
    return rows


def insert(session, rows: list[tuple], database: str = DB) -> None:
    def literal(value):
        if isinstance(value, datetime):
            return f"'{value:%Y-%m-%d %H:%M:%S}'"
        return f"'{value}'" if isinstance(value, str) else str(value)
    values = ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
    session.query(f"INSERT INTO {database}.rated_calls ({', '.join(INSERT_COLUMNS)}) VALUES {values}")


def reset(session) -> None:
    for table in ("rated_calls", "rated_calls_by_tenant", "rated_calls_tenants", "rated_calls_days",
                  "rated_calls_daily"):
        session.query(f"TRUNCATE TABLE {DB}.{table}")


def over_rated_calls(query: queries.Query) -> queries.Query:
    """The same SQL over the record the pipeline writes, `rated_calls FINAL`, unsliced."""
    return before_0009(query, DB)


def table_runner(session):
    return lambda query: Table((), [tuple(row) for row in run(session, query) if row != [""]])


def settle_some(read, rng: random.Random) -> None:
    """Settles a random half of the days that have calls, under their counts now."""
    seen = daily_totals.counts(read, DB, [PERIOD.first + timedelta(days=n) for n in range(-1, 32)])
    for day, count in seen.items():
        if rng.random() < 0.5:
            daily_totals.settle(read, DB, day, count)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=calls, blocks=st.integers(1, 3), seed=st.integers(0, 10_000), settle_at=st.integers(0, 3),
       today=st.sampled_from((date(2026, 3, 20), date(2026, 6, 1))))
def test_every_page_says_what_rated_calls_final_says(chdb, generated, blocks, seed, settle_at, today):
    """Days are settled after `settle_at` of the blocks (then later blocks may change them)."""
    reset(chdb)
    rows = history_rows(generated)
    rng = random.Random(seed)
    rng.shuffle(rows)  # a re-rating may land before the rating it replaces
    read = table_runner(chdb)
    for n in range(blocks):
        if n == settle_at:
            settle_some(read, rng)
        if rows[n::blocks]:
            insert(chdb, rows[n::blocks])
    if settle_at == blocks:
        settle_some(read, rng)
    for scope in SCOPES:
        if scope.role != "user":  # the stats pages: settled days and the calls of the others
            for by_destination in (True, False):
                page, _ = daily_totals.stats(read, DB, scope, PERIOD, by_destination, today)
                reference = run(chdb, over_rated_calls(queries.stats(DB, scope, PERIOD, by_destination)))
                assert [list(row) for row in page.rows] == reference, (scope, by_destination)
        built = [queries.call_totals(DB, scope, PERIOD, "44"), queries.latest_call(DB, scope, PERIOD),
                 queries.calls(DB, scope, PERIOD, 1000, 0)]
        if scope.role != "user":
            built += [queries.stats(DB, scope, PERIOD, True), queries.stats(DB, scope, PERIOD, False),
                      queries.profit(DB, scope, PERIOD), queries.user_stats(DB, scope, PERIOD)]
        for query in built:
            assert "rated_calls_by_tenant FINAL" in query.sql
            assert run(chdb, query) == run(chdb, over_rated_calls(query)), (scope, query.sql)
        everything = run(chdb, over_rated_calls(queries.calls(DB, scope, PERIOD, 1000, 0)))
        for limit, offset, now in ((1, 0, PERIOD.last), (3, 2, date(2026, 3, 20)), (2, 7, date(2026, 6, 1))):
            page = newest_calls(table_runner(chdb), DB, scope, PERIOD, limit, offset, today=now)
            assert [list(row) for row in page.rows] == everything[offset:offset + limit + 1], (scope, limit, offset)


def test_a_call_moved_to_another_reseller_leaves_the_first_ones_pages(chdb):
    """A re-rating under r2 (the account moved): r1's pages drop the call, r2's show the new price,
    though r1's older row is still in the tenant copy until a merge (FINAL hides it)."""
    reset(chdb)
    start = datetime(2026, 3, 5, 10)
    first = ("s1", "moved", "", "u2", "r1", "p1", "1", "44555", start, 60, "ANSWERED", "44",
             "2.000000", "1.000000", "0.500000", "1.000000", "0.500000", "EUR", 1)
    insert(chdb, [first])
    insert(chdb, [first[:4] + ("r2",) + first[5:12] + ("3.000000",) + first[13:18] + (2,)])
    assert rows_of(chdb, f"SELECT count() FROM {DB}.rated_calls_by_tenant") == [["2"]]
    r1 = run(chdb, queries.call_totals(DB, Scope("reseller", "r1"), PERIOD))
    r2 = run(chdb, queries.call_totals(DB, Scope("reseller", "r2"), PERIOD))
    assert r1 == [] and r2 == [["EUR", "1", "1", "60", "3", "1", "1"]]


def test_the_migration_copies_the_history_and_applied_again_rebuilds_it(chdb):
    """An upgraded install: calls written before 0009 are in the tenant copy after it; applying
    0009 again (after an interruption) starts over from rated_calls and ends the same."""
    database = "tenantupgrade"  # one chdb per process: a database of its own in the same session
    names = [m.name for m in load_migrations()]
    for name in names[:names.index("0009_rated_calls_by_tenant")]:
        for statement in schema_statements(database, only=name):
            chdb.query(statement)
    rows = history_rows([("u1", 3, 100, "", 60, [("r1", 1234, 500, "44", True), ("r2", 999, 300, "44", False)]),
                         ("d1", 30, 86_398, "1", 35, [("", 700, 200, "370", True)])])
    insert(chdb, rows, database)
    for name in names[names.index("0009_rated_calls_by_tenant") + 1:]:  # the later ones, once
        for statement in schema_statements(database, only=name):
            chdb.query(statement)
    for _ in range(2):
        for statement in schema_statements(database, only="0009_rated_calls_by_tenant"):
            chdb.query(statement)
        for scope in SCOPES:
            query = queries.call_totals(database, scope, PERIOD)
            assert run(chdb, query) == run(chdb, before_0009(query, database)), scope
    assert rows_of(chdb, f"SELECT count() FROM {database}.rated_calls_by_tenant FINAL") == [["2"]]
    # every pair a current row carries (r1's older rating of u1's call may be merged away by now)
    pairs = rows_of(chdb, f"SELECT reseller, account FROM {database}.rated_calls_tenants FINAL")
    assert [["", "d1"], ["r2", "u1"]] == sorted(pair for pair in pairs if pair != ["r1", "u1"])


def test_the_windows_grow_from_the_newest_day_to_the_whole_period():
    march = Period(date(2026, 3, 1), date(2026, 3, 31))
    assert [(w.first.day, w.last.day) for w in windows(march, date(2026, 3, 31))] == [
        (31, 31), (28, 31), (16, 31), (1, 31)]
    # a period reaching past today starts from today, and keeps what lies after it
    assert windows(march, date(2026, 3, 10))[0] == Period(date(2026, 3, 10), date(2026, 3, 31))
    assert windows(march, date(2026, 2, 1))[0] == Period(date(2026, 3, 1), date(2026, 3, 31))
    assert windows(Period(date(2026, 3, 1), date(2026, 3, 1)), date(2026, 3, 1)) == [
        Period(date(2026, 3, 1), date(2026, 3, 1))]
