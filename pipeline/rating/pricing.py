"""Pricing one leg: billed seconds from billsec, then an exact price rounded once.

DOMAIN.md "Pricing one call at one level", rules 1-6. The arithmetic is integer: a compiled rate
carries its rate and connection fee over one common denominator, so the only Decimal made per leg
is the final rounded price. tests/unit/rating prove this equals plain Decimal arithmetic.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pipeline.rating.compiled_rate import ROUNDING_CODES, CompiledRate

POWERS_OF_TEN = tuple(10**places for places in range(7))
QUANTUM = tuple(Decimal(1).scaleb(-places) for places in range(7))  # 1, 0.1, ... 0.000001
ZERO_PRICE = tuple(Decimal(0) * quantum for quantum in QUANTUM)  # 0, 0.0, ... 0.000000


@dataclass(frozen=True, slots=True)
class LegPrice:
    prefix: str
    billed_seconds: int
    rate: Decimal  # per minute, as the tariff states it
    price: Decimal  # rounded to the tariff's decimals


def billed_seconds(billsec: int, increment: int, min_time: int, grace_time: int) -> int:
    """Seconds to charge: 0 when unanswered or within grace, else billsec rounded up to the
    increment and raised to min_time (min_time applies once, to the whole call)."""
    if billsec <= 0 or billsec <= grace_time:
        return 0
    billed = -(-billsec // increment) * increment
    return min_time if billed < min_time else billed


def price_of(rate: CompiledRate, billed: int, decimals: int, rounding_code: int) -> Decimal:
    """rate * billed / 60 + connection fee, rounded once to `decimals`. Zero billed seconds is
    free: the connection fee is charged only on a billed call."""
    if billed == 0:
        return ZERO_PRICE[decimals]
    scaled = (billed * rate.rate_units + rate.fee_units) * POWERS_OF_TEN[decimals]
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


def charge(rate: CompiledRate, billsec: int, decimals: int, rounding_code: int) -> tuple[int, Decimal]:
    """(billed seconds, price): billed_seconds and price_of in one call, for the chain's hot path."""
    if billsec <= 0 or billsec <= rate.grace_time:
        return 0, ZERO_PRICE[decimals]
    increment = rate.increment
    billed = -(-billsec // increment) * increment
    if billed < rate.min_time:
        billed = rate.min_time
    return billed, price_of(rate, billed, decimals, rounding_code)


def price_leg(rate: CompiledRate, billsec: int, decimals: int, rounding: str, prefix: str = "") -> LegPrice:
    """One leg priced; `billsec` must already be 0 for an unanswered call."""
    billed = billed_seconds(billsec, rate.increment, rate.min_time, rate.grace_time)
    return LegPrice(prefix, billed, rate.rate, price_of(rate, billed, decimals, ROUNDING_CODES[rounding]))
