"""bench-api on a few thousand calls: every figure is measured, the same pages also on current
ClickHouse (chdb) and answering the same calls there, and nothing is left behind."""
from __future__ import annotations

import pytest

from devkit.bench_api import run
from pipeline.sinks.clickhouse import connect

pytestmark = pytest.mark.clickhouse


def test_the_benchmark_measures_the_pages_on_both_servers_and_leaves_nothing(settings_factory):
    pytest.importorskip("chdb.session")
    settings = settings_factory()
    lines: list[str] = []
    results = run(settings, calls=3000, requests=3, writes=2, progress=lines.append)
    for page in ("calls page", "stats page"):
        for where in ("(API)", "(raw query)", "(raw, current ClickHouse: chdb)"):
            p50, p99 = results[f"{page} {where}"]
            assert 0 < p50 <= p99, (page, where, results)
    assert results["calls page: the same calls on both servers"] is True
    assert any("3,000 calls inserted into current ClickHouse (chdb)" in line for line in lines)
    client = connect(settings, database="default")
    try:
        leftovers = [name for (name,) in client.execute("SHOW DATABASES")
                     if name.startswith(f"{settings.clickhouse_database}_benchapi_")]
    finally:
        client.disconnect()
    assert leftovers == []
