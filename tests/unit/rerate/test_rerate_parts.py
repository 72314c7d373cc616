"""The pure parts of a run: scope and its bound query, the journal of a resumed run, the invoice a
difference belongs on, the per-account table, the invoice lines."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import orjson
import pytest

from pipeline.invoices.rerate_lines import adjustments_query, lines_from_rows
from pipeline.rerate.adjustment import Invoiced, adjustment_id, adjustment_value, bill_period
from pipeline.rerate.run import Journal
from pipeline.rerate.scope import Scope, ScopeError
from pipeline.rerate.summary import RunSummary

UTC = timezone.utc
D = Decimal


def test_days_are_whole_utc_days_and_values_are_parameters_never_sql():
    scope = Scope.of_days(date(2026, 11, 1), date(2026, 11, 30), account="u1'; DROP TABLE x; --")
    sql, params = scope.select("rating")
    assert "DROP" not in sql and "%(account)s" in sql and "FINAL" in sql
    assert params == {"start": datetime(2026, 11, 1), "end": datetime(2026, 12, 1),
                      "account": "u1'; DROP TABLE x; --"}


def test_a_reseller_scope_takes_his_tree():
    sql, params = Scope.of_days(date(2026, 11, 1), date(2026, 11, 1), reseller="r1").count("rating")
    assert "reseller = %(reseller)s" in sql and params["reseller"] == "r1"


@pytest.mark.parametrize("first, last, account, reseller, message", [
    (date(2026, 11, 2), date(2026, 11, 1), None, None, "must be after"),
    (date(2026, 11, 1), date(2026, 11, 2), "u1", "r1", "not both"),
])
def test_a_bad_scope_says_what_is_wrong(first, last, account, reseller, message):
    with pytest.raises(ScopeError, match=message):
        Scope.of_days(first, last, account, reseller)


def test_adjustment_value_is_the_contracts_record():
    value = orjson.loads(adjustment_value("rr-1", "ast1/c1", "u1", D("-0.500000"), 1764057600000))
    assert value == {"id": "rr-1/ast1/c1/u1", "account": "u1", "amount": "-0.500000", "rerate_id": "rr-1",
                     "call": "ast1/c1", "timestamp": 1764057600000}
    assert adjustment_id("rr-1", "ast1/c1", "u1") == value["id"]


def test_the_journal_keeps_the_first_amount_of_each_id_of_this_run_only():
    values = [adjustment_value(run, call, account, D(amount), 0) for run, call, account, amount in
              [("rr-1", "k1", "u1", "1"), ("rr-1", "k1", "u1", "1"), ("rr-1", "k1", "r1", "-2"), ("rr-0", "k2", "u1", "9")]]
    journal = Journal.from_values("rr-1", values)
    assert journal.amounts == {"rr-1/k1/u1": D("1"), "rr-1/k1/r1": D("-2")}
    assert journal.by_call == {"k1": {"u1": D("1"), "r1": D("-2")}}


OCT = Invoiced("2026-10", datetime(2026, 9, 30, 22, tzinfo=UTC), datetime(2026, 10, 31, 23, tzinfo=UTC))
NOV = Invoiced("2026-11", datetime(2026, 10, 31, 23, tzinfo=UTC), datetime(2026, 11, 30, 23, tzinfo=UTC))


@pytest.mark.parametrize("call_start, invoiced, expected", [
    (datetime(2026, 10, 5, tzinfo=UTC), [], ""),  # not invoiced: the invoice will read FINAL
    (datetime(2026, 10, 5, tzinfo=UTC), [OCT], "2026-11"),  # the next invoice
    (datetime(2026, 10, 5, tzinfo=UTC), [OCT, NOV], "2026-12"),  # November issued too: December's
    (datetime(2026, 10, 31, 23, 30, tzinfo=UTC), [OCT], ""),  # November in the issuer's zone
    (datetime(2026, 11, 15, tzinfo=UTC), [OCT], ""),
])
def test_a_difference_goes_on_the_next_invoice_never_an_issued_one(call_start, invoiced, expected):
    assert bill_period(call_start, invoiced) == expected


def test_the_table_has_one_line_per_account_with_exact_totals():
    summary = RunSummary()
    summary.add({"u1": D("2.000000"), "r1": D("1.200000")}, {"u1": D("2.500000"), "r1": D("1.200000")})
    summary.add({"u1": D("1")}, {"u1": D("0.75")})
    summary.calls, summary.changed = 2, 2
    summary.refused("no_rate")
    lines = summary.table().splitlines()
    assert lines[0].split() == ["account", "calls", "old", "total", "new", "total", "difference"]
    assert lines[1].split() == ["r1", "1", "1.200000", "1.200000", "0.000000"]
    assert lines[2].split() == ["u1", "2", "3.000000", "3.250000", "+0.250000"]
    assert "1 calls not re-rated (no_rate)" in lines[-1]
    assert summary.as_json()["accounts"][1] == {"account": "u1", "calls": 2, "old": "3.000000",
                                                "new": "3.250000", "difference": "0.250000"}


def test_invoice_lines_are_exact_and_named_by_run_and_month():
    sql, params = adjustments_query("rating", "u1", "2026-11")
    assert "%(account)s" in sql and params == {"account": "u1", "period": "2026-11"}
    lines = lines_from_rows([("rr-1", 202610, 3, D("0.500001")), ("rr-2", 202610, 1, D("0"))])
    assert [(a.description, a.amount) for a in lines] == [("Re-rating rr-1: 3 calls of 2026-10", D("0.500001"))]
