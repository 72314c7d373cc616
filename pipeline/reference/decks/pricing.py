"""Billing rules of other systems, written as a rate of ours priced exactly the same (docs/tiers.md).

- Carrier / ASTPP blocks: `free` seconds at no cost (ASTPP's "Grace Time", its includedseconds,
  which it subtracts from every call), then a first block of `first` seconds, then blocks of `then`
  seconds counted from the end of the first block (ASTPP's calc_cost). "30/6" is first 30, then 6.
- A2Billing's flat rate: a call shorter than `initblock` bills initblock; a longer one is rounded
  up to `billingblock` as a whole (Class.RateEngine.php rate_engine_calculcost).
- A2Billing's progressive rate: cycles a, b, c, each `chargeX` per minute for `timechargeX`
  seconds in blocks of `billingblockX`; what is left after the last cycle is not charged.

Where a rule is a plain min_time and increment (the first block a whole number of the next blocks)
the rate stays flat and takes the fast path; otherwise it becomes tiers whose blocks fall exactly
where the other system's do.
"""
from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from pipeline.schemas import tier_rules
from pipeline.schemas.reference import RateTier

ZERO = Decimal(0)


class Pricing(NamedTuple):
    """The pricing fields of a RateIn."""
    rate: Decimal
    connection_fee: Decimal
    increment: int
    min_time: int
    grace_time: int
    tiers: tuple[RateTier, ...]


def from_spans(spans: list[tuple[Decimal, int, int]], connection_fee: Decimal, min_time: int = 0,
               grace_time: int = 0) -> Pricing:
    """Spans as (rate, increment, length in seconds; 0 for the open last one), back to back from
    second 0: the first is the rate's own, the others its tiers. Raises ValueError if the layout
    rules refuse it (a span that is not a whole number of its increments)."""
    tiers, start = [], 0
    for previous, (rate, increment, _) in zip(spans, spans[1:]):
        start += previous[2]
        tiers.append(RateTier(from_seconds=start, rate=rate, increment=increment))
    tier_rules.tier_layout(spans[0][1], [(tier.from_seconds, tier.increment) for tier in tiers])
    return Pricing(spans[0][0], connection_fee, spans[0][1], min_time, grace_time, tuple(tiers))


def carrier_blocks(rate: Decimal, connection_fee: Decimal, first: int, then: int, free: int = 0,
                   min_time: int = 0, grace_time: int = 0) -> Pricing:
    """`free` seconds, a first block of `first`, then blocks of `then` (0 means 1 second)."""
    then = then or 1
    if not free and (not first or first % then == 0):  # min_time and increment say it all
        # a first block no longer than one increment changes nothing: every billed call has one
        return Pricing(rate, connection_fee, then, max(first if first > then else 0, min_time), grace_time, ())
    spans: list[tuple[Decimal, int, int]] = []
    if free:
        spans.append((ZERO, free, free))
    if first:
        spans.append((rate, first, first))
    spans.append((rate, then, 0))
    return from_spans(spans, connection_fee, min_time, grace_time)


def a2billing_flat(rate: Decimal, connection_fee: Decimal, initblock: int, billingblock: int) -> Pricing:
    """A call under initblock bills initblock; a longer one rounds up to billingblock as a whole."""
    block = billingblock or 1
    if initblock % block == 0:
        return Pricing(rate, connection_fee, block, initblock, 0, ())
    # [0, initblock) as one block, then up to the next multiple of the block, then blocks
    next_multiple = -(-initblock // block) * block
    return from_spans([(rate, initblock, initblock), (rate, next_multiple - initblock, next_multiple - initblock),
                       (rate, block, 0)], connection_fee)


def a2billing_progressive(cycles: list[tuple[Decimal, int, int]], connection_fee: Decimal, initblock: int) -> Pricing:
    """`cycles`: (charge per minute, seconds, billing block) of the cycles that apply, a first.
    The seconds after the last cycle cost nothing, as in A2Billing."""
    spans = []
    for number, (charge, length, block) in enumerate(cycles):
        block = block or 1
        if length % block:
            cycle = "abc"[number]
            raise ValueError(f"timecharge{cycle} {length} must be a whole number of billingblock{cycle} {block}: "
                             "a block may not reach into the next cycle")
        spans.append((charge, block, length))
    spans.append((ZERO, 1, 0))
    # A2Billing raises the call to initblock before its blocks round it: the minimum is initblock
    # rounded up in the cycle it falls in
    return from_spans(spans, connection_fee, min_time=_rounded_in(spans, initblock))


def _rounded_in(spans: list[tuple[Decimal, int, int]], second: int) -> int:
    start = 0
    for _, block, length in spans:
        if not length or second <= start + length:
            return start + -(-(second - start) // block) * block if second > start else second
        start += length
    return second
