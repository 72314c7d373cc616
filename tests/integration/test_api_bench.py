"""bench-api on a few thousand calls: every figure is measured, the same pages also on current
ClickHouse (chdb) and as read before the tenant-ordered copy, answering the same calls everywhere,
side by side in one table, and nothing is left behind."""
from __future__ import annotations

import pytest

from devkit.bench_api import BEFORE, BEFORE_CURRENT, CURRENT, run
from pipeline.sinks.clickhouse import connect

pytestmark = pytest.mark.clickhouse


def test_the_benchmark_measures_the_pages_on_both_servers_and_leaves_nothing(settings_factory):
    pytest.importorskip("chdb.session")
    settings = settings_factory()
    lines: list[str] = []
    results = run(settings, calls=3000, requests=3, writes=2, progress=lines.append)
    for page in ("calls page", "stats page"):
        for where in ("(API)", "(raw query)", BEFORE, CURRENT, BEFORE_CURRENT):
            p50, p95, p99 = results[f"{page} {where}"]
            assert 0 < p50 <= p95 <= p99, (page, where, results)
    # the same page of the same calls: on 18.16 and current ClickHouse, and as read before 0009
    assert results["calls page: the same calls on both servers"] is True
    assert results["stats page: the figures of rated_calls FINAL"] is True  # from settled days
    assert any("past days settled in current" not in line and "past days settled" in line for line in lines)
    table = lines[lines.index("| page | ClickHouse 18.16, API over HTTP | 18.16, raw | 18.16, before 0009 | "
                              "current ClickHouse (chdb), raw | current (chdb), before 0009 |"):]
    assert [row.split(" | ")[0] for row in table[2:4]] == ["| calls page", "| stats page"]
    assert all(row.count(" / ") == 10 for row in table[2:4]), table  # p50 / p95 / p99 in each of 5 cells
    assert any("3,000 calls inserted into current ClickHouse (chdb)" in line for line in lines)
    client = connect(settings, database="default")
    try:
        leftovers = [name for (name,) in client.execute("SHOW DATABASES")
                     if name.startswith(f"{settings.clickhouse_database}_benchapi_")]
    finally:
        client.disconnect()
    assert leftovers == []
