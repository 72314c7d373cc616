"""Rules of a rate's tiers: another price per minute, and another increment, from a given second of
the call on (docs/tiers.md).

A rate's first tier is its own `rate` and `increment` from second 0; `tiers` lists the ones after it.
Each tier starts after the one before, and each tier but the last spans a whole number of its own
increments: a billing block never reaches into the next tier, so a call that passes a tier pays
exactly that tier's span, and only the tier a call ends in rounds up (CGRateS refuses a rating whose
next GroupIntervalStart is not a multiple of the previous increment, for the same reason).
"""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pipeline.schemas import field_rules

MAX_TIERS = 16  # after the first: carrier decks have two or three, so more is a mistake
CELL_SEPARATOR = "|"  # between tiers in a CSV cell: "60:0.01:1|300:0.005:1"
PART_SEPARATOR = ":"  # FROM_SECONDS:RATE[:INCREMENT]


class TierLayoutError(ValueError):
    """A tier out of place; `position` is its index in `tiers` (None: the list as a whole)."""

    def __init__(self, message: str, position: int | None) -> None:
        super().__init__(message)
        self.position = position


def tier_start(value: object) -> int:
    """A tier's first second: >= 1, since second 0 belongs to the rate's own first tier."""
    return field_rules.whole_number(value, 1)


def tier_layout(increment: int, tiers: Sequence[tuple[int, int]]) -> None:
    """`tiers`: (from_seconds, increment) of each tier after the first, whose increment is
    `increment`. Raises ValueError naming the tier (tiers[N], 0-based as in the JSON list)."""
    if len(tiers) > MAX_TIERS:
        raise TierLayoutError(f"a rate has at most {MAX_TIERS} tiers after its first (got {len(tiers)})", None)
    start, step, owner = 0, increment, "the rate's own increment"
    for position, (from_seconds, tier_increment) in enumerate(tiers):
        if from_seconds <= start:
            raise TierLayoutError(f"tiers[{position}].from_seconds {from_seconds} must be after {start}: tiers are "
                                  "listed by their first second, ascending", position)
        if (from_seconds - start) % step:
            after = f"{start} plus " if start else ""
            raise TierLayoutError(f"tiers[{position}].from_seconds {from_seconds} must be {after}a whole number of "
                                  f"{owner} ({step} s): a billing block may not reach into the next tier", position)
        start, step, owner = from_seconds, tier_increment, f"tiers[{position}].increment"


def tier_signs(rate: Decimal, tier_rates: Sequence[Decimal]) -> None:
    """A DID rate may be negative, but not positive in one tier and negative in another: its price
    must never fall as a call gets longer (authorization searches the longest affordable call)."""
    rates = (rate, *tier_rates)
    if any(r > 0 for r in rates) and any(r < 0 for r in rates):
        raise ValueError("a DID rate's tiers must all have the sign of its rate (a price that rises and then "
                         "falls would make a longer call cheaper)")


def tiers_cell(value: object) -> tuple[tuple[int, Decimal, int], ...]:
    """A CSV `tiers` cell: FROM_SECONDS:RATE[:INCREMENT] per tier (increment 1 when left out),
    tiers joined by "|"; an empty cell is a rate without tiers."""
    if not isinstance(value, str):
        raise ValueError(f'must be tiers as text such as "60:0.01:1|300:0.005" (got "{value}")')
    text = value.strip()
    if not text:
        return ()
    parts = text.split(CELL_SEPARATOR)
    if len(parts) > MAX_TIERS:
        raise ValueError(f"a rate has at most {MAX_TIERS} tiers after its first (got {len(parts)})")
    tiers = []
    for number, part in enumerate(parts, start=1):
        fields = part.split(PART_SEPARATOR)
        if len(fields) not in (2, 3):
            shown = part if len(part) <= 40 else part[:40] + "..."
            raise ValueError(f'tier {number} "{shown}" must be FROM_SECONDS:RATE or FROM_SECONDS:RATE:INCREMENT, '
                             'tiers joined by "|"')
        try:
            tiers.append((tier_start(fields[0]), field_rules.rate_money(fields[1]),
                          field_rules.at_least_one(fields[2]) if len(fields) == 3 else 1))
        except ValueError as error:
            what = ("from_seconds", "rate", "increment")[_failed_part(fields)]
            raise ValueError(f"tier {number} {what} {error}") from None
    return tuple(tiers)


def _failed_part(fields: list[str]) -> int:
    """Which part of a tier the rules refused (they are tried in order)."""
    for index, rule in enumerate((tier_start, field_rules.rate_money, field_rules.at_least_one)):
        if index < len(fields):
            try:
                rule(fields[index])
            except ValueError:
                return index
    return 0


def format_tiers_cell(tiers: Sequence[tuple[int, Decimal, int]]) -> str:
    """The CSV cell tiers_cell reads back: "60:0.01:1|300:0.005:1"."""
    return CELL_SEPARATOR.join(f"{start}{PART_SEPARATOR}{rate}{PART_SEPARATOR}{increment}"
                               for start, rate, increment in tiers)
