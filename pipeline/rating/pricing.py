"""Pricing one leg: billed seconds from billsec, then an exact price rounded once.

docs/domain.md "Pricing one call at one level", rules 1-6. The arithmetic is integer: a compiled rate
carries its rate and connection fee over one common denominator, so the only Decimal made per leg
is the final rounded price. tests/unit/rating prove this equals plain Decimal arithmetic. A tiered
rate (rate.tiers not None) bills through its tiers (rating/tiers.py); a flat rate never enters them.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from pipeline.rating.compiled_rate import ROUNDING_CODES, CompiledRate
from pipeline.rating.tiers import Step, tiered_billed, tiered_units

POWERS_OF_TEN: tuple[int, ...] = tuple(10**places for places in range(7))
QUANTUM = tuple(Decimal(1).scaleb(-places) for places in range(7))  # 1, 0.1, ... 0.000001
ZERO_PRICE = tuple(Decimal(0) * quantum for quantum in QUANTUM)  # 0, 0.0, ... 0.000000


@dataclass(frozen=True, slots=True)
class LegPrice:
    prefix: str
    billed_seconds: int
    rate: Decimal  # per minute, as the tariff states it
    price: Decimal  # rounded to the tariff's decimals


def billed_seconds(billsec: int, increment: int, min_time: int, grace_time: int) -> int:
    """Seconds to charge at a flat rate (a tiered one: charge): 0 when unanswered or within grace,
    else billsec rounded up to the increment and raised to min_time (once, to the whole call)."""
    if billsec <= 0 or billsec <= grace_time:
        return 0
    billed = -(-billsec // increment) * increment
    return min_time if billed < min_time else billed


class Priced(Protocol):
    """What charge and price_of read of a rate: a CompiledRate, or a DID rate's units (did.py)."""

    @property
    def increment(self) -> int: ...
    @property
    def min_time(self) -> int: ...
    @property
    def grace_time(self) -> int: ...
    @property
    def rate_units(self) -> int: ...
    @property
    def fee_units(self) -> int: ...
    @property
    def denominator(self) -> int: ...
    @property
    def tiers(self) -> tuple[Step, ...] | None: ...


def price_of(rate: Priced, billed: int, decimals: int, rounding_code: int) -> Decimal:
    """rate * billed / 60 + connection fee, rounded once to `decimals`. Zero billed seconds is
    free: the connection fee is charged only on a billed call."""
    if billed == 0:
        return ZERO_PRICE[decimals]
    tiers = rate.tiers
    units = billed * rate.rate_units if tiers is None else tiered_units(tiers, billed)
    scaled = (units + rate.fee_units) * POWERS_OF_TEN[decimals]
    # A DID's rates may be negative: the size is rounded, so "half up" and "up" go away from zero
    # and "down" towards it, as Decimal's ROUND_HALF_UP, ROUND_UP and ROUND_DOWN do.
    negative = scaled < 0
    units, remainder = divmod(-scaled if negative else scaled, rate.denominator)
    if remainder:
        if rounding_code == 0:
            if 2 * remainder >= rate.denominator:
                units += 1
        elif rounding_code == 1:
            units += 1
    if negative and units:
        units = -units
    return QUANTUM[decimals] * units  # exact: the int converts to Decimal first, as Decimal(units) * QUANTUM


def charge(rate: Priced, billsec: int, decimals: int, rounding_code: int) -> tuple[int, Decimal]:
    """(billed seconds, price): billed_seconds and price_of in one call, for the chain's hot path."""
    if billsec <= 0 or billsec <= rate.grace_time:
        return 0, ZERO_PRICE[decimals]
    if rate.tiers is not None:
        billed = tiered_billed(rate.tiers, billsec, rate.min_time)
        return billed, price_of(rate, billed, decimals, rounding_code)
    increment = rate.increment
    billed = -(-billsec // increment) * increment
    if billed < rate.min_time:
        billed = rate.min_time
    return billed, price_of(rate, billed, decimals, rounding_code)


def price_leg(rate: CompiledRate, billsec: int, decimals: int, rounding: str, prefix: str = "") -> LegPrice:
    """One leg priced; `billsec` must already be 0 for an unanswered call."""
    billed, price = charge(rate, billsec, decimals, ROUNDING_CODES[rounding])
    return LegPrice(prefix, billed, rate.rate, price)
