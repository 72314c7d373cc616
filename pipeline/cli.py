"""`python -m pipeline --help` lists every command. Each builds its Settings from the environment
when it runs; nothing is built at import time.
"""
from __future__ import annotations

import asyncio
import gc
import sys
import uuid
from decimal import Decimal

import click

from pipeline.logging_setup import setup_logging
from pipeline.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Real-time rating for VoIP operators that sell through resellers."""


@click.command(help="Run the pipeline's stages (RATING_ROLES picks which) until stopped.")
@click.option("--loglevel", "-l", default=None, help="log level (default: RATING_LOG_LEVEL)")
@click.option("--without-web", is_flag=True, hidden=True,
              help="accepted for compatibility: the worker has no Faust web server")
def worker(loglevel: str | None, without_web: bool) -> None:
    from pipeline.kafka_admin import TopicLayoutError
    from pipeline.worker import Worker, build_app, prepare_topics

    settings = Settings()
    level = (loglevel or settings.log_level).upper()
    try:
        asyncio.run(prepare_topics(settings))
    except TopicLayoutError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    app = build_app(settings)
    # Every batch makes tens of thousands of short-lived objects (records, dicts, Decimals) and the
    # cyclic collector kept walking the long-lived ones (modules, the tariff index): 4% of the
    # worker's time under py-spy. Freeze what exists now, and collect the young less often.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    Worker(app, loglevel=level, quiet=True).execute_from_commandline()


def register(group: click.Group) -> None:
    for command in (worker, ref, pay, balances, replay_rejected, state, blocked):
        group.add_command(command)
    from pipeline.alerts.cli import alerts as alerts_command

    group.add_command(alerts_command)
    from pipeline.adapters.cli import register as register_adapters
    from pipeline.api.cli import register as register_api
    from pipeline.cards.cli import register as register_cards
    from pipeline.rerate.cli import register as register_rerate
    from pipeline.invoices.cli import register as register_invoices
    from pipeline.sinks.cli import register as register_clickhouse

    register_clickhouse(group)
    register_invoices(group)
    register_adapters(group)
    register_api(group)
    register_cards(group)
    register_rerate(group)
    try:  # the demo and the benchmarks live beside the package, in a source checkout only
        from devkit.cli import register as register_devkit
    except ImportError:
        return
    register_devkit(group)


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

    from pydantic import ValidationError

    from pipeline.cdr.decode import describe_validation_error

    payment_id = payment_id or str(uuid.uuid4())
    try:  # the text as typed: the payment stage's rule judges it, not Decimal(), which takes "1_000"
        payment = asyncio.run(send_payment(Settings(), payment_id, account, amount))
    except ValidationError as exc:
        raise click.BadParameter(describe_validation_error(exc), param_hint="AMOUNT") from None
    click.echo(f"payment {payment_id}: {account} +{payment.amount}")


@click.command(help="Balances now (all accounts, or the ACCOUNTs given), with what running calls hold of them "
                    "and what is left after the holds; an account never charged nor paid is 0.")
@click.argument("accounts", nargs=-1)
def balances(accounts: tuple[str, ...]) -> None:
    from pipeline.control_topic import current_balances, current_holds

    settings = Settings()
    known, held = asyncio.run(current_balances(settings)), asyncio.run(current_holds(settings))
    click.echo(f"{'account':<20} {'balance':>16} {'held':>16} {'after holds':>16}")
    for account in accounts or sorted(known.keys() | held.keys()):
        balance, holds = known.get(account, Decimal(0)), held.get(account, Decimal(0))
        click.echo(f"{account:<20} {balance:>16} {holds:>16} {balance - holds:>16}")


@click.command("replay-rejected", help="Send rejected records back to the topic they came from.")
@click.option("--reason", default=None, help="only records rejected for this reason (e.g. no_rate)")
@click.option("--allow-old", is_flag=True,
              help="rate CDRs older than RATING_DEDUP_DAYS anyway (for `--reason too_old`: you vouch they were never charged)")
def replay_rejected(reason: str | None, allow_old: bool) -> None:
    from pipeline.replay import replay

    counts = asyncio.run(replay(Settings(), reason, allow_old))
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
