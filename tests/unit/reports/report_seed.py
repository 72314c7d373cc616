"""Calls of two resellers and one direct user, with known exact sums; shared by the chdb unit
tests and the 18.16 integration tests of the reports."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from pipeline.sinks.rows import row_from_record
from tests.unit.sinks.rated_example import example_record

PERIOD = (date(2025, 11, 25), date(2025, 11, 30))


def _millis(*parts) -> int:
    return int(datetime(*parts, tzinfo=timezone.utc).timestamp() * 1000)


def call(call_id, account, reseller, day, prefix, billsec, user, reseller_price, provider, r_profit, a_profit):
    start = _millis(2025, 11, day, 10, 0) if day <= 30 else _millis(2025, 12, day - 30, 10, 0)
    return row_from_record(example_record(
        call_id=call_id, account=account, reseller=reseller, start_time=start, rated_at=start + 5000,
        user_prefix=prefix, billsec=billsec, user_billed_seconds=billsec,
        disposition="ANSWERED" if billsec else "NO ANSWER",
        user_price=user, reseller_price=reseller_price, provider_price=provider,
        reseller_profit=r_profit, admin_profit=a_profit,
    ))


ROWS = [
    call("r1-a", "u1", "r1", 25, "370", 60, "2.000000", "1.200000", "0.300000", "0.800000", "0.900000"),
    call("r1-b", "u1", "r1", 25, "370", 60, "2.000000", "1.200000", "0.300000", "0.800000", "0.900000"),
    call("r1-c", "u1", "r1", 25, "370", 60, "2.000000", "1.200000", "0.300000", "0.800000", "0.900000"),
    call("r1-d", "u1", "r1", 25, "370", 0, "0", "0", "0", "0", "0"),
    call("r1-e", "u2", "r1", 26, "44", 30, "1.000000", "0.600000", "0.150000", "0.400000", "0.450000"),
    call("r1-late", "u1", "r1", 35, "370", 60, "2.000000", "1.200000", "0.300000", "0.800000", "0.900000"),
    call("r2-a", "u9", "r2", 25, "370", 100, "3.333333", "1.111111", "0.300000", "2.222222", "0.811111"),
    call("r2-b", "u9", "r2", 27, "370", 20, "3.333333", "1.111111", "0.300000", "2.222222", "0.811111"),
    call("d1-a", "d1", "", 25, "370", 60, "1.500000", "0", "0.300000", "0", "1.200000"),
]
REDELIVERED = [ROWS[0], ROWS[6]]  # inserted a second time: FINAL must count them once

# per reseller in PERIOD: calls, user_price, reseller_price, provider_price, reseller_profit, admin_profit
EXPECTED_PROFIT = {
    "": (1, Decimal("1.5"), Decimal(0), Decimal("0.3"), Decimal(0), Decimal("1.2")),
    "r1": (5, Decimal("7"), Decimal("4.2"), Decimal("1.05"), Decimal("2.8"), Decimal("3.15")),
    "r2": (2, Decimal("6.666666"), Decimal("2.222222"), Decimal("0.6"), Decimal("4.444444"), Decimal("1.622222")),
}
