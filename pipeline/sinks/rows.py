"""A rated_call.v1 record (as `avro.decode` gives it) -> one row of rating.rated_calls.

Pure and strict: a row that comes out of here is one ClickHouse accepts as is. The writer retries
a failed insert until it succeeds, so a value the server or the driver would refuse (a negative
UInt32, a Decimal past its range) must be caught here, or it would block the sink forever. The
driver also truncates a Decimal with too many places silently; here that is an error instead.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

from pipeline.schemas.limits import DATETIME_TYPE_END as DATETIME_END  # DateTime is a UInt32 of seconds
from pipeline.schemas.limits import DECIMAL_DIGITS, MONEY_PLACES, RATE_PLACES, UINT32_MAX

# The limits themselves live in pipeline/schemas/limits.py, enforced where data enters; this
# mapper checks them again, the last guard before a value the server would refuse.
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MILLISECOND = timedelta(milliseconds=1)
SECOND = timedelta(seconds=1)
_END_MS = (DATETIME_END - EPOCH) // MILLISECOND

# (column, kind) in the order of migrations/0001_rated_calls.sql; `version` is derived (it follows them)
COLUMN_KINDS: tuple[tuple[str, str], ...] = (
    ("server_id", "str"), ("call_id", "str"), ("account", "str"), ("reseller", "str"),
    ("provider", "str"), ("src", "str"), ("dst", "str"), ("did", "str"),
    ("start_time", "time"), ("billsec", "uint32"), ("disposition", "str"),
    ("user_tariff", "str"), ("user_prefix", "str"), ("user_billed_seconds", "uint32"),
    ("user_rate", "rate"), ("user_price", "money"),
    ("reseller_tariff", "str"), ("reseller_prefix", "str"), ("reseller_billed_seconds", "uint32"),
    ("reseller_rate", "rate"), ("reseller_price", "money"),
    ("provider_tariff", "str"), ("provider_prefix", "str"), ("provider_billed_seconds", "uint32"),
    ("provider_rate", "rate"), ("provider_price", "money"),
    ("reseller_profit", "money"), ("admin_profit", "money"),
    ("own_provider", "flag"), ("currency", "str"), ("loss", "flag"),
    ("rated_at", "time"), ("extra", "str"),
)
# Added by migrations/0006_did_and_rerate.sql: (column, record field, kind, the value of a record
# written before the field existed: the JSON wire format carries no defaults)
ADDED_COLUMNS: tuple[tuple[str, str, str, Any], ...] = (
    ("did_owner", "did_owner", "str", ""),
    ("did_incoming_price", "did_incoming_price", "money", "0"),
    ("did_owner_price", "did_owner_price", "money", "0"),
    ("did_reseller_owner_price", "did_reseller_owner_price", "money", "0"),
    ("did_provider_price", "did_provider_price", "money", "0"),
    # the record's `version` (1 for the first rating, +1 per re-rating that changed it): the table's
    # own `version` column is the ReplacingMergeTree version, rated_at in ms (see 0006)
    ("rating_version", "version", "uint32", 1),
    ("rerate_id", "rerate_id", "str", ""),
    # migrations/0008_call_segments.sql: one record of a call written in several ('' for a whole call)
    ("segment", "segment", "str", ""),
)
# the table's order: 0001's columns with the engine's `version` last, then 0006's
COLUMNS: tuple[str, ...] = (tuple(name for name, _ in COLUMN_KINDS) + ("version",)
                            + tuple(c[0] for c in ADDED_COLUMNS))
VERSION = len(COLUMN_KINDS)  # position of `version` in a row
SEGMENT = COLUMNS.index("segment")  # with server_id and call_id, the row's identity under FINAL


class RowError(ValueError):
    """The record cannot become a row; names the field."""


def row_from_record(record: dict[str, Any]) -> tuple:
    try:
        values = list(_FIELDS_OF(record))
    except KeyError as missing:
        raise RowError(f"{missing.args[0]}: missing") from None
    for position in _STRING_POSITIONS:
        if type(values[position]) is not str:
            _string(COLUMNS[position], values[position])
    for position, name, convert in _CONVERTED:
        values[position] = convert(name, values[position])
    values.append(_millis(record["rated_at"]))  # version: a later rating of the call wins
    get = record.get
    for column, field, kind, default in ADDED_COLUMNS:
        values.append(_CONVERT[kind](column, get(field, default)))
    return tuple(values)


def last_rating_per_call(rows: Iterable[tuple]) -> list[tuple]:
    """One row per (server_id, call_id, segment), the latest version: a redelivery inside one batch
    is then never inserted twice, which keeps the daily_stats view exact for it."""
    latest: dict[tuple[str, str, str], tuple] = {}
    for row in rows:
        key = (row[0], row[1], row[SEGMENT])
        kept = latest.get(key)
        if kept is None or row[VERSION] >= kept[VERSION]:
            latest[key] = row
    return list(latest.values())


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise RowError(f"{name}: expected a string, got {type(value).__name__}")
    return value


def _uint32(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT32_MAX:
        raise RowError(f"{name}: {value!r} is not a UInt32")
    return value


def _flag(name: str, value: Any) -> int:
    if not isinstance(value, bool):
        raise RowError(f"{name}: {value!r} is not a boolean")
    return int(value)


def _plain_decimal(places: int) -> re.Pattern:
    return re.compile(rf"-?\d{{1,{DECIMAL_DIGITS - places}}}(?:\.\d{{1,{places}}})?\Z")


# the engine writes money as plain decimal strings: one regex match proves them exact and in range
_PLAIN = {MONEY_PLACES: _plain_decimal(MONEY_PLACES), RATE_PLACES: _plain_decimal(RATE_PLACES)}


def _decimal(name: str, value: Any, places: int) -> Decimal:
    if type(value) is str and _PLAIN[places].match(value):
        return Decimal(value)
    if isinstance(value, float):  # already inexact: refuse rather than store a guess
        raise RowError(f"{name}: money must be a decimal string, got float {value!r}")
    try:
        amount = Decimal(value) if isinstance(value, (str, int)) else value
    except InvalidOperation:
        raise RowError(f"{name}: {value!r} is not a decimal") from None
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise RowError(f"{name}: {value!r} is not a finite decimal")
    if abs(amount) >= Decimal(10) ** (DECIMAL_DIGITS - places):
        raise RowError(f"{name}: {value!r} is out of the Decimal({DECIMAL_DIGITS}, {places}) range")
    if amount.as_tuple().exponent < -places and amount != round(amount, places):
        raise RowError(f"{name}: {value!r} has more than {places} decimal places")
    return amount


def _time(name: str, value: Any) -> int:
    """Epoch seconds: DateTime holds whole seconds (18.16 has no DateTime64), and the driver
    writes an int as it is, skipping its per-value time zone conversion."""
    if type(value) is int:  # timestamp-millis as the JSON wire carries it: no datetime needed
        if not 0 <= value < _END_MS:
            raise RowError(f"{name}: {value!r} ms is outside the DateTime range")
        return value // 1000
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise RowError(f"{name}: {value!r} is not an aware datetime")
    if not EPOCH <= value < DATETIME_END:
        raise RowError(f"{name}: {value!r} is outside the DateTime range")
    return (value - EPOCH) // SECOND


def _millis(value: Any) -> int:
    if isinstance(value, int):
        return value
    return (value - EPOCH) // MILLISECOND


_CONVERT: dict[str, Callable[[str, Any], Any]] = {
    "str": _string,
    "uint32": _uint32,
    "flag": _flag,
    "money": lambda name, value: _decimal(name, value, MONEY_PLACES),
    "rate": lambda name, value: _decimal(name, value, RATE_PLACES),
    "time": _time,
}
# per-column work decided once, not per record: this runs for every call (bench-sink)
_FIELDS_OF = itemgetter(*(name for name, _ in COLUMN_KINDS))
_STRING_POSITIONS = tuple(i for i, (_, kind) in enumerate(COLUMN_KINDS) if kind == "str")
_CONVERTED = tuple((i, name, _CONVERT[kind]) for i, (name, kind) in enumerate(COLUMN_KINDS) if kind != "str")
