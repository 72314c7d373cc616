"""The schema and the writer on the real ClickHouse (18.16 locally): migrate, insert, FINAL."""
from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from pipeline.sinks.clickhouse import ClickHouseWriter, connect
from pipeline.sinks.migrate import load_migrations, migrate
from pipeline.sinks.reference_rows import ACCOUNT_COLUMNS, mirror_row
from pipeline.sinks.rows import COLUMNS, row_from_record
from tests.unit.sinks.rated_example import example_record

pytestmark = pytest.mark.clickhouse


@pytest.fixture
def migrated(settings_factory):
    settings = settings_factory()
    migrate(settings)
    client = connect(settings)
    yield settings, client
    client.execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    client.disconnect()


def test_migrate_creates_the_database_and_the_second_run_is_a_no_op(settings_factory):
    settings = settings_factory()
    try:
        assert migrate(settings) == [m.name for m in load_migrations()]
        assert migrate(settings) == []
        client = connect(settings)
        names = client.execute(f"SELECT name FROM {settings.clickhouse_database}.schema_migrations ORDER BY name")
        assert [name for (name,) in names] == [m.name for m in load_migrations()]
        # the table has exactly the mapper's columns, in order
        described = client.execute(f"DESCRIBE TABLE {settings.clickhouse_database}.rated_calls")
        assert tuple(row[0] for row in described) == COLUMNS
    finally:
        client = connect(settings, database="default")
        client.execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
        client.disconnect()


def test_final_gives_one_row_per_call_after_redelivery_and_money_stays_exact(migrated):
    settings, client = migrated
    db = settings.clickhouse_database
    writer = ClickHouseWriter(settings)
    first = [row_from_record(example_record(call_id=f"c{n}", admin_profit="0.000001")) for n in range(3)]
    writer.write(first)
    writer.write(first[:2])  # a redelivery of two calls
    rerated = row_from_record(example_record(call_id="c0", admin_profit="0.123457", rated_at=1764057999000))
    writer.write([rerated])  # a later rating of c0 replaces it

    assert client.execute(f"SELECT count() FROM {db}.rated_calls")[0][0] == 6  # before merging
    final = client.execute(f"SELECT call_id, admin_profit FROM {db}.rated_calls FINAL ORDER BY call_id")
    assert final == [("c0", Decimal("0.123457")), ("c1", Decimal("0.000001")), ("c2", Decimal("0.000001"))]
    total = client.execute(f"SELECT sum(admin_profit), sum(user_price) FROM {db}.rated_calls FINAL")[0]
    assert total == (Decimal("0.123459"), Decimal("6"))
    start = client.execute(f"SELECT toString(start_time), toString(rated_at) FROM {db}.rated_calls FINAL "
                           "WHERE call_id = 'c1'")[0]
    assert start == ("2025-11-25 08:00:00", "2025-11-25 08:00:01")  # UTC, as the record says
    writer.close()


def test_daily_stats_sum_decimals_and_count_a_redelivery_once(migrated):
    settings, client = migrated
    db = settings.clickhouse_database
    writer = ClickHouseWriter(settings)
    writer.write([row_from_record(example_record(call_id="a")), row_from_record(example_record(call_id="b"))])
    writer.write([row_from_record(example_record(call_id="a"))])  # redelivered in another batch
    stats = client.execute(f"SELECT day, reseller, calls, answered, billsec_sum, user_price_sum, admin_profit_sum "
                           f"FROM {db}.daily_stats")
    # three inserts of two calls: the view over rated_calls FINAL counts two
    assert [row[2:] for row in stats] == [(2, 2, 120, Decimal("4"), Decimal("1.8"))]
    assert str(stats[0][0]) == "2025-11-25" and stats[0][1] == "r1"
    writer.close()


def test_mirror_rows_insert_and_a_delete_hides_the_account(migrated):
    settings, client = migrated
    db = settings.clickhouse_database
    writer = ClickHouseWriter(settings, table="accounts", columns=ACCOUNT_COLUMNS)
    live = orjson.dumps({"kind": "account", "id": "u1", "type": "user", "parent": "r1", "credit_limit": "50"})
    other = orjson.dumps({"kind": "account", "id": "u2", "type": "user", "parent": "r1"})
    writer.write([mirror_row("ref.accounts", b"u1", live, 0, 1764057600.0),
                  mirror_row("ref.accounts", b"u2", other, 1, 1764057600.0)])
    writer.write([mirror_row("ref.accounts", b"u2", None, 2, 1764057601.0)])
    rows = client.execute(f"SELECT id, reseller, credit_limit FROM {db}.accounts FINAL WHERE deleted = 0")
    assert rows == [("u1", "r1", Decimal("50"))]
    writer.close()
