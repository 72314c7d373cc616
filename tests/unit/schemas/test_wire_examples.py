"""Every example payload validates against its .avsc and reads back the same in JSON and in Avro."""
import json
import struct
from datetime import datetime, timedelta, timezone

import pytest
from fastavro.validation import validate
from hypothesis import given
from hypothesis import strategies as st

from pipeline.schemas import avro, wire

EXAMPLES = avro.SCHEMA_DIR / "examples"
SCHEMA_OF = {
    "balance_charge.json": "balance_charge.v1",
    "balance_charges.json": "balance_charges.v2",
    "balance_update.json": "balance_update.v1",
    "cdr.json": "cdr.v1",
    "cdr_avro.json": "cdr.v1",
    "rated_call.json": "rated_call.v1",
}


def example(file: str) -> dict:
    return json.loads((EXAMPLES / file).read_text())


def schema_fields(name: str) -> dict:
    return {f["name"]: f for f in avro.schema(name)["fields"]}


def as_avro_reads(name: str, record: dict) -> dict:
    """What any reader of `name` sees: schema fields only, defaults filled in."""
    return {field: record.get(field, spec.get("default")) for field, spec in schema_fields(name).items()}


def test_every_example_is_checked_and_every_schema_has_one():
    assert sorted(SCHEMA_OF) == sorted(p.name for p in EXAMPLES.glob("*.json"))
    assert set(SCHEMA_OF.values()) == {p.name.removesuffix(".avsc") for p in avro.SCHEMA_DIR.glob("*.avsc")}


@pytest.mark.parametrize("file, name", SCHEMA_OF.items())
def test_example_validates_against_its_schema(file, name):
    assert validate(example(file), avro.schema(name), raise_errors=True)


@pytest.mark.parametrize("file, name", SCHEMA_OF.items())
def test_example_reads_back_the_same_in_both_formats(file, name):
    record = example(file)
    from_json = wire.decode(name, wire.encode(name, record, "json"))
    from_avro = wire.decode(name, wire.encode(name, record, "avro"))
    assert as_avro_reads(name, from_json) == from_avro
    assert validate(from_json, avro.schema(name), raise_errors=True)
    for field in wire.timestamp_fields(name):
        assert from_json[field] == from_avro[field] == datetime.fromtimestamp(record[field] / 1000, timezone.utc)


@pytest.mark.parametrize("file, name", [(f, n) for f, n in SCHEMA_OF.items() if f != "cdr.json"])
def test_example_with_only_schema_fields_is_identical_after_both(file, name):
    record = example(file)
    assert wire.decode(name, wire.encode(name, record, "json")) == wire.decode(name, wire.encode(name, record, "avro"))


def test_json_cdr_example_keeps_its_unknown_field_only_in_json():
    # cdr.v1.avsc has no place for unknown fields: an Avro CDR simply cannot carry one
    record = example("cdr.json")
    assert wire.decode("cdr.v1", wire.encode("cdr.v1", record, "json"))["userfield"] == "kept as extra"
    assert "userfield" not in wire.decode("cdr.v1", wire.encode("cdr.v1", record, "avro"))


def test_timestamp_fields_are_read_from_the_schema():
    assert wire.timestamp_fields("rated_call.v1") == ("start_time", "rated_at")
    assert wire.timestamp_fields("cdr.v1") == ()


def test_json_writes_timestamps_as_epoch_millis():
    record = dict(example("rated_call.json"), rated_at=datetime(2026, 1, 1, 0, 0, 0, 123999, timezone.utc))
    assert json.loads(wire.encode("rated_call.v1", record))["rated_at"] == 1767225600123


@pytest.mark.parametrize("name", sorted(set(SCHEMA_OF.values())))
def test_avro_bytes_never_start_like_json(name):
    # readers tell the formats apart by the first byte; every record starts with a string field
    first = next(iter(schema_fields(name).values()))
    assert first["type"] == "string"
    for length in range(0, 300):
        body = avro.encode(name, {**example(next(f for f, n in SCHEMA_OF.items() if n == name)),
                                  first["name"]: "x" * length})
        assert body[:1] != b"{"


moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(timezone.utc))


@given(start=moments, rated_at=moments)
def test_any_moment_reads_back_the_same_in_both_formats_to_the_millisecond(start, rated_at):
    record = dict(example("rated_call.json"), start_time=start, rated_at=rated_at)
    from_json = wire.decode("rated_call.v1", wire.encode("rated_call.v1", record, "json"))
    from_avro = wire.decode("rated_call.v1", wire.encode("rated_call.v1", record, "avro"))
    assert from_json == from_avro
    assert timedelta(0) <= start - from_json["start_time"] < timedelta(milliseconds=1)


def test_confluent_framed_and_plain_avro_decode_the_same():
    record = example("cdr_avro.json")
    body = avro.encode("cdr.v1", record)
    framed = bytes([avro.CONFLUENT_MAGIC]) + struct.pack(">I", 7) + body
    assert avro.decode_framed("cdr.v1", framed) == avro.decode_framed("cdr.v1", body) == record
