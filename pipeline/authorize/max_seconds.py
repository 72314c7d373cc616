"""How long a call may last: the largest whole number of seconds every paying party can pay.

`prices(s)` is the call priced as if it lasted s answered seconds, by the very pricing code that
will charge its CDR (increments, minimum time, grace, connection fee, rounding, DID rates), so the
hold and the charge can never disagree on a price. A price never falls as a call gets longer, so
each party's longest call is found by searching 1..cap: interpolation first (a price is nearly a
straight line in the seconds, so a guess from the two ends lands within an increment or two),
bisection whenever a guess does not halve the interval, so a search never takes more pricings than
a binary search would. Each pricing is remembered for the decision: the parties share them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

Prices = Callable[[int], Mapping[str, Decimal]]  # seconds -> {account: what he would pay}
_ZERO = Decimal(0)


@dataclass(frozen=True)
class Limit:
    max_seconds: int  # 0: not even the first billable unit is covered
    short: str | None  # the first party that cannot pay the first billable unit (when max_seconds is 0)
    first_billable: int | None  # the first second that costs anybody anything (None: free up to the cap)


def affordable(prices: Prices, free: Mapping[str, Decimal | None], cap: int, order: tuple[str, ...]) -> Limit:
    """The largest s <= cap whose price each party with a limit (free[party] not None) can pay.

    `order` says whom to name when several cannot pay (the caller before his reseller)."""
    memo: dict[int, Mapping[str, Decimal]] = {}

    def owed(seconds: int) -> Mapping[str, Decimal]:
        found = memo.get(seconds)
        if found is None:
            found = memo[seconds] = prices(seconds)
        return found

    limited = [party for party in order if free.get(party) is not None]

    def costs(seconds: int) -> bool:
        owes = owed(seconds)
        return any(owes.get(party, _ZERO) > _ZERO for party in limited)

    if not costs(cap):  # nothing to pay for a call as long as the cap (free destination, no limits)
        return Limit(cap, None, None)
    first = 1 if costs(1) else _first_true(costs, 2, cap)  # grace or free seconds come first
    owes = owed(first)
    for party in limited:
        if owes.get(party, _ZERO) > free[party]:
            return Limit(0, party, first)
    longest = cap
    for party in limited:
        longest = min(longest, _longest(lambda s, p=party: owed(s).get(p, _ZERO), free[party], first, longest))
    return Limit(longest, None, first)


def _first_true(test: Callable[[int], bool], low: int, high: int) -> int:
    """The least s in low..high where test holds; test(high) holds and test is monotone."""
    while low < high:
        middle = (low + high) // 2
        if test(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _longest(price: Callable[[int], Decimal], budget: Decimal, low: int, high: int) -> int:
    """The largest s in low..high with price(s) <= budget, given price(low) <= budget."""
    if price(high) <= budget:
        return high
    low_price, high_price = price(low), price(high)  # invariant: low fits, high does not
    interpolate = True
    while high - low > 1:
        middle = (low + high) // 2
        if interpolate and high_price > low_price:
            guess = low + int((budget - low_price) * (high - low) / (high_price - low_price))
            middle = min(max(guess, low + 1), high - 1)
        before = high - low
        cost = price(middle)
        if cost <= budget:
            low, low_price = middle, cost
        else:
            high, high_price = middle, cost
        # a guess that did not halve the interval gives way to bisection once
        interpolate = not interpolate or (high - low) * 2 <= before
    return low
