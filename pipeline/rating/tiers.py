"""Tiered rates as integers: billed seconds and price units of a call through a rate's tiers.

A tiered rate compiles to a tuple of steps, one per tier, the LAST tier first:
`(from_seconds, increment, rate_units, units_before)`, where `units_before` is what the seconds
before `from_seconds` cost (each earlier tier's whole span at its own rate), over the rate's
common denominator (compiled_rate.money_units). Then for a call billed up to second `b` in the
tier that holds second b-1, its price units are `units_before + (b - from_seconds) * rate_units`:
one multiplication, as a flat rate's `b * rate_units`.

Billed seconds (docs/tiers.md): the call's last second falls in one tier; it is rounded up to that
tier's increment counted from the tier's first second (tiers before it are passed whole, and the
tier layout rule keeps a block inside its tier); min_time then raises the result, as for a flat
rate. The test against a per-second Decimal model is tests/unit/rating/test_tiers_oracle.py.
"""
from __future__ import annotations

from collections.abc import Sequence

Step = tuple[int, int, int, int]  # (from_seconds, increment, rate_units, units_before)


def compile_steps(increment: int, rate_units: int, tiers: Sequence[tuple[int, int, int]]) -> tuple[Step, ...]:
    """Steps, last tier first, from the first tier (second 0, `increment`, `rate_units`) and the
    tiers after it as (from_seconds, increment, rate_units), ascending."""
    spans = [(0, increment, rate_units), *tiers]
    steps, units_before = [], 0
    for position, (start, step_increment, step_units) in enumerate(spans):
        steps.append((start, step_increment, step_units, units_before))
        if position + 1 < len(spans):
            units_before += (spans[position + 1][0] - start) * step_units
    return tuple(reversed(steps))


def tiered_billed(steps: tuple[Step, ...], billsec: int, min_time: int) -> int:
    """Billed seconds of an answered call past its grace (billsec >= 1)."""
    for start, increment, _, _ in steps:
        if start < billsec:
            billed = start + -(-(billsec - start) // increment) * increment
            return min_time if billed < min_time else billed
    raise ValueError(f"billsec {billsec} must be >= 1")  # the first tier starts at 0


def tiered_units(steps: tuple[Step, ...], billed: int) -> int:
    """Price units of `billed` seconds (the fee not included); 0 for 0."""
    for start, _, rate_units, units_before in steps:
        if start < billed:
            return units_before + (billed - start) * rate_units
    return 0
