"""Avro codecs for the .avsc files beside this module (schemaless: the schema is this file)."""
from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path
from typing import Any, cast

import fastavro

SCHEMA_DIR = Path(__file__).resolve().parent
CONFLUENT_MAGIC = 0  # Confluent wire format: magic byte 0, 4-byte schema id, then the Avro body


@cache
def schema(name: str) -> dict[str, Any]:
    """Parsed schema by file stem, e.g. ``schema("rated_call.v1")``."""
    with open(SCHEMA_DIR / f"{name}.avsc", encoding="utf-8") as fh:
        return cast(dict[str, Any], fastavro.parse_schema(json.load(fh)))


def encode(name: str, record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema(name), record)
    return buffer.getvalue()


def decode(name: str, payload: bytes, exact: bool = False) -> dict[str, Any]:
    """`exact`: the record must use every byte (tells Avro from other bytes that happen to parse)."""
    buffer = io.BytesIO(payload)
    record = fastavro.schemaless_reader(buffer, schema(name), None)
    if exact and buffer.tell() != len(payload):
        raise ValueError(f"{len(payload) - buffer.tell()} bytes left after the {name} record")
    return cast(dict[str, Any], record)  # every schema here is a record


def decode_framed(name: str, payload: bytes, exact: bool = False) -> dict[str, Any]:
    """Decode plain schemaless Avro, or the Confluent framing when the bytes carry it."""
    if len(payload) > 5 and payload[0] == CONFLUENT_MAGIC:
        try:
            return decode(name, payload[5:], exact)
        except Exception:  # not framed after all: a schemaless body may start with 0 too
            pass
    return decode(name, payload, exact)
