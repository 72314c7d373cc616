"""`python -m pipeline demo`: the sample data through the whole pipeline, and what came out."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from decimal import Decimal

import click
import orjson

from pipeline.control_topic import account_states, current_balances
from pipeline.kafka_admin import ensure_topics
from pipeline.payments import send_payment
from pipeline.reference_apply import apply_files
from pipeline.sample_cdrs import sample_stream
from pipeline.settings import REPO_ROOT, Settings
from pipeline.topic_io import count_messages, produce_all, read_all
from pipeline.worker_process import WorkerProcess

SAMPLES = REPO_ROOT / "samples"


def run_demo(settings: Settings, calls: int) -> int:
    if not settings.topic_prefix:  # each run on topics of its own, so runs never mix
        settings = settings.model_copy(update={"topic_prefix": f"demo-{int(time.time())}-"})
    run = settings.topic_prefix.rstrip("-")
    step = lambda text: click.echo(click.style(f"==> {text}", bold=True))  # noqa: E731

    step(f"ClickHouse schema ({settings.clickhouse_url})")
    from pipeline.sinks.migrate import migrate
    applied = migrate(settings)
    click.echo(f"    {len(applied)} migration(s) applied" if applied else "    schema up to date")

    step(f"topics (prefix {settings.topic_prefix!r}) and reference data from samples/")
    asyncio.run(ensure_topics(settings))
    located = asyncio.run(apply_files(settings, [str(SAMPLES / "operator.json"), str(SAMPLES / "resellers.json")]))
    click.echo(f"    {len(located)} reference records published")
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
        asyncio.run(produce_all(settings, "cdr.raw", messages))
        _wait_for_outputs(settings, len(messages))
        elapsed = time.monotonic() - started
        _report(settings, run, elapsed)
    finally:
        worker.stop()
    return 0


def _wait_for_outputs(settings: Settings, total: int, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = sum(asyncio.run(_counts(settings)))
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
