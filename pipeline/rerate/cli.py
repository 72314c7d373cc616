"""`python -m pipeline rerate --from DATE --to DATE [--account A | --reseller R] [--dry-run] [--id RUN]`.

Prints the run id first (give it to --id to continue a run that stopped), a progress bar on
stderr, then the per-account table: calls, old total, new total, difference.
"""
from __future__ import annotations

import asyncio
import sys
from datetime import date, datetime

import click

from pipeline.logging_setup import setup_logging
from pipeline.rerate.run import new_run_id
from pipeline.rerate.run import rerate as run
from pipeline.rerate.scope import Scope, ScopeError
from pipeline.settings import Settings

DAY_OR_TIME = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"])


def register(group: click.Group) -> None:
    group.add_command(rerate)


@click.command(help="Price a period's calls again with today's reference data; each changed call gets a new "
                    "version and each balance moves by the exact difference, once per run id.")
@click.option("--from", "first", type=DAY_OR_TIME, required=True, help="first day (UTC), or a time")
@click.option("--to", "last", type=DAY_OR_TIME, required=True, help="last day, included (UTC), or an exclusive time")
@click.option("--account", default=None, help="only this account's calls and the calls to its DIDs")
@click.option("--reseller", default=None, help="only the calls of this reseller's tree")
@click.option("--dry-run", is_flag=True, help="show the table and change nothing")
@click.option("--id", "run_id", default=None, help="the run's id: the same id continues a stopped run")
@click.option("--throttle", type=click.FloatRange(min=0.1), default=None,
              help="at most this many calls a second (spares a cluster busy rating)")
@click.option("--chunk", default=2000, show_default=True, hidden=True, help="calls per step")
def rerate(first: datetime, last: datetime, account: str | None, reseller: str | None, dry_run: bool,
           run_id: str | None, throttle: float | None, chunk: int) -> None:

    settings = Settings()
    setup_logging(settings.log_level)
    try:
        scope = Scope.of_days(_day_or_time(first), _day_or_time(last), account, reseller)
    except ScopeError as exc:
        raise click.BadParameter(str(exc)) from None
    run_id = run_id or new_run_id()
    click.echo(f"re-rating run {run_id}{' (dry run: nothing is written)' if dry_run else ''}")
    summary = asyncio.run(_with_progress(run, settings, scope, run_id, dry_run=dry_run, chunk=chunk,
                                         throttle=throttle))
    click.echo(summary.table())
    if summary.not_repriced:
        sys.exit(3)  # some calls could not be priced: fix the reference data and run again


async def _with_progress(run, settings, scope, run_id, **options):
    bar = None

    def on_total(total: int) -> None:
        nonlocal bar
        bar = click.progressbar(length=total, label="calls", file=sys.stderr)
        bar.__enter__()

    try:
        return await run(settings, scope, run_id, on_total=on_total, on_progress=lambda done: bar.update(done),
                         **options)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def _day_or_time(value: datetime) -> date | datetime:
    """click gives a datetime for a bare day too: midnight without a zone is read as the day."""
    if value.tzinfo is None and (value.hour, value.minute, value.second) == (0, 0, 0):
        return value.date()
    return value
