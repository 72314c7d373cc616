"""Report output: aligned text, CSV and JSON with exact money; ASR/ACD; the PNG plot."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal

import pytest

from pipeline.reports.output import render
from pipeline.reports.plot import plot_daily
from pipeline.reports.run import Table, with_asr_acd

PROFIT = Table(
    ("reseller", "calls", "admin_profit_total"),
    [("r1", 5, Decimal("3.150000")), ("r22", 12, Decimal("10.000001"))],
)


def test_text_table_aligns_columns_and_right_aligns_numbers():
    lines = render(PROFIT).splitlines()
    assert lines[0] == "reseller  calls  admin_profit_total"
    assert lines[1] == "--------  -----  ------------------"
    assert lines[2] == "r1            5            3.150000"
    assert lines[3] == "r22          12           10.000001"
    assert lines[-1] == "(2 rows)"


def test_csv_and_json_keep_decimals_exact():
    records = list(csv.DictReader(io.StringIO(render(PROFIT, "csv"))))
    assert records[1] == {"reseller": "r22", "calls": "12", "admin_profit_total": "10.000001"}
    data = json.loads(render(PROFIT, "json"))
    assert data[1]["admin_profit_total"] == "10.000001"  # a string: a JSON number is a float
    assert data[0]["calls"] == 5


def test_times_are_printed_in_utc_iso_form():
    table = Table(("start_time", "day"), [(datetime(2025, 11, 25, 8, 0, 1), date(2025, 11, 25))])
    assert json.loads(render(table, "json")) == [{"start_time": "2025-11-25T08:00:01Z", "day": "2025-11-25"}]


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        render(PROFIT, "xml")


def test_asr_and_acd_are_derived_exactly_and_zero_when_undefined():
    table = Table(
        ("user_prefix", "currency", "calls", "answered", "billsec_total", "revenue", "profit"),
        [("370", "EUR", 3, 2, 125, Decimal("6"), Decimal("2.4")), ("44", "EUR", 1, 0, 0, Decimal(0), Decimal(0))],
    )
    derived = with_asr_acd(table).dicts()
    assert "billsec_total" not in derived[0]
    assert (derived[0]["minutes"], derived[0]["asr_percent"], derived[0]["acd_seconds"]) == (
        Decimal("2.08"), Decimal("66.7"), Decimal("62.5"))
    assert (derived[1]["asr_percent"], derived[1]["acd_seconds"]) == (Decimal(0), Decimal(0))


def test_plot_writes_a_png(tmp_path):
    table = Table(
        ("day", "reseller", "currency", "revenue", "reseller_profit_total", "admin_profit_total"),
        [(date(2025, 11, 25), "r1", "EUR", Decimal(6), Decimal("2.4"), Decimal("2.7")),
         (date(2025, 11, 26), "r1", "EUR", Decimal(1), Decimal("0.4"), Decimal("0.45")),
         (date(2025, 11, 25), "", "EUR", Decimal("1.5"), Decimal(0), Decimal("1.2"))],
    )
    out = plot_daily(table, tmp_path / "daily.png", title="test")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_fetch_shows_every_amount_with_its_column_scale():
    from pipeline.reports.queries import Query
    from pipeline.reports.run import fetch

    class Client:
        def execute(self, sql, params, with_column_types):
            assert params == {"reseller": "r1"}  # passed to the driver, not formatted into the SQL
            return ([("r1", Decimal("2"), None, 3)],
                    [("reseller", "String"), ("total", "Decimal(38, 6)"),
                     ("limit", "Nullable(Decimal(18, 6))"), ("calls", "UInt64")])

    table = fetch(Client(), Query("SELECT ...", {"reseller": "r1"}))
    assert table.rows == [("r1", Decimal("2.000000"), None, 3)]
    assert str(table.rows[0][1]) == "2.000000"
