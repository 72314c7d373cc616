"""A rate turned into the integers that lookup and pricing compare and multiply.

Money stays exact without Decimal arithmetic per call: rate and connection fee become one common
denominator, so `price = (billed * rate_units + fee_units) / denominator` is integer work and a
single Decimal is made at the end. Equal rates (most of a 100,000-prefix tariff shares a few
hundred price points) compile to one shared object, which is what keeps the index small.
"""
from __future__ import annotations

from math import lcm

from pipeline.rating import rules
from pipeline.rating.reference import RateIn

FULL_DAY_END = 86399
DAY_TYPE_PRIORITY = {"WD": 0, "FD": 0, "all": 1}  # a specific day type wins a tie over "all"
ROUNDING_CODES = {"half_up": 0, "up": 1, "down": 2}  # small ints: pricing compares them per leg


class CompiledRate:
    __slots__ = ("rate", "connection_fee", "increment", "min_time", "grace_time", "effective_epoch",
                 "day_type", "start_second", "end_second", "any_time", "rate_units", "fee_units",
                 "denominator")

    def __init__(self, source: RateIn) -> None:
        self.rate = source.rate
        self.connection_fee = source.connection_fee
        self.increment = source.increment
        self.min_time = source.min_time
        self.grace_time = source.grace_time
        self.effective_epoch = rules.epoch_seconds(source.effective_from)
        self.day_type = source.day_type
        self.start_second = _second_of_day(source.start)
        self.end_second = _second_of_day(source.end)
        # Most rates apply all day every day; lookup then skips the local-time computation.
        self.any_time = source.day_type == "all" and self.start_second == 0 and self.end_second >= FULL_DAY_END
        self.rate_units, self.fee_units, self.denominator = money_units(source.rate, source.connection_fee)

    def version_key(self) -> tuple:
        """What makes two versions of one prefix different (RateIn's key without the prefix)."""
        return (self.effective_epoch, self.day_type, self.start_second, self.end_second)

    def priority(self) -> tuple:
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
                f"{self.start_second}-{self.end_second})")


def money_units(rate, connection_fee) -> tuple[int, int, int]:
    """(rate units, fee units, denominator): price = (billed * rate_units + fee_units) / denominator,
    for a rate per minute and a fee per call (either may be negative for a DID)."""
    rate_numerator, rate_denominator = rate.as_integer_ratio()
    fee_numerator, fee_denominator = connection_fee.as_integer_ratio()
    common = lcm(rate_denominator, fee_denominator)
    return rate_numerator * (common // rate_denominator), 60 * fee_numerator * (common // fee_denominator), 60 * common


def _second_of_day(moment) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


class RateCompiler:
    """Compiles rates, handing back the same object for rates equal in everything but prefix."""

    def __init__(self) -> None:
        self._shared: dict[tuple, CompiledRate] = {}

    def compile(self, source: RateIn) -> CompiledRate:
        fields = source.__dict__
        key = (fields["rate"], fields["connection_fee"], fields["increment"], fields["min_time"],
               fields["grace_time"], fields["effective_from"], fields["day_type"], fields["start"], fields["end"])
        compiled = self._shared.get(key)
        if compiled is None:
            compiled = self._shared[key] = CompiledRate(source)
        return compiled
