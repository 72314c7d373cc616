"""`python -m pipeline demo`: the sample data through the whole pipeline, and what came out."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import click
import orjson

from devkit.sample_cdrs import sample_stream
from devkit.scratch import delete_topics_with_prefix
from devkit.worker_process import WorkerProcess, start_api
from pipeline.control_topic import account_states, current_balances
from pipeline.demo_env import demo_env_path, read_demo_env, write_demo_env
from pipeline.invoices.issuer import IssuerDetails, publish_issuer
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.topic_io import count_messages, produce_all, read_all
from pipeline.logging_setup import setup_logging
from pipeline.payments import send_payment
from pipeline.reference.publish import apply_files
from pipeline.settings import REPO_ROOT, Settings
from pipeline.sinks.clickhouse import connect

SAMPLES = REPO_ROOT / "samples"
# the sample issuers' invoice details: the admin's and reseller r1's (taxes, payment terms)
ISSUER_FILES = ("invoice_details_admin.json", "invoice_details_r1.json")
DEMO_DATABASE_SUFFIX = "_demo"


DEMO_PASSWORD = "demo-password"


def run_demo(settings: Settings, calls: int, with_switch: bool = False, serve: bool = True) -> int:
    # our warnings and errors show; aiokafka's "no leader yet" retries right after the topics are
    # created do not (pipeline/logging_setup.py)
    setup_logging("WARNING")
    previous = read_demo_env(demo_env_path(settings.local_dir))
    clean = not settings.topic_prefix
    if clean:  # each run on topics and a database of its own: a second run shows the same figures
        settings = settings.model_copy(update={"topic_prefix": f"demo-{int(time.time())}-",
                                               "clickhouse_url": _demo_database_url(settings)})
    run = settings.topic_prefix.rstrip("-")
    step = lambda text: click.echo(click.style(f"==> {text}", bold=True))  # noqa: E731

    # a demo run before this one may still serve (its worker and API hold their ports): replaced
    _stop_previous(settings.local_dir / "run")
    if clean:
        _forget_previous_run(settings, previous.get("RATING_TOPIC_PREFIX", ""))
    else:
        click.echo(f"    adding to the run on topic prefix {settings.topic_prefix!r} (RATING_TOPIC_PREFIX is set): "
                   "calls already there count once, payments by their ids; unset it for a clean run")
    step(f"ClickHouse schema ({settings.clickhouse_url})")
    from pipeline.sinks.migrate import migrate
    applied = migrate(settings)
    click.echo(f"    {len(applied)} migration(s) applied" if applied else "    schema up to date")

    step(f"topics (prefix {settings.topic_prefix!r}) and reference data from samples/")
    asyncio.run(ensure_topics(settings))
    env_file = write_demo_env(settings)  # the commands typed after the demo find this run
    located = asyncio.run(apply_files(settings, [str(SAMPLES / "operator.json"), str(SAMPLES / "resellers.json")]))
    click.echo(f"    {len(located)} reference records published")
    for name in ISSUER_FILES:
        asyncio.run(publish_issuer(settings, IssuerDetails.model_validate_json((SAMPLES / name).read_bytes())))
    click.echo("    invoice details of admin and r1 (taxes, payment terms) published")
    for account, amount in (("r1", "60"), ("u1", "25"), ("u3", "10")):
        asyncio.run(send_payment(settings, f"{run}-topup-{account}", account, Decimal(amount)))
    click.echo("    payments: r1 +60, u1 +25, u3 +10 (everyone else starts at 0)")

    step("worker")
    worker = WorkerProcess(settings, settings.local_dir / "logs" / f"{run}-worker.log").start()
    try:
        worker.wait_until_logged("balance guard active", timeout=120)
        click.echo(f"    running (pid {worker.process.pid}), log: {worker.log_path}")

        messages, expected = sample_stream(run, calls)
        step(f"sending {len(messages)} CDRs to cdr.raw ({calls} good, {len(messages) - calls} bad)")
        started = time.monotonic()
        before = sum(asyncio.run(_counts(settings)))  # an added-to run has outputs already
        asyncio.run(produce_all(settings, "cdr.raw", messages))
        _wait_for_outputs(settings, len(messages), before)
        elapsed = time.monotonic() - started
        _report(settings, run, elapsed)
        if with_switch:
            _through_a_real_switch(settings)
        if serve:
            _serve_the_portal(settings, worker)
            worker = None  # it keeps running behind the portal; deploy/local/down stops both
    finally:
        if worker is not None:
            worker.stop()
    click.echo(click.style("==> the commands", bold=True))
    click.echo(f"    `python -m pipeline ...` uses this run while RATING_TOPIC_PREFIX is unset ({env_file});")
    click.echo(f"    elsewhere: export RATING_TOPIC_PREFIX={settings.topic_prefix} "
               f"RATING_CLICKHOUSE_URL={settings.clickhouse_url}")
    return 0


def _demo_database_url(settings: Settings) -> str:
    """The configured ClickHouse URL with the demo's own database, `<database>_demo`: dropped and made
    again by each clean run, so no earlier run's calls are counted; never a database it did not name."""
    base, _, _ = settings.clickhouse_url.rpartition("/")
    return f"{base}/{settings.clickhouse_database}{DEMO_DATABASE_SUFFIX}"


def _forget_previous_run(settings: Settings, previous_prefix: str) -> None:
    """A clean run: the demo database emptied, and the previous demo run's topics deleted (a broker
    holds a limited number of partitions; the prefix is the demo's own, `demo-...`)."""
    database = settings.clickhouse_database
    assert database.endswith(DEMO_DATABASE_SUFFIX), database
    client = connect(settings, database="default")
    try:
        client.execute(f"DROP DATABASE IF EXISTS {database}")
    finally:
        client.disconnect()
    if previous_prefix.startswith("demo-") and previous_prefix != settings.topic_prefix:
        asyncio.run(delete_topics_with_prefix(settings.model_copy(update={"topic_prefix": previous_prefix})))
        click.echo(f"    previous demo run {previous_prefix!r}: its topics deleted; this run starts clean")


def _stop_previous(run_dir) -> None:
    """The worker and API an earlier demo left running (their pid files), and nothing else."""
    import os
    import signal

    for name, command in (("demo-api.pid", "-m pipeline api"), ("demo-worker.pid", "-m pipeline worker")):
        pid_file = run_dir / name
        try:
            pid = int(pid_file.read_text())
            cmdline = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if command in cmdline:
            os.kill(pid, signal.SIGTERM)
            for _ in range(60):  # until it is gone (its port free), 30 s at most
                if not (Path("/proc") / str(pid)).exists():
                    break
                time.sleep(0.5)
        pid_file.unlink(missing_ok=True)


def _serve_the_portal(settings: Settings, worker: WorkerProcess) -> None:
    """Logins for the admin, a reseller and a user, and the API + portal on RATING_API_PORT; the
    worker and the API stay up (pid files in RATING_LOCAL_DIR/run, which deploy/local/down reads)."""

    from pipeline.api.kafka_backend import publish_logins

    click.echo(click.style("==> the API and the portal", bold=True))
    run_dir = settings.local_dir / "run"
    tokens = asyncio.run(publish_logins(settings, ["admin", "r1", "u1"], password=DEMO_PASSWORD))
    url = f"http://{settings.api_host}:{settings.api_port}"
    try:
        api = start_api(settings, settings.local_dir / "logs" / f"{settings.topic_prefix}api.log")
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "demo-worker.pid").write_text(f"{worker.process.pid}\n")
    (run_dir / "demo-api.pid").write_text(f"{api.process.pid}\n")
    click.echo(f"    portal:   {url}/   (API: {url}/v1, OpenAPI: {url}/openapi.json)")
    click.echo(f"    log in as admin, r1 (a reseller) or u1 (his user), password {DEMO_PASSWORD!r}")
    for account, token in tokens.items():
        click.echo(f"    bearer token of {account:<6} {token}")
    click.echo(f"    the worker (pid {worker.process.pid}) and the API (pid {api.process.pid}) keep running; "
               "deploy/local/down stops them with the rest")


def _through_a_real_switch(settings: Settings) -> None:
    """Kamailio as switch ast1 (SIPp calls, the adapter, the controller): calls of the sample
    accounts it serves, each answered or refused with 402 as switch.control says, then rated."""
    from devkit.local_switch import Switch

    click.echo(click.style("==> a real switch: Kamailio as ast1, SIPp calls (2 s each), adapter, controller", bold=True))
    switch = Switch(settings, "ast1").start()
    try:
        before = asyncio.run(count_messages(settings, "cdr.rated"))
        states = asyncio.run(account_states(settings))
        answered = 0
        for account in ("u1", "u2", "d1"):
            state = states.get(account, {})
            if switch.call("uac.xml", account, "-d", "2000").returncode == 0:
                answered += 1
                click.echo(f"    {account:<4} ({state.get('state', '?')}): answered, talked 2 s")
            elif switch.call("uac_refused.xml", account, timeout=5).returncode == 0:
                click.echo(f"    {account:<4} ({state.get('state', '?')}, {state.get('reason', '')}): "
                           "402 Payment Required")
            else:
                click.echo(f"    {account:<4}: the call failed otherwise (see {switch.dir})")
        deadline = time.monotonic() + 60
        while asyncio.run(count_messages(settings, "cdr.rated")) < before + answered and time.monotonic() < deadline:
            time.sleep(0.5)
        rated = [orjson.loads(m.value) for m in asyncio.run(read_all(settings, "cdr.rated"))[before:]]
        for record in rated:
            if record["server_id"] == "ast1" and record["billsec"] > 0 and "@" in record["call_id"]:
                click.echo(f"    rated: {record['account']:<4} {record['billsec']} s  user price {record['user_price']}")
    finally:
        switch.stop()


def _wait_for_outputs(settings: Settings, total: int, before: int = 0, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = sum(asyncio.run(_counts(settings))) - before
        click.echo(f"\r    {done}/{total} out", nl=False)
        if done >= total:
            click.echo()
            return
        time.sleep(0.5)
    raise click.ClickException(f"only {done} of {total} CDRs came out in {timeout} s")


async def _counts(settings: Settings) -> tuple[int, int]:
    return await count_messages(settings, "cdr.rated"), await count_messages(settings, "cdr.rejected")


def _clickhouse_summary(settings: Settings, run: str, timeout: float = 60.0) -> list[str]:
    """Rows of this run in rating.rated_calls (FINAL: one per call), once the sink has them all."""
    from pipeline.sinks.clickhouse import connect

    client, table = connect(settings), f"{settings.clickhouse_database}.rated_calls"
    where = {"run": f"{run}-%"}
    expected = asyncio.run(count_messages(settings, "cdr.rated"))
    deadline = time.monotonic() + timeout
    while True:
        rows = client.execute(f"SELECT count() FROM {table} FINAL WHERE call_id LIKE %(run)s", where)[0][0]
        if rows >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    lines = [f"ClickHouse:   {rows} rows in {table} (FINAL, one per call)"]
    per_reseller = client.execute(
        f"SELECT reseller, count(), sum(user_price), sum(reseller_profit), sum(admin_profit) "
        f"FROM {table} FINAL WHERE call_id LIKE %(run)s GROUP BY reseller ORDER BY reseller", where)
    lines.append(f"  {'reseller':<10} {'calls':>6} {'revenue':>12} {'reseller profit':>16} {'admin profit':>13}")
    for reseller, calls, revenue, reseller_profit, admin_profit in per_reseller:
        lines.append(f"  {reseller or '(direct)':<10} {calls:>6} {revenue:>12.2f} {reseller_profit:>16.2f} {admin_profit:>13.2f}")
    return lines


def _report(settings: Settings, run: str, elapsed: float) -> None:
    rejected = Counter(orjson.loads(m.value)["reason"] for m in asyncio.run(read_all(settings, "cdr.rejected")))
    rated = asyncio.run(count_messages(settings, "cdr.rated"))
    click.echo(click.style("==> what happened", bold=True))
    click.echo(f"    CDRs read:    {rated + sum(rejected.values())} in {elapsed:.1f} s")
    click.echo(f"    priced:       {rated} (cdr.rated)")
    click.echo(f"    rejected:     {sum(rejected.values())} (cdr.rejected): " + ", ".join(f"{r} {n}" for r, n in sorted(rejected.items())))
    for line in _clickhouse_summary(settings, run):
        click.echo(f"    {line}")
    time.sleep(1.0)  # the guard follows the balances within milliseconds; let the last ones land
    balances = asyncio.run(current_balances(settings))
    click.echo("    balances now, and what switch.control tells the switches (the sample switches keep")
    click.echo("    sending calls after a block; a real switch stops the account at its first signal):")
    click.echo(f"      {'account':<8} {'balance':>12}  {'state':<8} {'reason':<17} {'switch':<8} version")
    for account, state in sorted(asyncio.run(account_states(settings)).items()):
        balance = balances.get(account, Decimal(0))
        click.echo(f"      {account:<8} {balance:>12.2f}  {state['state']:<8} {state['reason']:<17} "
                   f"{state['server']:<8} {state['version']}")
