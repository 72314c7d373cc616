"""The report commands on the real ClickHouse, through the CLI as an operator runs them."""
from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import click
import pytest
from click.testing import CliRunner

from devkit.worker_process import settings_env
from pipeline.reports.cli import register as register_reports
from pipeline.sinks.cli import register as register_sinks
from pipeline.sinks.clickhouse import ClickHouseWriter, connect
from pipeline.sinks.migrate import load_migrations
from tests.unit.reports.report_seed import EXPECTED_PROFIT, REDELIVERED, ROWS

pytestmark = pytest.mark.clickhouse
PERIOD = ["--from", "2025-11-25", "--to", "2025-11-30"]


@pytest.fixture
def cli():
    @click.group()
    def group():
        pass

    register_sinks(group)
    register_reports(group)
    return group


@pytest.fixture
def seeded(settings_factory, cli):
    settings = settings_factory()
    env = settings_env(settings)
    runner = CliRunner()
    first = runner.invoke(cli, ["migrate"], env=env, catch_exceptions=False)
    assert first.output.count("applied ") == len(load_migrations())
    again = runner.invoke(cli, ["migrate"], env=env, catch_exceptions=False)
    assert "schema up to date" in again.output
    writer = ClickHouseWriter(settings)
    writer.write(ROWS)
    writer.write(REDELIVERED)
    writer.close()

    def invoke(*args: str) -> str:
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    yield invoke
    client = connect(settings, database="default")
    client.execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    client.disconnect()


def test_calls_of_a_reseller_never_show_another_resellers_calls(seeded):
    records = json.loads(seeded("calls", "--reseller", "r1", *PERIOD, "--format", "json"))
    assert [r["call_id"] for r in records] == ["r1-a", "r1-b", "r1-c", "r1-d", "r1-e"]
    assert {r["account"] for r in records} == {"u1", "u2"}
    others = json.loads(seeded("calls", "--reseller", "r2", *PERIOD, "--format", "json"))
    assert [r["call_id"] for r in others] == ["r2-a", "r2-b"]
    one_user = json.loads(seeded("calls", "--reseller", "r2", "--user", "u1", *PERIOD, "--format", "json"))
    assert one_user == []  # u1 is r1's: asking as r2 shows nothing
    assert records[0]["user_price"] == "2.000000" and records[0]["start_time"] == "2025-11-25T10:00:00Z"


def test_profit_sums_are_exact_and_per_reseller(seeded):
    rows = list(csv.DictReader(io.StringIO(seeded("profit", *PERIOD, "--format", "csv"))))
    got = {
        row["reseller"]: (int(row["calls"]), *(Decimal(row[c]) for c in (
            "user_price_total", "reseller_price_total", "provider_price_total",
            "reseller_profit_total", "admin_profit_total")))
        for row in rows
    }
    assert got == EXPECTED_PROFIT
    scoped = list(csv.DictReader(io.StringIO(seeded("profit", "--reseller", "r2", *PERIOD, "--format", "csv"))))
    assert [row["reseller"] for row in scoped] == ["r2"]


def test_top_destinations_text_table_for_one_reseller(seeded):
    lines = seeded("top-destinations", "--reseller", "r1", *PERIOD).splitlines()
    assert lines[0].split() == ["user_prefix", "currency", "calls", "answered", "revenue", "profit",
                                "minutes", "asr_percent", "acd_seconds"]
    assert lines[2].split() == ["370", "EUR", "4", "3", "6.000000", "2.400000", "3.00", "75.0", "60.0"]
    assert lines[3].split()[0] == "44" and lines[-1] == "(2 rows)"


def test_plot_writes_a_png(seeded, tmp_path):
    out = tmp_path / "daily.png"
    assert "5 reseller-days" in seeded("plot", *PERIOD, "--out", str(out))
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_documented_sql_runs_and_daily_stats_is_exact_after_redeliveries(settings_factory):
    from pipeline.sinks.migrate import migrate
    from tests.unit.reports.docs_sql import doc_statements

    settings = settings_factory()
    db = settings.clickhouse_database
    migrate(settings)
    client = connect(settings)
    try:
        writer = ClickHouseWriter(settings)
        writer.write(ROWS)
        writer.write(REDELIVERED)
        writer.close()
        by_day = (f"SELECT day, reseller, sum(calls), sum(admin_profit_sum) FROM {db}.daily_stats "
                  "WHERE toYYYYMM(day) = 202511 GROUP BY day, reseller ORDER BY day, reseller")
        exact = client.execute(
            f"SELECT toDate(start_time) AS day, reseller, count(), sum(admin_profit) FROM {db}.rated_calls FINAL "
            "WHERE toYYYYMM(start_time) = 202511 GROUP BY day, reseller ORDER BY day, reseller")
        assert client.execute(f"SELECT count() FROM {db}.rated_calls")[0][0] > sum(row[2] for row in exact)
        assert client.execute(by_day) == exact  # the redeliveries are counted once
        for statement in doc_statements(db):
            client.execute(statement)  # every query an analyst copies runs on 18.16
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {db}")
        client.disconnect()
