"""`python -m pipeline alerts`: run the alert agents (a Faust worker of their own); `alerts blocks`
lists who an alert blocks now; `alerts lift ALERT ACCOUNT` lifts one such block by hand."""
from __future__ import annotations

import asyncio

import click

from pipeline.alerts.store import current_blocks
from pipeline.alerts.store import lift as lift_block
from pipeline.kafka.admin import prepare_topics_or_exit
from pipeline.settings import Settings


@click.group("alerts", invoke_without_command=True,
             help="Run the alert agents until stopped (Faust agents and windowed tables over cdr.rated and "
                  "auth.holds); or a subcommand.")
@click.option("--loglevel", "-l", default=None, help="log level (default: RATING_LOG_LEVEL)")
@click.pass_context
def alerts(ctx: click.Context, loglevel: str | None) -> None:
    if ctx.invoked_subcommand is not None:
        return
    # imported when the agents start: Faust adds ~1 s (measured) to every other command's start
    from pipeline.agents.app import build_alerts_app
    from pipeline.faust_host import Worker

    settings = Settings()
    prepare_topics_or_exit(settings)
    agents = build_alerts_app(settings)
    Worker(agents.app, loglevel=(loglevel or settings.log_level).upper(), quiet=True).execute_from_commandline()


@alerts.command("blocks", help="Accounts an alert blocks now (until lifted).")
def blocks() -> None:
    rows = asyncio.run(current_blocks(Settings()))
    click.echo(f"{'account':<20} {'alert':<24} since")
    for row in rows:
        click.echo(f"{row['account']:<20} {row['alert']:<24} {row['at']}")
    click.echo(f"{len(rows)} blocked by alerts")


@alerts.command("lift", help="Lift ALERT's block of ACCOUNT (the balance guard re-judges the account: it stays "
                             "blocked if money, a manual block or another alert still blocks it).")
@click.argument("alert_id")
@click.argument("account")
def lift(alert_id: str, account: str) -> None:
    asyncio.run(lift_block(Settings(), alert_id, account, by="admin"))
    click.echo(f"lifted: alert {alert_id} no longer blocks {account}")
