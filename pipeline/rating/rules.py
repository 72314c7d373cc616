"""Field rules shared by the pydantic models and the fast CSV reader.

Each rule lives here once. The models call them as before-validators and the CSV reader calls them
per cell, so a rate accepted from JSON is accepted from CSV and is refused with the same words.
A rule raises ValueError whose text is `<rule> (got "<value>")`; callers add the place.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)
DAY_TYPES = ("WD", "FD", "all")
MONEY_RULE = "must be a decimal number >= 0"


def _refuse(rule: str, value: object) -> ValueError:
    return ValueError(f'{rule} (got "{value}")')


def money(value: object) -> Decimal:
    """A non-negative, finite decimal; a float is refused because it already lost the exact value."""
    if isinstance(value, float):
        raise _refuse("money must be a decimal string, not a JSON number", value)
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise _refuse(MONEY_RULE, value) from None
    else:
        raise _refuse(MONEY_RULE, value)
    if not amount.is_finite() or amount < 0:
        raise _refuse(MONEY_RULE, value)
    return amount


def optional_money(value: object) -> Decimal | None:
    return None if value is None else money(value)


def digits(value: object) -> str:
    """ASCII digits only; str.isdigit alone would let '²' and Arabic-Indic digits through."""
    if not isinstance(value, str) or not (value == "" or (value.isascii() and value.isdigit())):
        raise _refuse("must be a string of digits 0-9", value)
    return value


def whole_number(value: object, minimum: int) -> int:
    rule = f"must be a whole number >= {minimum}"
    if isinstance(value, bool) or isinstance(value, float):
        raise _refuse(rule, value)
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()):
            raise _refuse(rule, value)
        value = int(text)
    if not isinstance(value, int) or value < minimum:
        raise _refuse(rule, value)
    return value


def at_least_zero(value: object) -> int:
    return whole_number(value, 0)


def at_least_one(value: object) -> int:
    return whole_number(value, 1)


def instant(value: object) -> datetime:
    """An aware UTC datetime; a naive one is read as UTC, as the contract's examples all are."""
    rule = "must be an ISO-8601 date-time such as 2026-01-01T00:00:00Z"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _refuse(rule, value) from None
    if not isinstance(value, datetime):
        raise _refuse(rule, value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def time_of_day(value: object) -> time:
    rule = "must be a time of day HH:MM:SS"
    if isinstance(value, str):
        try:
            value = time.fromisoformat(value.strip())
        except ValueError:
            raise _refuse(rule, value) from None
    if not isinstance(value, time) or value.tzinfo is not None:
        raise _refuse(rule, value)
    return value


def day_type(value: object) -> str:
    if value not in DAY_TYPES:
        raise _refuse('must be one of "WD", "FD", "all"', value)
    return value  # type: ignore[return-value]


def time_window(start: time, end: time) -> None:
    """A call is never split across windows, so a window crossing midnight is two rates."""
    if start > end:
        raise ValueError(f"start {start} is after end {end}; split a window crossing midnight in two")


def zone_name(value: object) -> str:
    rule = "must be an IANA time zone such as Europe/Vilnius"
    if not isinstance(value, str):
        raise _refuse(rule, value)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _refuse(rule, value) from None
    return value


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since 1970, floored, without a float on the way (floats blur microseconds)."""
    return (moment - EPOCH) // ONE_SECOND


def day_number(day: date) -> int:
    """Days since 1970-01-01, the unit the tariff index compares holidays in."""
    return day.toordinal() - 719163
