"""rated_calls rows as ClickHouse gives them back, made by rating a CDR with a book (for the tests)."""
from __future__ import annotations

from datetime import datetime, timezone

import orjson

from pipeline.cdr.process import process_cdr
from pipeline.rerate.scope import SELECTED
from pipeline.schemas import wire
from pipeline.sinks.rows import COLUMNS, row_from_record
from tests.unit.cdr.sample_book import RATED_AT, SOURCE

_RATING_VERSION = {"rating_version": "version"}


def stored_row(book, cdr: dict, **changes) -> dict:
    """The row the sink would store for `cdr` rated with `book`, as the run's SELECT reads it."""
    out = process_cdr(b"k", orjson.dumps(cdr), SOURCE, book, RATED_AT)
    assert out.rated, out.value
    record = {**wire.decode("rated_call.v1", out.value), **changes}
    row = dict(zip(COLUMNS, row_from_record(record)))
    row["start_time"] = datetime.fromtimestamp(row["start_time"], timezone.utc).replace(tzinfo=None)
    return {name: row[name] for name in SELECTED}
