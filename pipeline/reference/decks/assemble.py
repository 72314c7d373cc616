"""Deck rows to rates: one rate per code and version, a prefix's tier lines folded into its tiers.

A deck that writes a prefix's later price on a line of its own (a `from_seconds` column, as
CGRateS' GroupIntervalStart rows do) has its lines of one prefix and version folded: the line from
second 0 is the rate, the others its tiers, in the order of their first second. Any other repeat of
a prefix with the same effective_from, day type and window is an error naming both lines.

Values reach here already checked by the field rules, so rates are built the way the CSV reader
builds them (csv_rates.construct_rate, ~2 us a rate), field by field in RateIn's order.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, time

from pipeline.reference.csv_rates import construct_rate
from pipeline.reference.decks.errors import DeckError
from pipeline.reference.decks.pricing import Pricing
from pipeline.schemas import tier_rules
from pipeline.schemas.reference import DEFAULT_EFFECTIVE_FROM, DEFAULT_END, DEFAULT_START, RateIn, RateTier

FIELDS_SET = frozenset(RateIn.model_fields)


@dataclass
class Rows:
    """A deck's rows, column by column (None: the deck has no such column)."""
    files: list[str] | str  # one name for a one-file deck, else the file of each row
    lines: list[int]
    codes: list[tuple[str, ...]]
    pricing: list[Pricing]
    destination: list[str] | None = None
    effective_from: list[datetime | None] | None = None
    day_type: list[str | None] | None = None
    start: list[time | None] | None = None
    end: list[time | None] | None = None
    from_seconds: list[int | None] | None = None
    labels: dict[str, str] = field(default_factory=dict)  # field -> the column that holds it, for errors
    repeat_hint: str = ""
    extra: dict[str, list] = field(default_factory=dict)  # a layout's own parsed columns (A2Billing's stopdate)

    def file(self, row: int) -> str:
        return self.files if isinstance(self.files, str) else self.files[row]

    def refuse(self, row: int, field_name: str | None, rule: str) -> DeckError:
        column = self.labels.get(field_name, field_name) if field_name else None
        return DeckError(self.file(row), self.lines[row], column, rule)


def concat(parts: list[Rows]) -> Rows:
    """The rows of several files as one deck, so that a repeat across files is found too."""
    if len(parts) == 1:
        return parts[0]
    counts = [len(part.lines) for part in parts]

    def joined(name: str) -> list | None:
        if all(getattr(part, name) is None for part in parts):
            return None
        return [value for part, count in zip(parts, counts) for value in (getattr(part, name) or [None] * count)]

    files = [part.file(row) for part in parts for row in range(len(part.lines))]
    labels = {name: column for part in reversed(parts) for name, column in part.labels.items()}
    return Rows(files, joined("lines"), joined("codes"), joined("pricing"), destination=joined("destination"),
                effective_from=joined("effective_from"), day_type=joined("day_type"), start=joined("start"),
                end=joined("end"), from_seconds=joined("from_seconds"), labels=labels, repeat_hint=parts[0].repeat_hint)


def build_rates(rows: Rows) -> tuple[RateIn, ...]:
    count = len(rows.lines)
    versions = _versions(rows, count)
    firsts = rows.from_seconds or [None] * count
    base_of: dict[tuple, int] = {}  # version key -> the row of its rate
    tiers_of: dict[tuple, list[int]] = {}  # version key -> its tier rows
    for row, (codes, version, first) in enumerate(zip(rows.codes, versions, firsts)):
        for code in codes:
            key = (code, *version)
            if first:
                tiers_of.setdefault(key, []).append(row)
            elif key in base_of:
                raise rows.refuse(row, "prefix", f"repeats line {rows.lines[base_of[key]]} of {rows.file(base_of[key])} "
                                  f"for {code or 'every destination'} (same prefix, effective_from, day type and "
                                  f"window){rows.repeat_hint}")
            else:
                base_of[key] = row
    for key, tier_rows in tiers_of.items():
        if key not in base_of:
            row = tier_rows[0]
            raise rows.refuse(row, "from_seconds", f"is a tier of prefix {key[0]} from second {firsts[row]}, but no line "
                              "gives its price from second 0")
    destinations = rows.destination or [""] * count
    pricing_of = rows.pricing
    rates = []
    for key, row in base_of.items():  # in the order of the lines
        pricing = pricing_of[row]
        tiers = _folded(rows, row, pricing, tiers_of[key], firsts) if key in tiers_of else pricing.tiers
        code, effective_from, day_type, start, end = key
        rates.append(construct_rate({
            "prefix": code, "rate": pricing.rate, "connection_fee": pricing.connection_fee,
            "increment": pricing.increment, "min_time": pricing.min_time, "grace_time": pricing.grace_time,
            "effective_from": effective_from, "day_type": day_type, "start": start, "end": end,
            "destination": destinations[row] or "", "tiers": tiers}, FIELDS_SET))
    return tuple(rates)


def _versions(rows: Rows, count: int) -> list[tuple] | itertools.repeat:
    """Each row's (effective_from, day type, start, end), the defaults filled in; windows checked."""
    default = (DEFAULT_EFFECTIVE_FROM, "all", DEFAULT_START, DEFAULT_END)
    if rows.effective_from is None and rows.day_type is None and rows.start is None and rows.end is None:
        return itertools.repeat(default, count)
    nothing = [None] * count
    versions = []
    for row, (effective, day, start, end) in enumerate(zip(rows.effective_from or nothing, rows.day_type or nothing,
                                                           rows.start or nothing, rows.end or nothing)):
        start, end = start or DEFAULT_START, end or DEFAULT_END
        if start > end:
            raise rows.refuse(row, "end", f"start {start} is after end {end}; split a window crossing midnight in two")
        versions.append((effective or DEFAULT_EFFECTIVE_FROM, day or "all", start, end))
    return versions


def _folded(rows: Rows, base: int, pricing: Pricing, tier_rows: list[int], firsts: list) -> tuple[RateTier, ...]:
    if pricing.tiers:
        raise rows.refuse(tier_rows[0], "from_seconds", f"is a tier of line {rows.lines[base]}, whose billing "
                          "blocks already make tiers: give that prefix's tiers one way")
    tier_rows = sorted(tier_rows, key=firsts.__getitem__)
    tiers = []
    for row in tier_rows:
        part = rows.pricing[row]
        if part.tiers or part.min_time or part.grace_time:
            raise rows.refuse(row, "from_seconds", "a tier line gives a rate and an increment only (its minimum, "
                              "grace and first block are the first line's)")
        if part.connection_fee and part.connection_fee != pricing.connection_fee:
            raise rows.refuse(row, "connection_fee", f"a call pays one connection fee: give it on line "
                              f"{rows.lines[base]}, the prefix's line from second 0")
        tiers.append(RateTier(from_seconds=firsts[row], rate=part.rate, increment=part.increment))
    layout = [(tier.from_seconds, tier.increment) for tier in tiers]
    try:
        tier_rules.tier_layout(pricing.increment, layout)
    except tier_rules.TierLayoutError as error:
        raise rows.refuse(tier_rows[error.position or 0], "from_seconds", str(error)) from None
    return tuple(tiers)
