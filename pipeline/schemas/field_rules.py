"""Field rules shared by the pydantic models and the fast CSV reader.

Each rule lives here once. The models call them as before-validators and the CSV reader calls them
per cell, so a rate accepted from JSON is accepted from CSV and is refused with the same words.
A rule raises ValueError whose text is `<rule> (got "<value>")`; callers add the place.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.schemas import dialled, limits

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)
DAY_TYPES = ("WD", "FD", "all")


def _refuse(rule: str, value: object) -> ValueError:
    return ValueError(f'{rule} (got "{_shown(value)}")')


# ASCII digits, at most one point, an optional sign; no exponent, no "_", no other script's digits,
# no NaN or Infinity (Decimal() itself takes all of those)
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\Z")


def decimal_amount(value: object, *, what: str, places: int, below: Decimal, positive: bool = False) -> Decimal:
    """An exact decimal within a stored column's range: >= 0 (> 0 if `positive`), below `below`, at
    most `places` decimal places as written, at most 28 significant digits. A float is refused
    because it already lost the exact value; text must be plain ASCII digits."""
    rule = f"must be a decimal number {'> 0' if positive else '>= 0'}"
    if isinstance(value, float):
        raise _refuse("money must be a decimal string, not a JSON number", value)
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    elif isinstance(value, str) and _DECIMAL_TEXT.match(value.strip()):
        amount = Decimal(value.strip())
    elif isinstance(value, str) and _is_decimal_to_python(value):
        raise _refuse(f"{rule}, written in the digits 0-9 with no exponent", value)
    else:
        raise _refuse(rule, value)
    if not amount.is_finite() or amount < 0 or positive and amount == 0:
        raise _refuse(rule, value)
    if len(amount.as_tuple().digits) > limits.SIGNIFICANT_DIGITS:
        raise _refuse(f"{what} has more than {limits.SIGNIFICANT_DIGITS} significant digits", value)
    if -int(amount.as_tuple().exponent) > places:  # an int: the amount is finite
        raise _refuse(f"{what} has more than {places} decimal places", value)
    if amount >= below:
        raise _refuse(f"{what} must be below {below:,}", value)
    return amount


def _is_decimal_to_python(text: str) -> bool:
    """Whether Decimal() would take it (1E+5, 1_000, other scripts' digits): worth a precise word."""
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def rate_money(value: object) -> Decimal:
    """A rate per minute or a connection fee: what Decimal(18, 9) holds (rated_calls.*_rate)."""
    return decimal_amount(value, what="a rate", places=limits.RATE_PLACES, below=limits.RATE_BELOW)


def signed_rate_money(value: object) -> Decimal:
    """A DID rate or connection fee: like rate_money, but may be negative (paid by the admin to that
    party, docs/domain.md "DIDs"); its size is what Decimal(18, 9) holds."""
    negative = isinstance(value, str) and value.strip().startswith("-") or isinstance(value, (int, Decimal)) \
        and not isinstance(value, bool) and value < 0
    if not negative:
        return rate_money(value)
    size = value.strip()[1:] if isinstance(value, str) else -cast("int | Decimal", value)
    return -rate_money(size)


def money(value: object) -> Decimal:
    """An amount such as a credit limit: what Decimal(18, 6) holds."""
    return decimal_amount(value, what="money", places=limits.MONEY_PLACES, below=limits.MONEY_BELOW)


def optional_money(value: object) -> Decimal | None:
    return None if value is None else money(value)


def _shown(value: object) -> str:
    """The value as an error repeats it: long input is cut, since messages travel in records."""
    text = str(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"


def digits(value: object) -> str:
    """ASCII digits only; str.isdigit alone would let '²' and Arabic-Indic digits through."""
    if not isinstance(value, str) or not (value == "" or (value.isascii() and value.isdigit())):
        raise _refuse("must be a string of digits 0-9", value)
    return value


def prefix(value: object) -> str:
    """A rate's prefix, no longer than the tariff index probes (a longer one never matches): digits
    for numbers; for destinations that are not numbers (pipeline/schemas/dialled.py) a code prefix
    (`*72*`: letters, digits, `*`, `#`, `.`, `_`, `-`, with a `*` or `#`), an exact code (`#21#$`,
    `alice$`) or an exact menu key (`1$`)."""
    kind = dialled.prefix_kind(value) if isinstance(value, str) else None
    if kind is None:
        if isinstance(value, str) and value.endswith(dialled.EXACT) and value[:-1].isascii() and value[:-1].isdigit():
            raise _refuse(f"an exact rate of digits is for destinations of fewer than {dialled.MIN_NUMBER_DIGITS} "
                          "digits (a menu key); a number is priced by its prefix", value)
        raise _refuse("must be a string of digits 0-9, or a code: letters, digits, *, #, ., _ or - with a * or # "
                      "among them, or ending in $ for an exact code", value)
    value = cast(str, value)  # a kind was found: it is text
    if len(value) > limits.MAX_PREFIX_LENGTH:
        unit = "digits" if kind == "number" else "characters"
        raise _refuse(f"a prefix has at most {limits.MAX_PREFIX_LENGTH} {unit}", value)
    return value


def whole_number(value: object, minimum: int, maximum: int = limits.UINT32_MAX) -> int:
    """A whole number of seconds in [minimum, maximum]; the default maximum is what the UInt32
    billed-seconds columns hold."""
    rule = f"must be a whole number >= {minimum}"
    if isinstance(value, bool) or isinstance(value, float):
        raise _refuse(rule, value)
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()):
            raise _refuse(rule, value)
        if len(text) > 20:  # int() of a huge text is slow, and it is out of range anyway
            raise _refuse(f"must be a whole number <= {maximum}", value)
        value = int(text)
    if not isinstance(value, int) or value < minimum:
        raise _refuse(rule, value)
    if value > maximum:
        raise _refuse(f"must be a whole number <= {maximum}", value)
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
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
        raise _refuse(f"{rule}, in the years 1-9999 in UTC", value) from None


def whole_second_instant(value: object) -> datetime:
    """A rate's effective_from: the index compares whole seconds, so a fraction of a second would
    let a call made in that fraction take the rate early. Refused rather than rounded."""
    moment = instant(value)
    if moment.microsecond:
        raise _refuse("must be a whole second (no fraction of a second)", value)
    return moment


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


# deliberately simple: a typo'd address is its owner's business, a missing "@" is an input error
EMAIL_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email_address(value: object) -> str:
    """An e-mail address (name@domain.tld) or "" for none."""
    if not isinstance(value, str):
        raise _refuse("must be an e-mail address as text", value)
    text = value.strip()
    if text and (len(text) > 254 or not EMAIL_ADDRESS.match(text)):
        raise _refuse("must be an e-mail address (name@domain.tld)", value)
    return text


def destination_name(value: object) -> str:
    """A rate's destination name ("Italy mobile"), trimmed; at most MAX_DESTINATION_LENGTH characters."""
    if not isinstance(value, str):
        raise _refuse("must be a destination name as text", value)
    text = value.strip()
    if len(text) > limits.MAX_DESTINATION_LENGTH:
        raise _refuse(f"must be at most {limits.MAX_DESTINATION_LENGTH} characters", value)
    return text
