"""ClickHouse commands for `python -m pipeline`: migrate, bench-sink, and the reports.

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


@click.command("bench-sink", help="Rows/s through ClickHouseWriter beside a raw clickhouse-driver insert (scratch database).")
@click.option("--rows", "total", type=click.IntRange(1), default=200_000, show_default=True)
@click.option("--batch", "batch_size", type=click.IntRange(1), default=10_000, show_default=True)
def bench_sink(total: int, batch_size: int) -> None:
    from pipeline.reports.output import text_table
    from pipeline.reports.run import Table
    from pipeline.sinks.bench import run_bench

    results = run_bench(Settings(), total, batch_size, progress=click.echo)
    table = Table(("path", "rows", "seconds", "rows_per_second"), [
        (result.name, result.rows, f"{result.seconds:.2f}", f"{result.rows_per_second:,.0f}")
        for result in results
    ])
    click.echo(text_table(table), nl=False)


def register(group: click.Group) -> None:
    from pipeline.reports.cli import REPORT_COMMANDS

    for command in (migrate, bench_sink, *REPORT_COMMANDS):
        group.add_command(command)
