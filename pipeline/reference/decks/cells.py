"""Cells of a deck as carriers write them, turned into the values of a rate.

Each parser takes the cell's text (already stripped) and returns the value, None for an empty cell
(the field's default), or raises ValueError with the rule, as pipeline/schemas/field_rules does.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from pipeline.schemas import field_rules, limits

CODE_SEPARATORS = re.compile(r"[,;]")
_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]*,[0-9]+\Z")
_WHOLE_WITH_ZEROS = re.compile(r"([0-9]+)\.0*\Z")  # "60.00" from a spreadsheet
_GO_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(h|ms|m|s|us|µs|ns)")
NANOSECONDS = {"h": 3600 * 10**9, "m": 60 * 10**9, "s": 10**9, "ms": 10**6, "us": 10**3, "µs": 10**3, "ns": 1}


def prefix(text: str) -> str:
    """A dial code: spaces dropped, a leading "+" or "00" (international format) dropped, ASTPP's
    pattern form "^370.*" read as 370."""
    # the common case first, without the general rule's work (a deck has a million of these)
    code = text[1:] if text[:1] == "+" else text[2:] if text[:2] == "00" else text
    if code.isdigit() and code.isascii() and len(code) <= limits.MAX_PREFIX_LENGTH:
        return code
    code = text.replace(" ", "")
    if code.startswith("^"):
        code = code[1:].removesuffix(".*")
    if code.startswith("+"):
        code = code[1:]
    elif code.startswith("00"):
        code = code[2:]
    if not code:
        raise ValueError(f'must be a dial code of digits 0-9 (got "{text}")')
    return field_rules.prefix(code)


def prefixes(text: str) -> tuple[str, ...]:
    """One code, or several in one cell ("370, 3706"): A-Z decks list a destination's codes so."""
    if "," not in text and ";" not in text:
        return (prefix(text),)
    codes = tuple(prefix(part.strip()) for part in CODE_SEPARATORS.split(text) if part.strip())
    if not codes:
        raise ValueError(f'must be a dial code of digits 0-9 (got "{text}")')
    return codes


def money(text: str, decimal_comma: bool = False) -> Decimal | None:
    """A rate or a fee; "0,0123" in a ";"-separated deck (a European spreadsheet's decimal comma)."""
    if not text:
        return None
    if decimal_comma and _DECIMAL_COMMA.match(text):
        text = text.replace(",", ".")
    return field_rules.rate_money(text)


def seconds(text: str) -> int | None:
    """Whole seconds >= 0; "60.00" (a spreadsheet's number) is 60."""
    if not text:
        return None
    whole = _WHOLE_WITH_ZEROS.match(text)
    return field_rules.at_least_zero(whole.group(1) if whole else text)


def instant(text: str) -> datetime | None:
    """A date-time (ISO, "2026-01-01 00:00:00" too) or a date (its midnight, UTC); "0" is none."""
    if not text or text == "0":
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return field_rules.whole_second_instant(text)
    return datetime(day.year, day.month, day.day, tzinfo=field_rules.UTC)


def go_duration(text: str) -> int:
    """Whole seconds from a CGRateS duration ("60s", "1m", "1m30s", "0s"). A bare number is
    nanoseconds to CGRateS (utils.ParseDurationWithNanosecs), so only "0" is taken bare."""
    if text in ("", "0"):
        return 0
    if text.isdigit():
        raise ValueError(f'"{text}" is {text} ns to CGRateS: write the unit, such as {text}s')
    total, position = Decimal(0), 0
    for match in _GO_DURATION_PART.finditer(text):
        if match.start() != position:
            break
        total += Decimal(match.group(1)) * NANOSECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or position == 0:
        raise ValueError(f'must be a duration such as 60s, 1m or 1m30s (got "{text}")')
    whole, fraction = divmod(total, 10**9)
    if fraction:
        raise ValueError(f'must be whole seconds (got "{text}")')
    return int(whole)
