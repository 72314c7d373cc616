"""A rate turned into the integers that lookup and pricing compare and multiply.

Money stays exact without Decimal arithmetic per call: rate and connection fee become one common
denominator, so `price = (billed * rate_units + fee_units) / denominator` is integer work and a
single Decimal is made at the end. A tiered rate puts its tiers' rates over the same denominator
(`tiers`: rating/tiers.py steps; None for a flat rate, which keeps the one-multiplication path).
Equal rates (most of a 100,000-prefix tariff shares a few hundred price points) compile to one
shared object, which is what keeps the index small.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import time
from decimal import Decimal
from math import lcm

from pipeline.rating.tiers import Step, compile_steps
from pipeline.schemas import field_rules
from pipeline.schemas.reference import RateIn, RateTier

FULL_DAY_END = 86399
FLAT = 2**62  # flat_until of a flat rate: past any call
DAY_TYPE_PRIORITY = {"WD": 0, "FD": 0, "all": 1}  # a specific day type wins a tie over "all"
ROUNDING_CODES = {"half_up": 0, "up": 1, "down": 2}  # small ints: pricing compares them per leg


class CompiledRate:
    __slots__ = ("rate", "connection_fee", "increment", "min_time", "grace_time", "effective_epoch",
                 "day_type", "start_second", "end_second", "any_time", "rate_units", "fee_units",
                 "denominator", "tiers", "flat_until")

    def __init__(self, source: RateIn) -> None:
        self.rate = source.rate
        self.connection_fee = source.connection_fee
        self.increment = source.increment
        self.min_time = source.min_time
        self.grace_time = source.grace_time
        self.effective_epoch = field_rules.epoch_seconds(source.effective_from)
        self.day_type = source.day_type
        self.start_second = _second_of_day(source.start)
        self.end_second = _second_of_day(source.end)
        # Most rates apply all day every day; lookup then skips the local-time computation.
        self.any_time = source.day_type == "all" and self.start_second == 0 and self.end_second >= FULL_DAY_END
        self.rate_units, self.fee_units, self.denominator, self.tiers = tiered_money_units(
            source.rate, source.connection_fee, source.increment, source.tiers)
        # The longest call priced by the rate's own rate alone: any call for a flat rate; for a
        # tiered one, a call within its first tier (whose blocks end at the second tier's start),
        # unless min_time reaches past it. The chain takes the one-multiplication path up to here.
        first_span = source.tiers[0].from_seconds if source.tiers else FLAT
        self.flat_until = first_span if source.min_time <= first_span else -1

    def version_key(self) -> tuple[int, str, int, int]:
        """What makes two versions of one prefix different (RateIn's key without the prefix)."""
        return (self.effective_epoch, self.day_type, self.start_second, self.end_second)

    def priority(self) -> tuple[int, int, int, int]:
        """Sort key within one prefix: newest first, then specific day type, then narrower window."""
        return (-self.effective_epoch, DAY_TYPE_PRIORITY[self.day_type],
                self.end_second - self.start_second, self.start_second)

    def applies_at(self, weekday_is_free_day: bool, second_of_day: int) -> bool:
        if self.day_type == "WD" and weekday_is_free_day or self.day_type == "FD" and not weekday_is_free_day:
            return False
        return self.start_second <= second_of_day <= self.end_second

    def __repr__(self) -> str:
        return (f"CompiledRate(rate={self.rate}, fee={self.connection_fee}, {self.increment}/"
                f"{self.min_time}/{self.grace_time}, from={self.effective_epoch}, {self.day_type} "
                f"{self.start_second}-{self.end_second}" + (f", tiers={self.tiers}" if self.tiers else "") + ")")


def money_units(rate: Decimal, connection_fee: Decimal) -> tuple[int, int, int]:
    """(rate units, fee units, denominator): price = (billed * rate_units + fee_units) / denominator,
    for a rate per minute and a fee per call (either may be negative for a DID)."""
    rate_numerator, rate_denominator = rate.as_integer_ratio()
    fee_numerator, fee_denominator = connection_fee.as_integer_ratio()
    common = lcm(rate_denominator, fee_denominator)
    return rate_numerator * (common // rate_denominator), 60 * fee_numerator * (common // fee_denominator), 60 * common


def tiered_money_units(rate: Decimal, connection_fee: Decimal, increment: int,
                       tiers: Sequence[RateTier]) -> tuple[int, int, int, tuple[Step, ...] | None]:
    """money_units with the tiers' rates over the same denominator: (rate units, fee units,
    denominator, steps or None). `tiers` are RateTier-like (from_seconds, rate, increment)."""
    if not tiers:
        return (*money_units(rate, connection_fee), None)
    ratios = [money.as_integer_ratio() for money in (rate, connection_fee, *(tier.rate for tier in tiers))]
    common = lcm(*(denominator for _, denominator in ratios))
    units = [numerator * (common // denominator) for numerator, denominator in ratios]
    steps = compile_steps(increment, units[0], [(tier.from_seconds, tier.increment, tier_units)
                                                 for tier, tier_units in zip(tiers, units[2:])])
    return units[0], 60 * units[1], 60 * common, steps


def _second_of_day(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


class RateCompiler:
    """Compiles rates, handing back the same object for rates equal in everything but prefix."""

    def __init__(self) -> None:
        self._shared: dict[tuple[object, ...], CompiledRate] = {}

    def compile(self, source: RateIn) -> CompiledRate:
        fields = source.__dict__
        key = (fields["rate"], fields["connection_fee"], fields["increment"], fields["min_time"],
               fields["grace_time"], fields["effective_from"], fields["day_type"], fields["start"], fields["end"],
               fields.get("tiers", ()))
        compiled = self._shared.get(key)
        if compiled is None:
            compiled = self._shared[key] = CompiledRate(source)
        return compiled
