"""Every migration statement runs on current ClickHouse (chdb, in process), and the applier
records what it applied. The same files run on 18.16 in tests/integration/test_clickhouse_sink.py."""
from __future__ import annotations

import re

import pytest

from pipeline.sinks.migrate import apply_migrations, load_migrations, render, split_statements
from pipeline.sinks.rows import row_from_record
from tests.unit.chdb_kit import migrated_session, rows_of
from tests.unit.sinks.rated_example import example_record, literal_insert

pytest.importorskip("chdb.session")


@pytest.fixture(scope="module")
def chdb(tmp_path_factory):
    session = migrated_session(tmp_path_factory.mktemp("chdb"), "dialect")
    yield session
    session.close()


def insert_example(session, **changes) -> None:
    session.query(literal_insert("dialect", [row_from_record(example_record(**changes))]))


def test_every_statement_creates_its_object_on_current_clickhouse(chdb):
    tables = {row[0] for row in rows_of(chdb, "SHOW TABLES FROM dialect")}
    assert {"rated_calls", "accounts", "tariffs", "providers", "daily_stats"} <= tables
    assert "daily_stats_mv" not in tables  # 0004 replaced the view that counted every insert


def test_final_gives_one_row_per_call_and_daily_stats_counts_it_once(chdb):
    insert_example(chdb)
    insert_example(chdb)  # a redelivery
    insert_example(chdb, rated_at=1764057700000, admin_profit="1.000000")  # a later rating
    assert rows_of(chdb, "SELECT count() FROM dialect.rated_calls") == [["3"]]
    assert rows_of(chdb, "SELECT count(), sum(admin_profit) FROM dialect.rated_calls FINAL") == [["1", "1"]]
    # daily_stats is a view over rated_calls FINAL (migrations/0004_daily_stats_exact.sql)
    assert rows_of(chdb, "SELECT sum(calls), sum(admin_profit_sum) FROM dialect.daily_stats") == [["1", "1"]]


def test_migration_names_are_numbered_in_sequence():
    numbers = [int(m.name[:4]) for m in load_migrations()]
    assert numbers == list(range(1, len(numbers) + 1))


def test_split_ignores_comment_only_chunks_and_keeps_statements_whole():
    sql = "-- header; with a semicolon\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n\n-- only a comment;\nSELECT 1;\n"
    assert split_statements(sql) == ("CREATE TABLE a (x UInt8) ENGINE = Memory", "SELECT 1")


def test_no_statement_uses_what_18_16_lacks_or_current_refuses():
    text = "\n".join(s for m in load_migrations() for s in m.statements)
    for forbidden in ("DateTime64", "TTL", "LowCardinality", "allow_experimental"):
        assert forbidden not in text
    assert not re.search(r"MergeTree\([^)]*,", text.replace("SummingMergeTree((", "")), "old MergeTree(d, k, 8192) form"


class FakeServer:
    def __init__(self):
        self.statements, self.recorded = [], []

    def execute(self, sql, data=None):
        self.statements.append(sql)
        if sql.startswith("SELECT name FROM"):
            return [(name,) for name, _ in self.recorded]
        if data is not None:
            self.recorded.extend(data)
        return []


def test_apply_records_each_migration_and_is_a_no_op_the_second_time():
    server, migrations = FakeServer(), load_migrations()
    assert apply_migrations(server.execute, "db1", migrations) == [m.name for m in migrations]
    count = len(server.statements)
    assert apply_migrations(server.execute, "db1", migrations) == []
    assert len(server.statements) == count + 3  # create database, create schema_migrations, select
    assert all("{database}" not in sql for sql in server.statements)
    assert server.statements[0] == "CREATE DATABASE IF NOT EXISTS db1"


def test_a_database_name_that_is_not_an_identifier_is_refused():
    with pytest.raises(ValueError):
        render("CREATE DATABASE {database}", "x; DROP DATABASE rating")


def test_a_rerating_replaces_the_call_under_final_and_did_prices_may_be_negative(chdb):
    """0006: the re-rated row (rated later, rating_version 2, its run id) is the one FINAL keeps."""
    insert_example(chdb, call_id="rr", did_owner="u1", did_owner_price="-0.500000")
    insert_example(chdb, call_id="rr", rated_at=1764060000000, did_owner="u1", did_owner_price="-0.750000",
                   version=2, rerate_id="run-1")
    insert_example(chdb, call_id="rr")  # a late redelivery of the first rating loses: it was rated earlier
    assert rows_of(chdb, "SELECT rating_version, rerate_id, did_owner_price FROM dialect.rated_calls FINAL "
                         "WHERE call_id = 'rr'") == [["2", "run-1", "-0.75"]]


def test_rerate_adjustments_keep_one_row_per_id(chdb):
    for amount in ("0.5", "0.5"):  # a resumed run writes the same row again
        chdb.query("INSERT INTO dialect.rerate_adjustments VALUES ('run-1/ast1/c/u1', 'run-1', 'u1', 'ast1/c', "
                   f"{amount}, '2026-10-05 10:00:00', '2026-11', '2026-11-02 09:00:00')")
    assert rows_of(chdb, "SELECT count(), sum(amount) FROM dialect.rerate_adjustments FINAL "
                         "WHERE account = 'u1' AND bill_period = '2026-11'") == [["1", "0.5"]]


def test_two_segments_of_one_call_stay_two_rows_under_final_and_a_redelivered_segment_one(chdb):
    """0008 makes the segment part of the sorting key (in place, on 18.16 too:
    tests/integration/test_call_segments.py runs it there)."""
    for segment, profit in (("1", "0.500000"), ("2", "0.400000"), ("2", "0.400000")):
        insert_example(chdb, call_id="segmented-call", segment=segment, admin_profit=profit)
    assert rows_of(chdb, "SELECT segment, admin_profit FROM dialect.rated_calls FINAL "
                         "WHERE call_id = 'segmented-call' ORDER BY segment") == [["1", "0.5"], ["2", "0.4"]]
    keys = rows_of(chdb, "SELECT sorting_key FROM system.tables WHERE database = 'dialect' AND name = 'rated_calls'")
    assert keys == [["server_id, call_id, segment"]]
