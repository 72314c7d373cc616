"""Our commands beside Faust's own (`worker`, ...): `python -m pipeline --help` lists them all.

They build their Settings from the environment and never import the Faust app: they are clients.
"""
from __future__ import annotations

import asyncio
import sys
import uuid
from decimal import Decimal, InvalidOperation

import click

from pipeline.logging_setup import setup_logging
from pipeline.settings import Settings


def register(group: click.Group) -> None:
    for command in (ref, pay, balances, replay_rejected, state, blocked, demo, bench_rating, bench_stream, bench_guard):
        group.add_command(command)
    try:
        from pipeline.sinks.cli import register as register_clickhouse
    except ImportError:  # pragma: no cover - only while the ClickHouse side is being written
        return
    register_clickhouse(group)


@click.group(help="Reference data: accounts, tariffs, providers, DIDs, holidays.")
def ref() -> None:
    pass


@ref.command("apply", help="Validate FILEs (JSON, one object or a list each) and publish them all, or nothing.")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def ref_apply(files: tuple[str, ...]) -> None:
    from pipeline.reference_apply import ApplyError, apply_files

    settings = Settings()
    setup_logging("WARNING")
    try:
        located = asyncio.run(apply_files(settings, list(files)))
    except ApplyError as exc:
        click.echo(f"nothing published: {len(exc.errors)} error(s)", err=True)
        for line in exc.errors:
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    counts: dict[str, int] = {}
    for item in located:
        counts[item.record.kind] = counts.get(item.record.kind, 0) + 1
    click.echo("published " + ", ".join(f"{n} {kind}(s)" for kind, n in counts.items()))


@click.command(help="Record a payment: AMOUNT (a decimal) is added to ACCOUNT's balance once per --id.")
@click.argument("account")
@click.argument("amount")
@click.option("--id", "payment_id", default=None, help="the payment's own id (default: a new UUID)")
def pay(account: str, amount: str, payment_id: str | None) -> None:
    from pipeline.payments import send_payment

    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise click.BadParameter(f"{amount!r} is not a decimal number", param_hint="AMOUNT") from None
    payment_id = payment_id or str(uuid.uuid4())
    asyncio.run(send_payment(Settings(), payment_id, account, value))
    click.echo(f"payment {payment_id}: {account} +{value}")


@click.command(help="Balances now (all accounts, or the ACCOUNTs given); an account never charged nor paid is 0.")
@click.argument("accounts", nargs=-1)
def balances(accounts: tuple[str, ...]) -> None:
    from pipeline.control_topic import current_balances

    known = asyncio.run(current_balances(Settings()))
    for account in accounts or sorted(known):
        click.echo(f"{account:<20} {known.get(account, Decimal(0)):>16}")


@click.command("replay-rejected", help="Send rejected records back to the topic they came from.")
@click.option("--reason", default=None, help="only records rejected for this reason (e.g. no_rate)")
def replay_rejected(reason: str | None) -> None:
    from pipeline.replay import replay

    counts = asyncio.run(replay(Settings(), reason))
    click.echo(f"replayed {sum(counts.values())} record(s)" + "".join(f"\n  {r}: {n}" for r, n in sorted(counts.items())))


@click.command(help="The current state of ACCOUNT on switch.control, as a switch sees it.")
@click.argument("account")
def state(account: str) -> None:
    from pipeline.control_topic import account_states

    current = asyncio.run(account_states(Settings())).get(account)
    if current is None:
        click.echo(f"{account}: no state published yet")
        sys.exit(1)
    click.echo(" ".join(f"{k}={v}" for k, v in current.items()))


@click.command(help="Accounts blocked now (optionally only those a given switch serves).")
@click.option("--server", default=None, help="the switch (server id)")
def blocked(server: str | None) -> None:
    from pipeline.control_topic import account_states

    rows = [
        s for s in asyncio.run(account_states(Settings())).values()
        if s["state"] == "blocked" and (server is None or s["server"] == server)
    ]
    click.echo(f"{'account':<20} {'reason':<18} {'server':<12} {'reseller':<12} {'balance':>14} version")
    for s in sorted(rows, key=lambda s: s["account"]):
        click.echo(f"{s['account']:<20} {s['reason']:<18} {s['server']:<12} {s['reseller']:<12} {s['balance']:>14} {s['version']}")
    click.echo(f"{len(rows)} blocked")


@click.command(help="Run the pipeline on the sample data end to end and show what it did.")
@click.option("--calls", default=2000, show_default=True, help="how many sample CDRs to send")
def demo(calls: int) -> None:
    from pipeline.demo import run_demo

    sys.exit(run_demo(Settings(), calls))


@click.command("bench-rating", help="Rating engine speed: calls priced per second on one core.")
@click.option("--prefixes", default=100_000, show_default=True)
@click.option("--calls", default=200_000, show_default=True)
def bench_rating(prefixes: int, calls: int) -> None:
    from pipeline.rating.bench import run_benchmark

    run_benchmark(prefixes=prefixes, calls=calls)


@click.command("bench-stream", help="CDRs/s through the rating stage beside raw aiokafka and an empty Faust agent.")
@click.option("--cdrs", default=100_000, show_default=True)
def bench_stream(cdrs: int) -> None:
    from pipeline.bench.stream import run

    run(Settings(), cdrs)


@click.command("bench-guard", help="Latency from a CDR crossing a balance threshold to its block signal.")
@click.option("--samples", default=200, show_default=True)
@click.option("--background-rate", default=1000, show_default=True, help="other CDRs per second meanwhile")
def bench_guard(samples: int, background_rate: int) -> None:
    from pipeline.bench.guard import run

    run(Settings(), samples, background_rate)
