"""daily_stats equals the sums of rated_calls FINAL after re-sends and re-ratings, on ClickHouse 18.16
(migration 0004; tests/unit/sinks/test_sink_migrations.py runs the same files on current ClickHouse).

Rows go in through the sink's own writer, one insert per delivery, as the sink does. The oracle is
computed here in Python from the last rating of each call, not by ClickHouse.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pipeline.sinks.clickhouse import ClickHouseWriter, connect
from pipeline.sinks.migrate import apply_migrations, load_migrations, migrate
from pipeline.sinks.rows import COLUMNS, row_from_record
from tests.unit.sinks.rated_example import example_record

pytestmark = pytest.mark.clickhouse

KEY = ("day", "reseller", "account", "provider", "user_prefix", "currency")
SUMS = ("calls", "answered", "billsec_sum", "user_billed_seconds_sum", "user_price_sum", "reseller_price_sum",
        "provider_price_sum", "reseller_profit_sum", "admin_profit_sum")
STATS = f"SELECT {', '.join(KEY + SUMS)} FROM {{db}}.daily_stats ORDER BY {', '.join(KEY)}"
NOV_25 = 1764057600000  # 2025-11-25 08:00 UTC, in ms


def rated(call_id: str, *, day: int = 0, reseller: str = "r1", account: str = "u1", billsec: int = 60,
          admin_profit: str = "0.900000", rated_after: int = 1000) -> tuple:
    start = NOV_25 + day * 86_400_000
    return row_from_record(example_record(
        call_id=call_id, start_time=start, rated_at=start + rated_after, reseller=reseller, account=account,
        billsec=billsec, user_billed_seconds=billsec, admin_profit=admin_profit,
        disposition="ANSWERED" if billsec else "NO ANSWER",
    ))


def expected_stats(deliveries: list[tuple]) -> list[tuple]:
    """What daily_stats must say: per call its latest rating only (highest version), then summed."""
    at = {name: i for i, name in enumerate(COLUMNS)}
    latest: dict[tuple, tuple] = {}
    for row in deliveries:
        key = (row[at["server_id"]], row[at["call_id"]])
        if key not in latest or row[at["version"]] >= latest[key][at["version"]]:
            latest[key] = row
    groups: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, 0] + [Decimal(0)] * 5)
    for row in latest.values():
        day = datetime.fromtimestamp(row[at["start_time"]], timezone.utc).date()
        sums = groups[(day,) + tuple(row[at[name]] for name in KEY[1:])]
        sums[0] += 1
        sums[1] += row[at["billsec"]] > 0
        sums[2] += row[at["billsec"]]
        sums[3] += row[at["user_billed_seconds"]]
        for i, column in enumerate(("user_price", "reseller_price", "provider_price", "reseller_profit",
                                    "admin_profit")):
            sums[4 + i] += row[at[column]]
    return [key + tuple(sums) for key, sums in sorted(groups.items())]


@pytest.fixture
def database(settings_factory):
    settings = settings_factory()
    client = connect(settings, database="default")
    yield settings, client
    client.execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    client.disconnect()


def deliver(settings, *batches: list[tuple], columns: tuple[str, ...] = COLUMNS) -> None:
    writer = ClickHouseWriter(settings, columns=columns)
    try:
        for batch in batches:
            # one insert each: what the old materialized view saw separately
            writer.write([row[:len(columns)] for row in batch])
    finally:
        writer.close()


def final_sums(client, db: str) -> list[tuple]:
    sql = (f"SELECT toDate(start_time) AS day, reseller, account, provider, user_prefix, currency, count(), "
           "countIf(billsec > 0), sum(toUInt64(billsec)), sum(toUInt64(user_billed_seconds)), sum(user_price), "
           "sum(reseller_price), sum(provider_price), sum(reseller_profit), sum(admin_profit) "
           f"FROM {db}.rated_calls FINAL GROUP BY day, reseller, account, provider, user_prefix, currency "
           "ORDER BY day, reseller, account, provider, user_prefix, currency")
    return client.execute(sql)


def test_resent_and_rerated_calls_count_once_in_daily_stats(database):
    settings, client = database
    db = settings.clickhouse_database
    migrate(settings)
    first = [rated("a"), rated("b"), rated("c", billsec=0, admin_profit="0"), rated("d", day=1),
             rated("e", reseller="r2", account="u9", admin_profit="0.123457")]
    resent = first[:2] + first[4:]  # a crash replays three calls in a later insert
    # a replay after a reference fix re-rates b under another reseller: it must leave r1's row
    rerated = [rated("b", reseller="r2", account="u9", admin_profit="0.000001", rated_after=9000)]
    deliver(settings, first, resent, rerated)

    raw = client.execute(f"SELECT count() FROM {db}.rated_calls")[0][0]
    assert raw == 9 > 5  # what a view fed by inserts would have counted
    stats = client.execute(STATS.format(db=db))
    assert stats == final_sums(client, db) == expected_stats(first + resent + rerated)
    r1_nov_25 = [row for row in stats if row[1] == "r1" and str(row[0]) == "2025-11-25"]
    assert [row[6:9] for row in r1_nov_25] == [(2, 1, 60)]  # a and c; b moved to r2
    assert sum(row[-1] for row in stats) == Decimal("0.900000") * 2 + Decimal("0.123457") + Decimal("0.000001")


def test_upgrading_from_the_materialized_view_makes_past_days_exact(database):
    settings, client = database
    db = settings.clickhouse_database
    migrations = load_migrations()
    assert migrations[3].name == "0004_daily_stats_exact"
    apply_migrations(client.execute, db, migrations[:3])  # a database as 0003 left it
    calls = [rated("a"), rated("b", day=2)]
    # the columns rated_calls had then: later migrations add theirs at the end
    deliver(settings, calls, calls[:1], columns=COLUMNS[:COLUMNS.index("version") + 1])
    assert client.execute(f"SELECT sum(calls) FROM {db}.daily_stats")[0][0] == 3  # the old view's count

    assert migrate(settings)[0] == "0004_daily_stats_exact"
    assert client.execute(f"SELECT sum(calls) FROM {db}.daily_stats")[0][0] == 2
    assert client.execute(STATS.format(db=db)) == expected_stats(calls + calls[:1])
    tables = dict(client.execute(f"SELECT name, engine FROM system.tables WHERE database = '{db}'"))
    assert tables["daily_stats"] == "View" and "daily_stats_mv" not in tables
    # applied again (an interrupted run is re-applied whole) it ends in the same place
    for statement in migrations[3].statements:
        client.execute(statement.replace("{database}", db))
    assert client.execute(STATS.format(db=db)) == expected_stats(calls + calls[:1])


# any pattern of re-sends and re-ratings, each delivery its own insert
DELIVERY = st.tuples(
    st.sampled_from("abcdef"),  # call
    st.integers(0, 2),  # day
    st.sampled_from(["r1", "r2", ""]),  # reseller at this rating
    st.integers(0, 3),  # rating: a higher one is a later re-rating
    st.sampled_from(["0", "0.000001", "0.900000", "12.345678"]),
)


@hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(DELIVERY, min_size=1, max_size=4), min_size=1, max_size=4))
def test_any_redelivery_pattern_keeps_daily_stats_equal_to_final(database, batches):
    settings, client = database
    db = settings.clickhouse_database
    migrate(settings)
    client.execute(f"TRUNCATE TABLE {db}.rated_calls")
    # a call's start is fixed by its CDR, and a redelivery of one rating repeats its values:
    # the first delivery of a (call, rating) decides them
    day_of: dict[str, int] = {}
    rating_of: dict[tuple[str, int], tuple[str, str]] = {}
    rows = []
    for batch in batches:
        rows.append([])
        for call, day, reseller, rating, profit in batch:
            reseller, profit = rating_of.setdefault((call, rating), (reseller, profit))
            rows[-1].append(rated(call, day=day_of.setdefault(call, day), reseller=reseller,
                                  account=f"u-{reseller}", admin_profit=profit, rated_after=1000 * (1 + rating)))
    deliver(settings, *rows)
    delivered = [row for batch in rows for row in batch]
    assert client.execute(STATS.format(db=db)) == expected_stats(delivered)
