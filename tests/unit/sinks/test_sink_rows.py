"""row_from_record: the example priced call becomes the exact row rated_calls expects."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from pipeline.schemas.avro import SCHEMA_DIR
from pipeline.sinks.migrate import MIGRATIONS_DIR
from pipeline.sinks.rows import COLUMNS, RowError, last_rating_per_call, row_from_record
from tests.unit.sinks.rated_example import example_record


def table_columns(table: str = "rated_calls") -> list[str]:
    sql = (MIGRATIONS_DIR / "0001_rated_calls.sql").read_text()
    body = sql[sql.index(f"{{database}}.{table}"):]
    body = body[body.index("(") + 1:body.index("\n)")]
    return [line.split()[0] for line in body.splitlines() if line.strip() and not line.strip().startswith("--")]


def added_columns() -> list[str]:
    """Columns later migrations add to rated_calls, in migration order (0006's, 0008's...)."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        code = "\n".join(line for line in path.read_text().splitlines() if not line.strip().startswith("--"))
        for statement in code.split(";"):
            if "ALTER TABLE {database}.rated_calls" in statement:
                found += re.findall(r"ADD COLUMN (\w+)", statement)
    return found


def test_columns_match_the_migrations_in_order():
    """0001's columns (the engine's `version` last), then those later migrations add: the order
    DESCRIBE gives."""
    assert list(COLUMNS) == table_columns() + added_columns()
    assert len(row_from_record(example_record())) == len(COLUMNS)


def test_a_record_written_before_0006_gets_the_defaults():
    old = {k: v for k, v in example_record().items()
           if not k.startswith("did_") and k not in ("version", "rerate_id")}
    row = dict(zip(COLUMNS, row_from_record(old)))
    assert (row["did_owner"], row["did_owner_price"], row["rating_version"], row["rerate_id"]) == ("", 0, 1, "")


def test_did_prices_may_be_negative_and_rerating_fields_are_kept():
    row = dict(zip(COLUMNS, row_from_record(example_record(
        did="37052000001", did_owner="u1", did_incoming_price="-0.050000", did_owner_price="1.5",
        version=3, rerate_id="run-1"))))
    assert row["did_incoming_price"] == Decimal("-0.05") and row["did_owner_price"] == Decimal("1.5")
    assert (row["rating_version"], row["rerate_id"]) == (3, "run-1")
    assert row["version"] == 1764057601000  # the engine's version stays rated_at in ms


def test_example_row_has_exact_money_and_utc_seconds():
    row = dict(zip(COLUMNS, row_from_record(example_record())))
    assert row["user_price"] == Decimal("2.000000") and isinstance(row["user_price"], Decimal)
    assert row["reseller_price"] == Decimal("1.2")
    assert row["provider_price"] == Decimal("0.3")
    assert row["reseller_profit"] == Decimal("0.8")
    assert row["admin_profit"] == Decimal("0.9")
    assert row["user_price"] - row["reseller_price"] == row["reseller_profit"]
    assert row["start_time"] == int(datetime(2025, 11, 25, 8, 0, tzinfo=timezone.utc).timestamp())
    assert row["rated_at"] == row["start_time"] + 1
    assert row["version"] == 1764057601000  # rated_at in milliseconds
    assert (row["server_id"], row["call_id"], row["reseller"]) == ("ast1", "1732528800.42", "r1")
    assert (row["loss"], row["own_provider"]) == (0, 0)


def test_same_record_twice_gives_the_same_row():
    assert row_from_record(example_record()) == row_from_record(example_record())


def test_every_avsc_field_is_a_column():
    fields = [field["name"] for field in json.loads((SCHEMA_DIR / "rated_call.v1.avsc").read_text())["fields"]]
    # the record's `version` is the rating number, stored as rating_version (0006)
    assert set(fields) - {"version"} <= set(COLUMNS) and "rating_version" in COLUMNS


@pytest.mark.parametrize("field, value, message", [
    ("user_price", "0.0000001", "more than 6 decimal places"),  # the driver would truncate it
    ("user_price", 2.5, "float"),
    ("admin_profit", "1000000000000", "range"),
    ("user_rate", "NaN", "finite"),
    ("billsec", -1, "UInt32"),
    ("loss", 1, "boolean"),
    ("dst", 37061234567, "string"),
    ("start_time", datetime(1969, 12, 31, tzinfo=timezone.utc), "DateTime range"),
])
def test_values_clickhouse_would_refuse_or_alter_are_refused(field, value, message):
    record = {**example_record(), field: value}
    with pytest.raises(RowError, match=re.escape(field)) as raised:
        row_from_record(record)
    assert message in str(raised.value)


def test_exact_values_in_other_spellings_are_accepted():
    record = {**example_record(), "user_price": "2.0000000000", "user_rate": "-0.123456789", "admin_profit": "-0.9"}
    row = dict(zip(COLUMNS, row_from_record(record)))
    assert row["user_price"] == Decimal(2)
    assert row["user_rate"] == Decimal("-0.123456789")
    assert row["admin_profit"] == Decimal("-0.9")


def test_a_missing_field_is_named():
    record = example_record()
    del record["currency"]
    with pytest.raises(RowError, match="currency: missing"):
        row_from_record(record)


def test_last_rating_per_call_keeps_the_newest_version():
    older = row_from_record(example_record())
    newer = row_from_record({**example_record(), "rated_at": 1764057700000, "user_price": "3.000000"})
    other = row_from_record({**example_record(), "call_id": "other"})
    kept = last_rating_per_call([newer, other, older, older])
    assert sorted(kept) == sorted([newer, other])


def test_segments_of_one_call_are_rows_of_their_own_and_a_whole_call_has_an_empty_segment():
    whole = dict(zip(COLUMNS, row_from_record({k: v for k, v in example_record().items() if k != "segment"})))
    assert whole["segment"] == ""  # a record written before segments existed
    first, second = (row_from_record(example_record(segment=s)) for s in ("1", "2"))
    again = row_from_record(example_record(segment="2"))
    kept = last_rating_per_call([first, second, again])
    assert sorted(dict(zip(COLUMNS, row))["segment"] for row in kept) == ["1", "2"]
