"""The README's first command keeps working: `python -m pipeline demo` end to end."""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from datetime import date, timedelta
from decimal import Decimal

import pytest

from devkit.scratch import delete_topics_with_prefix
from devkit.worker_process import settings_env
from pipeline.demo_env import read_demo_env
from pipeline.kafka.clients import KafkaClients
from pipeline.settings import REPO_ROOT
from pipeline.sinks.clickhouse import connect

pytestmark = pytest.mark.clickhouse


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# what a clean demo output never shows: library noise (aiokafka's retries while the new topics get
# their leaders), warnings, errors and tracebacks
NOISE = re.compile(r"NotLeaderForPartition|LeaderNotAvailable|aiokafka|Traceback|ERROR|WARNING|Unclosed|"
                   r"Task was destroyed")


def _run_demo(settings) -> tuple[str, str]:
    done = subprocess.run([sys.executable, "-m", "pipeline", "demo", "--calls", "300"],
                          env=settings_env(settings), cwd=REPO_ROOT, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout, done.stderr


def _figures(settings, out: str) -> dict:
    """What the portal's pages show, through the API: profit per reseller, r1's stats, balances."""
    tokens = {name: re.search(rf"bearer token of {name}\s+(\S+)", out).group(1) for name in ("admin", "r1")}
    today = date.today()
    window = f"from={today - timedelta(days=30)}&to={today}"

    def get(path: str, who: str):
        request = urllib.request.Request(f"http://127.0.0.1:{settings.api_port}{path}",
                                         headers={"Authorization": f"Bearer {tokens[who]}"})
        return json.loads(urllib.request.urlopen(request, timeout=10).read())

    return {"profit": get(f"/v1/profit?{window}", "admin"), "stats": get(f"/v1/stats?{window}&by=day", "r1"),
            "balances": {a: get(f"/v1/balances/{a}", "admin")["balance"] for a in ("r1", "u1", "u2", "u3", "d1")}}


def _stop_what_the_demo_serves(settings) -> None:
    for name in ("demo-api.pid", "demo-worker.pid"):  # as deploy/local/down stops them
        pid_file = settings.local_dir / "run" / name
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass


def test_demo_twice_starts_clean_the_commands_find_it_and_it_prints_no_noise(settings_factory):
    # the demo picks a fresh prefix of its own (RATING_TOPIC_PREFIX empty); the API on a free port
    settings = settings_factory(topic_prefix="", api_port=_free_port())
    env_file = settings.local_dir / "run" / "demo.env"
    prefixes = []
    try:
        first_out, first_err = _run_demo(settings)
        _the_portal_serves_the_printed_logins(settings, first_out)
        first = _figures(settings, first_out)
        prefixes.append(read_demo_env(env_file)["RATING_TOPIC_PREFIX"])
        out, err = _run_demo(settings)  # the README's first command, run again
        prefixes.append(read_demo_env(env_file)["RATING_TOPIC_PREFIX"])
        _the_portal_serves_the_printed_logins(settings, out)
        # a clean run: the same sample calls give the same figures, not twice as many
        assert _figures(settings, out) == first
        assert sum(row["calls"] for row in first["stats"]) > 0
        assert f"previous demo run {prefixes[0]!r}: its topics deleted" in out
        assert not [t for t in asyncio.run(_topics(settings)) if t.startswith(prefixes[0])]
        for text in (first_out, first_err, out, err):
            assert not [line for line in text.splitlines() if NOISE.search(line)], text[-3000:]
        _the_commands_find_the_demo_run(settings, prefixes[1], first)
    finally:
        _stop_what_the_demo_serves(settings)
        demo_database = settings.clickhouse_database + "_demo"
        connect(settings, database="default").execute(f"DROP DATABASE IF EXISTS {demo_database}")
        for prefix in prefixes[-1:]:
            asyncio.run(delete_topics_with_prefix(settings.model_copy(update={"topic_prefix": prefix})))
    assert re.search(r"CDRs read:\s+307 ", out), out
    assert re.search(r"priced:\s+300 \(cdr.rated\)", out), out
    assert "rejected:     7 (cdr.rejected): bad_json 1, no_rate 1, not_an_object 1, schema 2, unknown_account 1, unknown_provider 1" in out
    assert re.search(r"ClickHouse:\s+300 rows in rating_\w+_demo\.rated_calls", out), out
    assert re.search(r"^\s+r1\s+\S+\s+blocked\s+balance\s+ast1", out, re.M), out  # r1 ran dry
    assert f"export RATING_TOPIC_PREFIX={prefixes[1]} " in out


def _the_commands_find_the_demo_run(settings, prefix: str, figures: dict) -> None:
    """The README's commands typed after the demo, with RATING_TOPIC_PREFIX and the database unset:
    they read the demo's run from RATING_LOCAL_DIR/run/demo.env, say so, and show its data."""
    env = {k: v for k, v in settings_env(settings).items() if k not in ("RATING_TOPIC_PREFIX", "RATING_CLICKHOUSE_URL")}

    def command(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "pipeline", *args], env=env, cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
        assert f"using the demo run of {settings.local_dir / 'run' / 'demo.env'} (RATING_TOPIC_PREFIX={prefix})" in done.stderr
        return done

    balances = command("balances", "u1", "r1").stdout
    for account in ("u1", "r1"):
        shown = re.search(rf"^{account}\s+(\S+)", balances, re.M).group(1)
        assert Decimal(shown) == Decimal(figures["balances"][account]), balances
    today = date.today()
    profit = command("profit", "--from", str(today - timedelta(days=30)), "--to", str(today), "--format", "json").stdout
    assert {row["reseller"] for row in json.loads(profit)} == {row["reseller"] for row in figures["profit"]}
    assert "blocked" in command("state", "r1").stdout  # r1 ran dry in the demo


async def _topics(settings) -> list[str]:
    admin = KafkaClients(settings).admin()
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


def _the_portal_serves_the_printed_logins(settings, out: str) -> None:
    assert f"portal:   http://127.0.0.1:{settings.api_port}/" in out, out
    assert "log in as admin, r1 (a reseller) or u1 (his user), password 'demo-password'" in out, out
    token = re.search(r"bearer token of r1\s+(\S+)", out).group(1)
    request = urllib.request.Request(f"http://127.0.0.1:{settings.api_port}/v1/accounts",
                                     headers={"Authorization": f"Bearer {token}"})
    accounts = {a["id"] for a in json.loads(urllib.request.urlopen(request, timeout=10).read())}
    assert {"r1", "u1", "u2"} <= accounts and "r2" not in accounts  # the reseller's own world only
