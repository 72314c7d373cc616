"""migrations/0008_call_segments.sql on ClickHouse 18.16 over a table that already holds calls: the
sorting key gains `segment` in place, the old rows read segment '' and stay one row each under
FINAL, and two segments of one call are two rows (the same statements run on current ClickHouse
in tests/unit/sinks/test_sink_migrations.py)."""
from __future__ import annotations

from pipeline.sinks.clickhouse import connect, insert_statement
from pipeline.sinks.migrate import apply_migrations, load_migrations
from pipeline.sinks.rows import COLUMNS, row_from_record
from tests.unit.sinks.rated_example import example_record

SEGMENTED = "0008_call_segments"


def test_segments_join_the_key_of_a_table_that_already_holds_calls(settings_factory):
    settings = settings_factory()
    database = settings.clickhouse_database
    client = connect(settings, database="default")
    try:
        migrations = load_migrations()
        before = [m for m in migrations if m.name < SEGMENTED]
        apply_migrations(client.execute, database, before)
        old_columns = [c for c in COLUMNS if c != "segment"]
        old_row = dict(zip(COLUMNS, row_from_record(example_record(call_id="old"))))
        client.execute(insert_statement(database, columns=old_columns), [tuple(old_row[c] for c in old_columns)])
        assert apply_migrations(client.execute, database, migrations)[0] == SEGMENTED
        for segment in ("1", "2", "2"):
            client.execute(insert_statement(database),
                           [row_from_record(example_record(call_id="new", segment=segment))])
        client.execute(insert_statement(database), [row_from_record(example_record(call_id="old"))])  # again
        assert client.execute(f"SELECT call_id, segment FROM {database}.rated_calls FINAL ORDER BY call_id, segment") \
            == [("new", "1"), ("new", "2"), ("old", "")]
        key = client.execute(f"SELECT sorting_key FROM system.tables WHERE database = '{database}' "
                             "AND name = 'rated_calls'")
        assert key == [("server_id, call_id, segment",)]
    finally:
        client.disconnect()
