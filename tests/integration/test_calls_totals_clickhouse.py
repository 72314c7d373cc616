"""The calls page's and the usage page's SQL on the real ClickHouse (queries.call_totals,
queries.user_stats, queries.latest_call and CallFilter), against sums computed here from the rows
themselves: FINAL counts a redelivered call once, a filter narrows the totals and the rows alike,
and a reseller's sums never hold another reseller's calls."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from pipeline.api.clickhouse_store import ClickHouseCalls
from pipeline.api.queries import CallFilter, Period
from pipeline.api.visibility import Scope
from pipeline.sinks.clickhouse import ClickHouseWriter
from pipeline.sinks.migrate import migrate
from pipeline.sinks.rows import row_from_record
from tests.unit.sinks.rated_example import example_record

pytestmark = pytest.mark.clickhouse
PERIOD = Period(date(2025, 11, 1), date(2025, 11, 30))
# call id, account, reseller, day, src, billsec, disposition, user, reseller price, provider, r profit, a profit
CALLS = [
    ("a1", "u1", "r1", 3, "3706000", 60, "ANSWERED", "2.000000", "1.200000", "0.300000", "0.800000", "0.900000"),
    ("a2", "u1", "r1", 5, "3706999", 125, "ANSWERED", "4.333333", "2.500000", "0.600000", "1.833333", "1.900000"),
    ("a3", "u1", "r1", 5, "4420000", 0, "BUSY", "0", "0", "0", "0", "0"),
    ("a4", "u2", "r1", 9, "3706111", 7, "ANSWERED", "0.233333", "0.140000", "0.035000", "0.093333", "0.105000"),
    ("b1", "u9", "r2", 9, "3706000", 100, "ANSWERED", "3.333333", "1.111111", "0.300000", "2.222222", "0.811111"),
    ("d1", "d1", "", 12, "3706000", 60, "ANSWERED", "1.500000", "0", "0.300000", "0", "1.200000"),
    ("late", "u1", "r1", 40, "3706000", 60, "ANSWERED", "2.000000", "1.200000", "0.300000", "0.800000", "0.900000"),
]


def row(call_id, account, reseller, day, src, billsec, disposition, user, res, prov, r_profit, a_profit):
    start = datetime(2025, 11, day, 10, 0, tzinfo=timezone.utc) if day <= 30 else \
        datetime(2025, 12, day - 30, 10, 0, tzinfo=timezone.utc)
    millis = int(start.timestamp() * 1000)
    return row_from_record(example_record(
        call_id=call_id, account=account, reseller=reseller, start_time=millis, rated_at=millis + 1000, src=src,
        billsec=billsec, user_billed_seconds=billsec, disposition=disposition, user_price=user, reseller_price=res,
        provider_price=prov, reseller_profit=r_profit, admin_profit=a_profit))


@pytest.fixture
def calls(settings_factory):
    settings = settings_factory()
    migrate(settings)
    writer = ClickHouseWriter(settings)
    rows = [row(*c) for c in CALLS]
    writer.write(rows)
    writer.write(rows[:2])  # redelivered: FINAL counts each once
    writer.close()
    return ClickHouseCalls(settings)


def expected(keep) -> dict:
    picked = [c for c in CALLS if c[3] <= 30 and keep(c)]
    return {"calls": len(picked), "answered": sum(c[5] > 0 for c in picked), "billsec_total": sum(c[5] for c in picked),
            "user_price": sum((Decimal(c[7]) for c in picked), Decimal(0)),
            "reseller_price": sum((Decimal(c[8]) for c in picked), Decimal(0)),
            "profit": sum((Decimal(c[10]) for c in picked), Decimal(0))}


def test_a_resellers_totals_are_his_calls_counted_once(calls):
    [totals] = calls.totals(Scope("reseller", "r1"), PERIOD, None).dicts()
    assert {k: totals[k] for k in expected(lambda c: True)} == expected(lambda c: c[2] == "r1")
    assert "provider_price" not in totals


@pytest.mark.parametrize("filters, keep", [
    (CallFilter(disposition="ANSWERED"), lambda c: c[6] == "ANSWERED"),
    (CallFilter(src_prefix="3706"), lambda c: c[4].startswith("3706")),
    (CallFilter(min_billsec=61), lambda c: c[5] >= 61),
    (CallFilter("ANSWERED", "37069", 10), lambda c: c[6] == "ANSWERED" and c[4].startswith("37069") and c[5] >= 10),
])
def test_filters_narrow_the_totals_and_the_rows_alike(calls, filters, keep):
    scope = Scope("reseller", "r1")
    [totals] = calls.totals(scope, PERIOD, None, filters).dicts()
    wanted = expected(lambda c: c[2] == "r1" and keep(c))
    assert {k: totals[k] for k in wanted} == wanted
    rows = calls.calls(scope, PERIOD, 100, 0, None, filters).dicts()
    assert sorted(r["call_id"] for r in rows) == sorted(c[0] for c in CALLS if c[3] <= 30 and c[2] == "r1" and keep(c))


def test_the_admins_totals_and_usage_per_reseller_and_account(calls):
    [totals] = calls.totals(Scope("admin", "admin"), PERIOD, None).dicts()
    everyone = [c for c in CALLS if c[3] <= 30]
    assert totals["calls"] == len(everyone)
    assert totals["profit"] == sum((Decimal(c[11]) for c in everyone), Decimal(0))
    assert totals["provider_price"] == sum((Decimal(c[9]) for c in everyone), Decimal(0))
    usage = {(r["reseller"], r["account"]): r for r in calls.user_stats(Scope("admin", "admin"), PERIOD).dicts()}
    assert set(usage) == {("r1", "u1"), ("r1", "u2"), ("r2", "u9"), ("", "d1")}
    u1 = usage[("r1", "u1")]
    assert (u1["calls"], u1["answered"], u1["billsec_total"]) == (3, 2, 185)
    assert (u1["revenue"], u1["cost"], u1["profit"]) == (Decimal("3.7"), Decimal("0.9"), Decimal("2.8"))
    assert usage[("", "d1")]["revenue"] == Decimal("1.5")  # a direct user's price reaches the admin


def test_a_resellers_usage_is_his_users_only(calls):
    usage = {r["account"]: r for r in calls.user_stats(Scope("reseller", "r1"), PERIOD).dicts()}
    assert set(usage) == {"u1", "u2"}
    assert (usage["u1"]["revenue"], usage["u1"]["cost"], usage["u1"]["profit"]) == \
        (Decimal("6.333333"), Decimal("3.7"), Decimal("2.633333"))


def test_the_newest_call_is_found_in_the_scope(calls):
    within = Period(date(2025, 1, 1), date(2025, 12, 31))
    assert calls.latest(Scope("reseller", "r1"), within) == datetime(2025, 12, 10, 10, 0, tzinfo=timezone.utc)
    assert calls.latest(Scope("reseller", "r2"), within) == datetime(2025, 11, 9, 10, 0, tzinfo=timezone.utc)
    assert calls.latest(Scope("reseller", "r9"), within) is None
