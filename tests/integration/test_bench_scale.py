"""`bench-scale` on the real broker, small: 1 and 2 worker processes, raw consumers, the join/leave
pauses. It prints its table and pauses, every CDR is counted once in every run (distinct call ids
out and in ClickHouse equal the input, balances exact), and it leaves no topics or database behind.
No time is asserted: this machine's speed is not a fact about the code."""
from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from devkit.bench_scale import RAW_PASSES
from devkit.cli import bench_scale
from devkit.worker_process import settings_env
from pipeline.kafka.clients import KafkaClients
from pipeline.sinks.clickhouse import connect

pytestmark = [pytest.mark.clickhouse, pytest.mark.slow]
CDRS = 2000


def test_every_cdr_is_counted_once_with_1_and_2_workers_and_the_pauses_are_printed(settings_factory, tmp_path):
    settings = settings_factory()
    figures = tmp_path / "scale.json"
    result = CliRunner().invoke(bench_scale, [
        "--workers", "1,2", "--cdrs", str(CDRS), "--partitions", "4", "--no-profile",
        "--pause-rate", "200", "--pause-settle", "3", "--json", str(figures),
    ], env=settings_env(settings), catch_exceptions=False)

    assert result.exit_code == 0, result.output
    out = result.output
    assert "workers | pipeline CDR/s | speed-up" in out and "raw consumer msg/s" in out
    assert "counted once: yes in every run" in out
    for event in ("steady (2 workers, no event)", "join (3rd worker)", "leave (SIGTERM)", "leave (SIGKILL)"):
        assert event in out
    assert "projection for N cores" in out

    data = json.loads(figures.read_text())
    assert data["counted_once"] is True and data["cdrs"] == CDRS and data["partitions"] == 4
    assert [run["workers"] for run in data["runs"]] == [1, 2]
    for run in data["runs"]:
        assert run["distinct_out"] == CDRS  # every call id once on cdr.rated + cdr.rejected
        assert run["distinct_clickhouse"] == CDRS - run["rejected"]
        assert run["balances_exact"] is True
        assert run["rated_s"] > 0 and run["balances_s"] > 0 and run["clickhouse_s"] > 0
    passes = RAW_PASSES  # the raw consumers read the topic this often, each message once a pass
    assert [(raw["consumers"], raw["messages"]) for raw in data["raw"]] == [(1, passes * CDRS), (2, passes * CDRS)]
    assert data["runs"][0]["speed_up"] == 1.0 and data["raw"][0]["speed_up"] == 1.0
    pauses = {pause["event"]: pause for pause in data["pauses"]}
    assert len(pauses) == 4
    for pause in pauses.values():
        assert pause["all_output_gap_s"] >= 0 and pause["partition_gap_s"] >= pause["all_output_gap_s"]
    assert data["profile"] is None

    # nothing left behind: its topics and its ClickHouse database are gone
    assert not asyncio.run(_topics_with_prefix(settings, f"{settings.topic_prefix}scale-"))
    client = connect(settings, database="default")
    try:
        databases = {name for (name,) in client.execute("SHOW DATABASES")}
    finally:
        client.disconnect()
    assert not any(name.startswith(f"{settings.clickhouse_database}_scale_") for name in databases)


async def _topics_with_prefix(settings, prefix: str) -> list[str]:
    admin = KafkaClients(settings).admin()
    await admin.start()
    try:
        return [name for name in await admin.list_topics() if name.startswith(prefix)]
    finally:
        await admin.close()
