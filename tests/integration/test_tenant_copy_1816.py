"""The tenant-ordered copy on the local ClickHouse 18.16: an install upgraded to 0009 with calls
already written keeps them (the migration's backfill), calls written afterwards arrive through the
views, and every page of the API's store (pipeline/api/clickhouse_store.py) says exactly what
`rated_calls FINAL` says, after redeliveries and re-ratings that move calls between resellers.
The same for any history on current ClickHouse: tests/unit/sinks/test_tenant_copy_exact.py."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from devkit.bench_api import over_rated_calls
from pipeline.api import daily_totals, queries
from pipeline.api.clickhouse_store import ClickHouseCalls
from pipeline.api.daily_totals import DaySettler
from pipeline.api.queries import Period
from pipeline.api.visibility import Scope
from pipeline.reports.run import fetch
from pipeline.sinks.clickhouse import connect
from pipeline.sinks.migrate import apply_migrations, load_migrations, migrate

pytestmark = pytest.mark.clickhouse

PERIOD = Period(date(2026, 3, 1), date(2026, 3, 31))
COLUMNS = ("server_id", "call_id", "segment", "account", "reseller", "provider", "dst", "start_time", "billsec",
           "disposition", "user_prefix", "user_price", "reseller_price", "provider_price", "reseller_profit",
           "admin_profit", "currency", "version")
OWNERS = {"u1": "r1", "u2": "r1", "u3": "r2", "d1": "", "r1": "r1"}
SCOPES = (Scope("reseller", "r1"), Scope("reseller", "r2"), Scope("reseller", "r1", "u2"), Scope("user", "u1"),
          Scope("admin", "admin"), Scope("admin", "admin", None, "r1"), Scope("admin", "admin", "d1"))


def rating(call: tuple, reseller: str, cents: int, version: int) -> tuple:
    server, call_id, segment, account, start, billsec, prefix = call
    price = Decimal(cents) / 100
    return (server, call_id, segment, account, reseller, "p1", prefix + "5550100", start, billsec,
            "ANSWERED" if billsec else "NO ANSWER", prefix, price, price / 2, price / 4, price / 2 - Decimal("0.01"),
            price / 4 + Decimal("0.000001"), "EUR", version)


def history(rng: random.Random, count: int, tag: str) -> list[tuple]:
    """Calls from the day before the period to the day after it; some in two segments."""
    calls = []
    for number in range(count):
        account = rng.choice(sorted(OWNERS))
        start = datetime(2026, 2, 28) + timedelta(seconds=rng.randrange(33 * 86_400))
        segment = rng.choice(("", "", "", "1", "2"))
        calls.append(("s1", f"{tag}{number}", segment, account, start, rng.choice((0, 35, 600)),
                      rng.choice(("370", "44", "4420"))))
    return calls


def insert(client, database: str, rows: list[tuple]) -> None:
    client.execute(f"INSERT INTO {database}.rated_calls ({', '.join(COLUMNS)}) VALUES", rows)


@pytest.fixture
def upgraded(settings_factory):
    """An install with calls written before 0009, then 0009 applied, then more calls, redeliveries
    and re-ratings (some moving a call to another reseller, some arriving before the rating they
    replace is delivered again)."""
    settings = settings_factory()
    database = settings.clickhouse_database
    admin = connect(settings, database="default")
    migrations = load_migrations()
    at = [m.name for m in migrations].index("0009_rated_calls_by_tenant")
    apply_migrations(admin.execute, database, migrations[:at])
    client = connect(settings)
    rng = random.Random(16)
    old, new = history(rng, 400, "old"), history(rng, 200, "new")
    first = [rating(call, OWNERS[call[3]], rng.randrange(1, 90_000), 1) for call in old]
    insert(client, database, first)
    insert(client, database, first[:50])  # redelivered before the upgrade
    assert migrate(settings) == [m.name for m in migrations[at:]]
    insert(client, database, [rating(call, OWNERS[call[3]], rng.randrange(1, 90_000), 1) for call in new])
    moved = [rating(call, rng.choice(("r1", "r2", "")), rng.randrange(1, 90_000), 5) for call in old[30:90]]
    insert(client, database, moved)
    insert(client, database, first[30:60])  # older ratings delivered again: FINAL keeps the newer
    yield settings, client
    client.disconnect()
    admin.disconnect()


def test_every_page_of_the_store_is_what_rated_calls_final_says(upgraded):
    settings, client = upgraded
    database = settings.clickhouse_database
    store = ClickHouseCalls(settings)
    assert client.execute(f"SELECT count() FROM {database}.rated_calls_by_tenant") != \
        client.execute(f"SELECT count() FROM {database}.rated_calls_by_tenant FINAL")  # copies to fold
    for scope in SCOPES:
        built = [queries.call_totals(database, scope, PERIOD), queries.latest_call(database, scope, PERIOD)]
        if scope.role != "user":
            built += [queries.stats(database, scope, PERIOD, True), queries.stats(database, scope, PERIOD, False),
                      queries.profit(database, scope, PERIOD), queries.user_stats(database, scope, PERIOD)]
        for query in built:
            assert fetch(client, query) == fetch(client, over_rated_calls(query, database)), (scope, query.sql)
        everything = fetch(client, over_rated_calls(queries.calls(database, scope, PERIOD, 10_000, 0), database))
        assert everything.rows, scope
        for limit, offset in ((50, 0), (7, 20), (100, 150)):
            page = store.calls(scope, PERIOD, limit, offset, None)
            assert page.rows == everything.rows[offset:offset + limit + 1], (scope, limit, offset)


def test_a_resellers_stats_page_totals_are_the_sums_of_rated_calls_final(upgraded):
    settings, client = upgraded
    database = settings.clickhouse_database
    stats = ClickHouseCalls(settings).stats(Scope("reseller", "r1"), PERIOD, True).dicts()
    calls, revenue, profit = client.execute(
        # a reseller's profit is on the calls he resold (his own calls under another reseller: none)
        f"SELECT count(), sum(user_price), sumIf(reseller_profit, reseller = 'r1') FROM {database}.rated_calls FINAL "
        "WHERE (reseller = 'r1' OR account = 'r1') AND start_time >= toDateTime('2026-03-01 00:00:00', 'UTC') "
        "AND start_time < toDateTime('2026-04-01 00:00:00', 'UTC')")[0]
    assert calls > 100
    assert sum(row["calls"] for row in stats) == calls
    assert sum(row["revenue"] for row in stats) == revenue
    assert sum(row["profit"] for row in stats) == profit


def test_applying_0009_again_rebuilds_the_copy_to_the_same_pages(upgraded):
    """An interrupted upgrade is applied again from the start: the copy is dropped and rebuilt."""
    settings, client = upgraded
    database = settings.clickhouse_database
    query = queries.stats(database, Scope("reseller", "r1"), PERIOD, True)
    before = fetch(client, query)
    (migration,) = [m for m in load_migrations() if m.name == "0009_rated_calls_by_tenant"]
    for statement in migration.statements:
        client.execute(statement.replace("{database}", database))
    assert fetch(client, query) == before == fetch(client, over_rated_calls(query, database))


def test_stats_from_settled_days_stay_exact_when_later_rows_change_them(upgraded):
    """Past days settled (as the API's settler does once their counts stay the same), then a
    re-rating that moves calls to another reseller and a redelivery land on some of them: the
    stats pages are `rated_calls FINAL`'s figures before, in between and after settling again."""
    settings, client = upgraded
    database = settings.clickhouse_database
    store = ClickHouseCalls(settings)
    scopes = [scope for scope in SCOPES if scope.role != "user"]
    today = date(2026, 4, 10)

    def check() -> list[date]:
        left = set()
        for scope in scopes:
            for by_destination in (True, False):
                page, unsettled = daily_totals.stats(store._run, database, scope, PERIOD, by_destination, today)
                reference = fetch(client, over_rated_calls(queries.stats(database, scope, PERIOD, by_destination),
                                                           database))
                assert page.rows == reference.rows, (scope, by_destination)
                left.update(unsettled)
        return sorted(left)

    unsettled = check()
    assert len(unsettled) >= 28  # nothing settled yet: every day with calls read from the calls
    settler = DaySettler(store._run, database, steady=0.0)
    settler.offer(unsettled)
    settler.step()  # the counts, seen once
    assert sorted(settler.step()) == unsettled  # steady: settled
    assert check() == []  # every day from its settlement
    rows = client.execute(f"SELECT {', '.join(COLUMNS)} FROM {database}.rated_calls FINAL "
                          "WHERE toDate(start_time) IN ('2026-03-03', '2026-03-17') LIMIT 40")
    moved = [row[:4] + (("r2" if row[4] == "r1" else "r1"),) + row[5:17] + (row[17] + 10,) for row in rows]
    insert(client, database, moved + rows[:5])
    assert check() == [date(2026, 3, 3), date(2026, 3, 17)]  # those two from the calls again
