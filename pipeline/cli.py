"""`python -m pipeline --help` lists every command. Each builds its Settings from the environment
when it runs; nothing is built at import time.
"""
from __future__ import annotations

import asyncio
import gc
import sys
import uuid
from decimal import Decimal
from importlib.metadata import entry_points

import click
from pydantic import ValidationError

from pipeline.adapters.cli import register as register_adapters
from pipeline.agents.cli import alerts as alerts_command
from pipeline.api.cli import register as register_api
from pipeline.cards.cli import register as register_cards
from pipeline.control_topic import account_states, current_balances, current_holds
from pipeline.invoices.cli import register as register_invoices
from pipeline.kafka.admin import prepare_topics_or_exit
from pipeline.logging_setup import setup_logging
from pipeline.payments import send_payment
from pipeline.reference.publish import ApplyError, apply_files
from pipeline.reference.rates_cli import rates as rates_command
from pipeline.replay import replay
from pipeline.reports.cli import register as register_reports
from pipeline.rerate.cli import register as register_rerate
from pipeline.schemas.validation_errors import describe_validation_error
from pipeline.settings import Settings
from pipeline.sinks.cli import register as register_clickhouse

# Other distributions add commands through entry points in this group, each a `register(group)`
# function: this checkout's pyproject declares devkit's (the demo and the benchmarks), which lives
# beside the package and is not shipped with it.
COMMAND_PLUGINS = "rating_pipeline.commands"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Real-time rating for VoIP operators that sell through resellers."""


@click.command(help="Run the pipeline's stages (RATING_ROLES picks which) until stopped.")
@click.option("--loglevel", "-l", default=None, help="log level (default: RATING_LOG_LEVEL)")
@click.option("--without-web", is_flag=True, hidden=True,
              help="accepted for compatibility: the worker has no Faust web server")
def worker(loglevel: str | None, without_web: bool) -> None:
    # imported when the worker starts: Faust adds ~1 s (measured) to every other command's start
    from pipeline.faust_host import Worker
    from pipeline.worker import build_app

    settings = Settings()
    level = (loglevel or settings.log_level).upper()
    prepare_topics_or_exit(settings)
    app = build_app(settings)
    # Every batch makes tens of thousands of short-lived objects (records, dicts, Decimals) and the
    # cyclic collector kept walking the long-lived ones (modules, the tariff index): 4% of the
    # worker's time under py-spy. Freeze what exists now, and collect the young less often.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    Worker(app, loglevel=level, quiet=True).execute_from_commandline()


def register(group: click.Group) -> None:
    for command in (worker, ref, pay, balances, replay_rejected, state, blocked, alerts_command):
        group.add_command(command)
    for add_commands in (register_clickhouse, register_reports, register_invoices, register_adapters, register_api,
                         register_cards, register_rerate):
        add_commands(group)
    group.add_command(rates_command)
    for plugin in entry_points(group=COMMAND_PLUGINS):
        try:
            add_commands = plugin.load()
        except ImportError:  # declared, but not importable here (devkit outside a source checkout)
            continue
        add_commands(group)


@click.group(help="Reference data: accounts, tariffs, providers, DIDs, holidays.")
def ref() -> None:
    pass


@ref.command("apply", help="Validate FILEs (JSON, one object or a list each) and publish them all, or nothing.")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def ref_apply(files: tuple[str, ...]) -> None:
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
@click.option("--kind", type=click.Choice(["payment", "refund", "correction"]), default="payment", show_default=True,
              help="refund: AMOUNT (> 0) is taken back; correction: AMOUNT is signed (after --: pay A -- -5)")
@click.option("--reason", default="", help="why (required for a refund or a correction)")
def pay(account: str, amount: str, payment_id: str | None, kind: str, reason: str) -> None:
    payment_id = payment_id or str(uuid.uuid4())
    try:  # the text as typed: the payment stage's rule judges it, not Decimal(), which takes "1_000"
        payment = asyncio.run(send_payment(Settings(), payment_id, account, amount, kind, reason))
    except ValidationError as exc:
        detail = describe_validation_error(exc)
        hint = {"reason": "--reason", "kind": "--kind"}.get(detail.split(":", 1)[0], "AMOUNT")
        raise click.BadParameter(detail, param_hint=hint) from None
    sign = "+" if payment.delta > 0 else ""
    click.echo(f"{payment.kind} {payment_id}: {account} {sign}{payment.delta}" + (f" ({payment.reason})" if payment.reason else ""))


@click.command(help="Balances now (all accounts, or the ACCOUNTs given), with what running calls hold of them "
                    "and what is left after the holds; an account never charged nor paid is 0.")
@click.argument("accounts", nargs=-1)
def balances(accounts: tuple[str, ...]) -> None:
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
    counts = asyncio.run(replay(Settings(), reason, allow_old))
    click.echo(f"replayed {sum(counts.values())} record(s)" + "".join(f"\n  {r}: {n}" for r, n in sorted(counts.items())))


@click.command(help="The current state of ACCOUNT on switch.control, as a switch sees it.")
@click.argument("account")
def state(account: str) -> None:
    current = asyncio.run(account_states(Settings())).get(account)
    if current is None:
        click.echo(f"{account}: no state published yet")
        sys.exit(1)
    click.echo(" ".join(f"{k}={v}" for k, v in current.items()))


@click.command(help="Accounts blocked now (optionally only those a given switch serves).")
@click.option("--server", default=None, help="the switch (server id)")
def blocked(server: str | None) -> None:
    rows = [
        s for s in asyncio.run(account_states(Settings())).values()
        if s["state"] == "blocked" and (server is None or s["server"] == server)
    ]
    click.echo(f"{'account':<20} {'reason':<18} {'server':<12} {'reseller':<12} {'balance':>14} version")
    for s in sorted(rows, key=lambda s: s["account"]):
        click.echo(f"{s['account']:<20} {s['reason']:<18} {s['server']:<12} {s['reseller']:<12} {s['balance']:>14} {s['version']}")
    click.echo(f"{len(rows)} blocked")
