"""Window arithmetic and the edge trigger, pure (the agents keep the buckets in Faust tables).

A window of W seconds is BUCKETS tumbling buckets of W/BUCKETS seconds; its value at time t is
the sum of the bucket holding t and the BUCKETS-1 before it (so it covers between 5/6 W and W of
the most recent calls: it never counts a call older than W).

A bucket is a small JSON object: calls `c`, answered `a`, billsec `b`, price in micro-units `p`,
short answered calls `s`, and `w`: per partition of cdr.rated, the last offset counted. A call
delivered again after a crash (Faust is at least once: its changelog may already hold the count)
is recognised by its position and counted once.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from pipeline.schemas.alerts import BUCKETS, AlertIn

MICRO = Decimal("0.000001")
FIRED, CLEARED = "fired", "cleared"


def to_micro(amount: str | Decimal) -> int:
    return int((Decimal(amount) / MICRO).to_integral_value(ROUND_HALF_UP))


def add_call(bucket: Mapping, source: tuple[int, int], answered: bool, billsec: int, price_micro: int,
             short: bool) -> dict | None:
    """The bucket with one more call, or None when the call's position was already counted."""
    partition, offset = str(source[0]), source[1]
    seen = bucket.get("w") or {}
    if offset <= seen.get(partition, -1):
        return None
    return {
        "c": bucket.get("c", 0) + 1,
        "a": bucket.get("a", 0) + int(answered),
        "b": bucket.get("b", 0) + (billsec if answered else 0),
        "p": bucket.get("p", 0) + price_micro,
        "s": bucket.get("s", 0) + int(short),
        "w": {**seen, partition: offset},
    }


@dataclass(frozen=True, slots=True)
class Totals:
    calls: int = 0
    answered: int = 0
    billsec: int = 0
    price_micro: int = 0
    short: int = 0


def totals(buckets: Iterable[Mapping]) -> Totals:
    calls = answered = billsec = price = short = 0
    for bucket in buckets:
        if bucket:
            calls += bucket.get("c", 0)
            answered += bucket.get("a", 0)
            billsec += bucket.get("b", 0)
            price += bucket.get("p", 0)
            short += bucket.get("s", 0)
    return Totals(calls, answered, billsec, price, short)


def metric_value(metric: str, window: Totals) -> Decimal | None:
    """The metric over a window; None where it is undefined (a ratio of no calls)."""
    if metric == "calls":
        return Decimal(window.calls)
    if metric == "answered":
        return Decimal(window.answered)
    if metric == "failed":
        return Decimal(window.calls - window.answered)
    if metric == "billsec_sum":
        return Decimal(window.billsec)
    if metric == "price_sum":
        return Decimal(window.price_micro) * MICRO
    if metric == "asr":
        return None if not window.calls else _six(Decimal(100 * window.answered) / window.calls)
    if metric == "acd":
        return None if not window.answered else _six(Decimal(window.billsec) / window.answered)
    if metric == "short_call_ratio":
        return None if not window.answered else _six(Decimal(100 * window.short) / window.answered)
    raise ValueError(f"not a windowed metric: {metric}")


def _six(value: Decimal) -> Decimal:
    return value.quantize(MICRO, ROUND_HALF_UP)


def judge(alert: AlertIn, value: Decimal | None, calls: int, fired: bool) -> str | None:
    """FIRED or CLEARED when this value flips the alert's state, else None (edge-triggered).

    Fewer than min_calls calls in the window (or an undefined value) judges nothing either way:
    the ASR of two calls neither fires nor clears an alert."""
    if value is None or calls < alert.min_calls:
        return None
    if not fired:
        crossed = value > alert.threshold if alert.op == ">" else value < alert.threshold
        return FIRED if crossed else None
    back = value <= alert.clears_at if alert.op == ">" else value >= alert.clears_at
    return CLEARED if back else None


def bucket_bounds(alert: AlertIn, at_seconds: float) -> tuple[float, float]:
    """(window start, window end) in epoch seconds of the window that ends with the bucket of `at`."""
    size = alert.bucket_seconds
    end = (at_seconds // size) * size + size
    return end - size * BUCKETS, end
