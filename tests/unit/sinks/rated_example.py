"""The example priced call (pipeline/schemas/examples/rated_call.json), as tests need it."""
from __future__ import annotations

import json

from pipeline.schemas import avro
from pipeline.schemas.avro import SCHEMA_DIR


def example_json() -> dict:
    with open(SCHEMA_DIR / "examples" / "rated_call.json", encoding="utf-8") as fh:
        return json.load(fh)


def example_payload(**changes) -> bytes:
    return avro.encode("rated_call.v1", {**example_json(), **changes})


def example_record(**changes) -> dict:
    """Through Avro, as the sink stage sees it: money strings, aware datetimes."""
    return avro.decode("rated_call.v1", example_payload(**changes))


def literal(value) -> str:
    """A SQL literal for chdb seeding (never used against the server: the sink passes data)."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(value)


def literal_insert(database: str, rows: list[tuple]) -> str:
    from pipeline.sinks.rows import COLUMNS

    values = ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
    return f"INSERT INTO {database}.rated_calls ({', '.join(COLUMNS)}) VALUES {values}"
