"""The ClickHouse schema command for `python -m pipeline`: migrate (the reports are pipeline/reports/cli.py).

`register(group)` adds them to Faust's click group (pipeline/cli.py calls it). They build their
own Settings from the environment and never import the Faust app.
"""
from __future__ import annotations

import click

from pipeline.settings import Settings
from pipeline.sinks.migrate import migrate as apply


@click.command("migrate", help="Create or upgrade the ClickHouse schema; running it twice is a no-op.")
def migrate() -> None:
    settings = Settings()
    applied = apply(settings)
    if applied:
        for name in applied:
            click.echo(f"applied {name} to {settings.clickhouse_database}")
    else:
        click.echo(f"schema up to date ({settings.clickhouse_database})")


def register(group: click.Group) -> None:
    group.add_command(migrate)
