"""ClickHouse commands for `python -m pipeline`: migrate and the reports.

`register(group)` adds them to Faust's click group (pipeline/cli.py calls it). They build their
own Settings from the environment and never import the Faust app.
"""
from __future__ import annotations

import click

from pipeline.settings import Settings


@click.command("migrate", help="Create or upgrade the ClickHouse schema; running it twice is a no-op.")
def migrate() -> None:
    from pipeline.sinks.migrate import migrate as apply

    settings = Settings()
    applied = apply(settings)
    if applied:
        for name in applied:
            click.echo(f"applied {name} to {settings.clickhouse_database}")
    else:
        click.echo(f"schema up to date ({settings.clickhouse_database})")


def register(group: click.Group) -> None:
    from pipeline.reports.cli import REPORT_COMMANDS

    for command in (migrate, *REPORT_COMMANDS):
        group.add_command(command)
