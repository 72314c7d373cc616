"""`bench-guard` on the real broker, tiny: it runs end to end, every sample gets its block signal,
and it prints the table. No time is asserted: this machine's speed is not a fact about the code."""
from __future__ import annotations

import math
import re

import pytest
from click.testing import CliRunner

from devkit.cli import bench_guard
from devkit.worker_process import settings_env

pytestmark = pytest.mark.clickhouse  # the worker runs every role, the ClickHouse sink included


def test_every_sample_gets_its_block_signal_and_the_table_is_printed(settings_factory):
    env = settings_env(settings_factory())
    result = CliRunner().invoke(bench_guard, ["--samples", "5", "--background-rate", "100"], env=env,
                                catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "5/5 samples got their block signal" in result.output
    for figure in ("CDR -> block signal, p50", "CDR -> block signal, p99",
                   "broker produce -> consume, p50", "broker produce -> consume, p99"):
        row = re.search(rf"^{re.escape(figure)}\s+(\S+)$", result.output, re.MULTILINE)
        assert row is not None, f"no {figure!r} row in:\n{result.output}"
        assert 0 < float(row.group(1)) < math.inf  # "inf" is what a sample without a signal gives
