"""The records of cdr.rated and the internal topics on the wire: JSON (default) or Avro.

The .avsc files define every record either way. JSON is the default because it is what outside
readers of cdr.rated (scripts, kcat, dashboards) take without a schema file, and because it is
much cheaper here: fastavro's schemaless writer costs ~25 us a record on these machines, orjson
~2 us, and bench-stream shows what that is worth. `RATING_WIRE_FORMAT=avro` switches writers to
Avro; readers take both, told apart by the first byte: every one of these records starts with a
string field, whose Avro length prefix can never be the byte `{`.
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import cache

import orjson

from pipeline.schemas import avro

FORMATS = ("json", "avro")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@cache
def timestamp_fields(name: str) -> tuple[str, ...]:
    """Fields that are timestamp-millis: epoch milliseconds in JSON, aware datetimes in Python."""
    return tuple(
        f["name"] for f in avro.schema(name)["fields"]
        if isinstance(f["type"], dict) and f["type"].get("logicalType") == "timestamp-millis"
    )


def encode(name: str, record: dict, fmt: str = "json") -> bytes:
    if fmt == "avro":
        return avro.encode(name, record)
    stamps = timestamp_fields(name)
    if stamps:
        record = dict(record)
        for field in stamps:
            record[field] = millis(record[field])
    return orjson.dumps(record)


def decode(name: str, payload: bytes, datetimes: bool = True) -> dict:
    """`datetimes=False`: JSON timestamps stay epoch milliseconds (Avro's are datetimes either
    way; `millis` reads both), for hot readers that never need a datetime."""
    if payload[:1] != b"{":
        return avro.decode(name, payload)
    record = orjson.loads(payload)
    if datetimes:
        for field in timestamp_fields(name):
            record[field] = datetime.fromtimestamp(record[field] / 1000, timezone.utc)
    return record


def millis(moment) -> int:
    """Epoch milliseconds of a timestamp field, as either format decodes it."""
    if isinstance(moment, int):
        return moment
    return (moment - _EPOCH) // _MILLISECOND


_MILLISECOND = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=timezone.utc) - _EPOCH
