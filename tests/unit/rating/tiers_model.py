"""An independent model of tiered pricing (docs/tiers.md), per second in plain Decimal, and the
hypothesis strategy of valid tiered rates. Shared by the tier tests of rating, DIDs and
authorization; it imports nothing of the engine.

The model walks a call the way a switch's billing does: blocks one after another from second 0,
each as long as the increment of the tier it starts in, until the call's seconds are covered; then
min_time; then every billed second costs the rate of the tier it lies in, per second (rate / 60).
"""
from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, localcontext

from hypothesis import strategies as st

ROUNDINGS = {"half_up": ROUND_HALF_UP, "up": ROUND_UP, "down": ROUND_DOWN}


def tier_list(rate: dict) -> list[tuple[int, Decimal, int]]:
    """(from_seconds, rate per minute, increment) of every tier, the first one included."""
    first = (0, Decimal(str(rate["rate"])), rate.get("increment", 1))
    return [first, *((t["from_seconds"], Decimal(str(t["rate"])), t.get("increment", 1)) for t in rate.get("tiers", ()))]


def tier_at(tiers: list[tuple[int, Decimal, int]], second: int) -> tuple[int, Decimal, int]:
    """The tier second `second` (0-based) lies in."""
    return [tier for tier in tiers if tier[0] <= second][-1]


def model_billed(rate: dict, billsec: int) -> int:
    if billsec <= 0 or billsec <= rate.get("grace_time", 0):
        return 0
    tiers = tier_list(rate)
    position = 0
    while position < billsec:
        position += tier_at(tiers, position)[2]
    return max(position, rate.get("min_time", 0))


def model_price(rate: dict, billsec: int, decimals: int = 6, rounding: str = "half_up") -> tuple[int, Decimal]:
    """(billed seconds, price rounded once)."""
    quantum = Decimal(1).scaleb(-decimals)
    billed = model_billed(rate, billsec)
    if billed == 0:
        return 0, Decimal(0).quantize(quantum)
    tiers = tier_list(rate)
    with localcontext() as context:
        context.prec = 200
        exact = sum(tier_at(tiers, second)[1] for second in range(billed)) / 60
        exact += Decimal(str(rate.get("connection_fee", "0")))
        return billed, exact.quantize(quantum, rounding=ROUNDINGS[rounding])


money = st.decimals(min_value=Decimal("0"), max_value=Decimal("5"), places=4).map(str)


@st.composite
def tiered_rates(draw, money=money, max_tiers: int = 4) -> dict:
    """A rate dict (the JSON form) with 0..max_tiers valid tiers: each tier starts a whole number of
    the previous tier's increments after the previous start."""
    increment = draw(st.sampled_from([1, 6, 10, 30, 60]))
    rate = {"rate": draw(money), "connection_fee": draw(st.sampled_from(["0", "0.05", "0.2", "0.0333"])),
            "increment": increment, "min_time": draw(st.sampled_from([0, 0, 5, 30, 61, 90, 200])),
            "grace_time": draw(st.sampled_from([0, 0, 3, 10]))}
    tiers, start, step = [], 0, increment
    for _ in range(draw(st.integers(0, max_tiers))):
        start += step * draw(st.integers(1, 4))
        step = draw(st.sampled_from([1, 6, 10, 30, 60]))
        tiers.append({"from_seconds": start, "rate": draw(money), "increment": step})
    if tiers:
        rate["tiers"] = tiers
    return rate
