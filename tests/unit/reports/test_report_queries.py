"""Report SQL: reseller scoping always, user input only as parameters, and (in chdb, current
ClickHouse) the right exact numbers on seeded calls. The same runs on 18.16 in
tests/integration/test_clickhouse_reports.py."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from pipeline.reports import queries
from tests.unit.chdb_kit import migrated_session, run
from tests.unit.reports.report_seed import EXPECTED_PROFIT, PERIOD, REDELIVERED, ROWS
from tests.unit.sinks.rated_example import literal_insert

SCOPED = [
    lambda reseller: queries.calls("rating", reseller, *PERIOD),
    lambda reseller: queries.calls("rating", reseller, *PERIOD, user="u1"),
    lambda reseller: queries.profit("rating", *PERIOD, reseller=reseller),
    lambda reseller: queries.top_destinations("rating", *PERIOD, reseller=reseller),
]


@pytest.mark.parametrize("build", SCOPED)
def test_a_reseller_scoped_query_always_filters_on_the_reseller_as_a_parameter(build):
    hostile = "r1' OR 1=1 --"
    query = build(hostile)
    assert "reseller = %(reseller)s" in query.sql
    assert query.params["reseller"] == hostile and hostile not in query.sql
    assert "rated_calls FINAL" in query.sql


def test_the_period_includes_the_last_day_whole():
    query = queries.profit("rating", date(2025, 11, 1), date(2025, 11, 30))
    assert query.params["start"] == "2025-11-01 00:00:00"
    assert query.params["end"] == "2025-12-01 00:00:00"


def test_nonsense_is_refused_before_any_sql_runs():
    with pytest.raises(ValueError):
        queries.profit("rating; DROP TABLE x", *PERIOD)
    with pytest.raises(ValueError):
        queries.profit("rating", date(2025, 12, 1), date(2025, 11, 1))
    with pytest.raises(ValueError):
        queries.top_destinations("rating", *PERIOD, limit=0)


# --- the same SQL on current ClickHouse, in process -------------------------------------------

pytest.importorskip("chdb.session")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    session = migrated_session(tmp_path_factory.mktemp("chdb"), "rating")
    session.query(literal_insert("rating", ROWS))
    session.query(literal_insert("rating", REDELIVERED))
    yield session
    session.close()


def test_calls_of_a_reseller_are_his_only_once_each_and_in_the_period(seeded):
    rows = run(seeded, queries.calls("rating", "r1", *PERIOD))
    assert [row[2] for row in rows] == ["r1-a", "r1-b", "r1-c", "r1-d", "r1-e"]
    assert [row[2] for row in run(seeded, queries.calls("rating", "r1", *PERIOD, user="u2"))] == ["r1-e"]
    assert run(seeded, queries.calls("rating", "r1' OR 1=1 --", *PERIOD)) == []


def test_profit_sums_are_exact_per_reseller(seeded):
    rows = run(seeded, queries.profit("rating", *PERIOD))
    got = {row[0]: (int(row[2]), *map(Decimal, row[3:8])) for row in rows}
    assert got == EXPECTED_PROFIT
    scoped = run(seeded, queries.profit("rating", *PERIOD, reseller="r2"))
    assert [row[0] for row in scoped] == ["r2"]


def test_top_destinations_of_a_reseller_count_only_his_calls(seeded):
    rows = run(seeded, queries.top_destinations("rating", *PERIOD, reseller="r1"))
    # prefix, currency, calls, answered, billsec_total, revenue, profit (his)
    assert [row[0] for row in rows] == ["370", "44"]
    assert rows[0][2:5] == ["4", "3", "180"]
    assert Decimal(rows[0][5]) == Decimal("6") and Decimal(rows[0][6]) == Decimal("2.4")
    everyone = run(seeded, queries.top_destinations("rating", *PERIOD, limit=1))
    assert len(everyone) == 1 and everyone[0][2] == "7"  # 4 of r1 + 2 of r2 + 1 direct
    assert Decimal(everyone[0][6]) == Decimal("2.7") + Decimal("1.622222") + Decimal("1.2")  # admin's


def test_daily_by_reseller_splits_days_and_resellers(seeded):
    rows = run(seeded, queries.daily_by_reseller("rating", *PERIOD))
    got = {(row[0], row[1]): Decimal(row[3]) for row in rows}
    assert got == {("2025-11-25", ""): Decimal("1.5"), ("2025-11-25", "r1"): Decimal("6"),
                   ("2025-11-25", "r2"): Decimal("3.333333"), ("2025-11-26", "r1"): Decimal("1"),
                   ("2025-11-27", "r2"): Decimal("3.333333")}
