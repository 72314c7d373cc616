"""bench-invoices on a few accounts: every subtotal equals the raw sum, and it cleans up after itself."""
from __future__ import annotations

import pytest

from devkit.bench_invoices import run
from pipeline.sinks.clickhouse import connect

pytestmark = pytest.mark.clickhouse


async def test_the_benchmark_checks_its_invoices_against_the_raw_sums_and_leaves_nothing(settings_factory):
    settings = settings_factory()
    lines = []
    result = await run(settings, 25, 2, echo=lines.append)
    assert result["invoices"] == 25 + 10 and result["subtotal_mismatches"] == 0  # users + 10 resellers
    assert "subtotals equal to the raw sums rounded to cents: 25/25" in lines
    client = connect(settings, database="default")
    try:
        databases = {name for (name,) in client.execute("SHOW DATABASES")}
    finally:
        client.disconnect()
    assert result["database"].startswith("bench_invoices_") and result["database"] not in databases
    assert not (settings.local_dir / "bench-invoices").exists() or not any((settings.local_dir / "bench-invoices").iterdir())


def test_the_command_prints_both_timings(settings_factory):
    from click.testing import CliRunner

    from devkit.bench_invoices import bench_invoices
    from devkit.worker_process import settings_env

    result = CliRunner().invoke(bench_invoices, ["--accounts", "5", "--calls-per-account", "1"],
                                env=settings_env(settings_factory()))
    assert result.exit_code == 0, result.output
    assert "raw ClickHouse sum for 5 accounts" in result.output and "issued 15 invoices" in result.output
