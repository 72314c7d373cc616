"""Report commands: calls, profit, top-destinations, plot. Clients only: Settings from the
environment, one ClickHouse connection, no Faust app."""
from __future__ import annotations

from pathlib import Path

import click

from pipeline.reports import queries
from pipeline.reports.output import FORMATS, render
from pipeline.reports.run import fetch, with_asr_acd
from pipeline.settings import Settings
from pipeline.sinks.clickhouse import connect

DAY = click.DateTime(formats=["%Y-%m-%d"])


def period_options(command):
    command = click.option("--to", "date_to", type=DAY, required=True, help="last day (UTC), included")(command)
    return click.option("--from", "date_from", type=DAY, required=True, help="first day (UTC)")(command)


def format_option(command):
    return click.option("--format", "output_format", type=click.Choice(FORMATS), default="text",
                        show_default=True)(command)


def _run(query: queries.Query):
    client = connect(Settings())
    try:
        return fetch(client, query)
    finally:
        client.disconnect()


def _database() -> str:
    return Settings().clickhouse_database


@click.command("calls", help="Every call of a reseller's users in a period (only his: never another reseller's).")
@click.option("--reseller", required=True)
@click.option("--user", default=None, help="only this user of the reseller")
@period_options
@format_option
def calls(reseller: str, user: str | None, date_from, date_to, output_format: str) -> None:
    query = queries.calls(_database(), reseller, date_from.date(), date_to.date(), user=user)
    click.echo(render(_run(query), output_format), nl=False)


@click.command("profit", help="Admin and reseller profit per reseller ('' = the admin's direct users).")
@click.option("--reseller", default=None, help="only this reseller")
@period_options
@format_option
def profit(reseller: str | None, date_from, date_to, output_format: str) -> None:
    query = queries.profit(_database(), date_from.date(), date_to.date(), reseller=reseller)
    click.echo(render(_run(query), output_format), nl=False)


@click.command("top-destinations", help="Destination prefixes by revenue: calls, minutes, revenue, profit, ASR, ACD.")
@click.option("--reseller", default=None, help="only this reseller's users; profit is then his")
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
@period_options
@format_option
def top_destinations(reseller: str | None, limit: int, date_from, date_to, output_format: str) -> None:
    query = queries.top_destinations(_database(), date_from.date(), date_to.date(), reseller=reseller, limit=limit)
    click.echo(render(with_asr_acd(_run(query)), output_format), nl=False)


@click.command("plot", help="Daily revenue and profit per reseller as a PNG.")
@period_options
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="FILE.png")
def plot(date_from, date_to, out: Path) -> None:
    # imported when a plot is drawn: matplotlib adds ~1.5-2.5 s (measured) to every other command's start
    from pipeline.reports.plot import plot_daily

    first, last = date_from.date(), date_to.date()
    table = _run(queries.daily_by_reseller(_database(), first, last))
    plot_daily(table, out, title=f"Daily revenue and profit per reseller, {first} to {last} (UTC)")
    click.echo(f"wrote {out} ({len(table.rows)} reseller-days)")


REPORT_COMMANDS = (calls, profit, top_destinations, plot)


def register(group: click.Group) -> None:
    for command in REPORT_COMMANDS:
        group.add_command(command)
