"""The README's first command keeps working: `python -m pipeline demo` end to end."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from pipeline.settings import REPO_ROOT
from devkit.worker_process import settings_env

pytestmark = pytest.mark.clickhouse


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_prices_the_sample_calls_and_reports_them(settings_factory):
    # the demo picks a fresh prefix of its own; the API on a free port
    settings = settings_factory(topic_prefix="", api_port=_free_port())
    try:
        done = subprocess.run([sys.executable, "-m", "pipeline", "demo", "--calls", "300"],
                              env=settings_env(settings), cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        out = done.stdout
        _the_portal_serves_the_printed_logins(settings, out)
    finally:  # what the demo left serving, as deploy/local/down stops it
        for name in ("demo-api.pid", "demo-worker.pid"):
            pid_file = settings.local_dir / "run" / name
            if pid_file.exists():
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
    assert re.search(r"CDRs read:\s+307 ", out), out
    assert re.search(r"priced:\s+300 \(cdr.rated\)", out), out
    assert "rejected:     7 (cdr.rejected): bad_json 1, no_rate 1, not_an_object 1, schema 2, unknown_account 1, unknown_provider 1" in out
    assert re.search(r"ClickHouse:\s+300 rows in rating_\w+\.rated_calls", out), out
    assert re.search(r"^\s+r1\s+\S+\s+blocked\s+balance\s+ast1", out, re.M), out  # r1 ran dry


def _the_portal_serves_the_printed_logins(settings, out: str) -> None:
    assert f"portal:   http://127.0.0.1:{settings.api_port}/" in out, out
    assert "log in as admin, r1 (a reseller) or u1 (his user), password 'demo-password'" in out, out
    token = re.search(r"bearer token of r1\s+(\S+)", out).group(1)
    request = urllib.request.Request(f"http://127.0.0.1:{settings.api_port}/v1/accounts",
                                     headers={"Authorization": f"Bearer {token}"})
    accounts = {a["id"] for a in json.loads(urllib.request.urlopen(request, timeout=10).read())}
    assert {"r1", "u1", "u2"} <= accounts and "r2" not in accounts  # the reseller's own world only
