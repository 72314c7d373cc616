"""The README's first command keeps working: `python -m pipeline demo` end to end."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from pipeline.settings import REPO_ROOT
from pipeline.worker_process import settings_env

pytestmark = pytest.mark.clickhouse


def test_demo_prices_the_sample_calls_and_reports_them(settings_factory):
    settings = settings_factory(topic_prefix="")  # the demo picks a fresh prefix of its own
    done = subprocess.run([sys.executable, "-m", "pipeline", "demo", "--calls", "300"], env=settings_env(settings),
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert re.search(r"CDRs read:\s+307 ", out), out
    assert re.search(r"priced:\s+300 \(cdr.rated\)", out), out
    assert "rejected:     7 (cdr.rejected): bad_json 1, no_rate 1, not_an_object 1, schema 2, unknown_account 1, unknown_provider 1" in out
    assert re.search(r"ClickHouse:\s+300 rows in rating_\w+\.rated_calls", out), out
    assert re.search(r"^\s+r1\s+\S+\s+blocked\s+balance\s+ast1", out, re.M), out  # r1 ran dry
