"""The demo and the benchmarks: commands of `python -m pipeline` in a source checkout, kept out of
the shipped package (pyproject ships `pipeline` only)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from pipeline.settings import Settings


@click.command(help="Run the pipeline on the sample data end to end and show what it did.")
@click.option("--calls", default=2000, show_default=True, help="how many sample CDRs to send")
@click.option("--switch", "with_switch", is_flag=True,
              help="also place SIPp calls through a real Kamailio (Debian: kamailio, sip-tester)")
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="leave the worker and the API + portal running, with logins for admin, r1 and u1")
def demo(calls: int, with_switch: bool, serve: bool) -> None:
    from devkit.demo import run_demo

    sys.exit(run_demo(Settings(), calls, with_switch, serve))


@click.command("bench-rating", help="Rating engine speed: calls priced per second on one core.")
@click.option("--prefixes", default=100_000, show_default=True)
@click.option("--calls", default=200_000, show_default=True)
def bench_rating(prefixes: int, calls: int) -> None:
    from devkit.bench_rating import run_benchmark

    run_benchmark(prefixes=prefixes, calls=calls)


@click.command("bench-stream", help="CDRs/s through the rating stage and the whole worker beside raw aiokafka, "
                                     "raw librdkafka and an empty Faust agent.")
@click.option("--cdrs", default=100_000, show_default=True)
@click.option("--before/--no-before", default=True, show_default=True,
              help="also the whole worker on aiokafka with its rows in a thread (as before the hot-path work)")
def bench_stream(cdrs: int, before: bool) -> None:
    from devkit.bench_stream import run

    run(Settings(), cdrs, with_before=before)


@click.command("bench-guard", help="Latency from a CDR crossing a balance threshold to its block signal.")
@click.option("--samples", default=200, show_default=True)
@click.option("--background-rate", default=1000, show_default=True, help="other CDRs per second meanwhile")
def bench_guard(samples: int, background_rate: int) -> None:
    from devkit.bench_guard import run

    run(Settings(), samples, background_rate)


@click.command("bench-sink", help="Rows/s through ClickHouseWriter beside a raw clickhouse-driver insert (scratch database).")
@click.option("--rows", "total", type=click.IntRange(1), default=200_000, show_default=True)
@click.option("--batch", "batch_size", type=click.IntRange(1), default=10_000, show_default=True)
def bench_sink(total: int, batch_size: int) -> None:
    from devkit.bench_sink import run_bench
    from pipeline.reports.output import text_table
    from pipeline.reports.run import Table

    results = run_bench(Settings(), total, batch_size, progress=click.echo)
    table = Table(("path", "rows", "seconds", "rows_per_second"), [
        (result.name, result.rows, f"{result.seconds:.2f}", f"{result.rows_per_second:,.0f}")
        for result in results
    ])
    click.echo(text_table(table), nl=False)


@click.command("bench-state", help="The charge stage's dedup state: N calls on disk (RocksDB) beside the in-memory dict.")
@click.option("--calls", default=20_000_000, show_default=True)
def bench_state(calls: int) -> None:
    from devkit.bench_state import run

    run(Settings(), calls)


@click.command("bench-switch", help="Block signal -> 402 at a real Kamailio, beside the guard's CDR -> signal.")
@click.option("--samples", default=100, show_default=True)
@click.option("--guard-samples", default=100, show_default=True)
def bench_switch(samples: int, guard_samples: int) -> None:
    from devkit.bench_switch import run

    run(Settings(), samples, guard_samples)


@click.command("bench-api", help="p50/p99 of a reseller's calls and stats pages with N calls, and API writes/s, beside raw ClickHouse/Kafka.")
@click.option("--calls", default=1_000_000, show_default=True)
@click.option("--requests", default=200, show_default=True)
@click.option("--writes", default=50, show_default=True)
def bench_api(calls: int, requests: int, writes: int) -> None:
    from devkit.bench_api import run

    run(Settings(), calls, requests, writes, progress=click.echo)


@click.command("bench-scale", help="Whole-pipeline CDR/s with 1, 2, 4 worker processes beside raw aiokafka consumer processes "
                                    "(the ceiling), the pause when a worker joins or leaves under load, and a profile of one worker.")
@click.option("--workers", default="1,2,4", show_default=True, help="worker process counts to measure, comma-separated")
@click.option("--cdrs", type=click.IntRange(1), default=60_000, show_default=True, help="CDRs per run")
@click.option("--partitions", type=click.IntRange(1), default=8, show_default=True)
@click.option("--profile/--no-profile", default=True, show_default=True, help="one more 1-worker run under py-spy")
@click.option("--pauses/--no-pauses", default=True, show_default=True, help="the join/leave pauses")
@click.option("--pause-rate", type=click.FloatRange(1), default=1000.0, show_default=True, help="CDR/s while workers join and leave")
@click.option("--pause-settle", type=click.FloatRange(1), default=8.0, show_default=True, help="seconds between the events")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="also write the figures here")
def bench_scale(workers: str, cdrs: int, partitions: int, profile: bool, pauses: bool, pause_rate: float,
                pause_settle: float, json_path: Path | None) -> None:
    from devkit.bench_scale import run

    try:
        counts = [int(n) for n in workers.split(",") if n.strip()]
    except ValueError:
        raise click.BadParameter("a comma-separated list of numbers, e.g. 1,2,4", param_hint="--workers") from None
    if not counts or min(counts) < 1:
        raise click.BadParameter("at least one count, each 1 or more", param_hint="--workers")
    run(Settings(), counts, cdrs, partitions, profile, pauses, pause_rate, pause_settle, json_path)


@click.command("bench-auth", help="POST /v1/authorize latency at the client while the worker rates CDRs, beside the "
                                   "broker's round trip; throughput, live holds, and the overspend storm.")
@click.option("--rates", default="100,1000", show_default=True, help="authorizations/s to measure, comma-separated")
@click.option("--seconds", type=click.FloatRange(1), default=10.0, show_default=True, help="per rate")
@click.option("--background-rate", type=click.IntRange(0), default=10_000, show_default=True,
              help="other CDRs/s sent to the worker meanwhile")
@click.option("--holds", type=click.IntRange(0), default=100_000, show_default=True,
              help="live holds placed, then the worker killed and restarted (0: skip)")
@click.option("--storm", "storm_calls", type=click.IntRange(0), default=2000, show_default=True,
              help="calls in the overspend storm (0: skip)")
def bench_auth(rates: str, seconds: float, background_rate: int, holds: int, storm_calls: int) -> None:
    from devkit.bench_auth import run

    try:
        values = [int(n) for n in rates.split(",") if n.strip()]
    except ValueError:
        raise click.BadParameter("a comma-separated list of numbers, e.g. 100,1000", param_hint="--rates") from None
    run(Settings(), values, seconds, background_rate, holds, storm_calls)


@click.command("bench-decks", help="Seconds to read a deck of N lines in each layout (generic, astpp, cgrates) beside "
                                   "the contract CSV reader.")
@click.option("--lines", default=1_000_000, show_default=True, help="lines (prefixes) in each deck")
def bench_decks(lines: int) -> None:
    from devkit.bench_decks import run

    run(lines)


def register(group: click.Group) -> None:
    from devkit.bench_alerts import bench_alerts
    from devkit.bench_invoices import bench_invoices
    from devkit.bench_rerate import command as bench_rerate

    group.add_command(bench_alerts)
    from devkit.bench_cards import bench_cards

    group.add_command(bench_cards)

    for command in (demo, bench_rating, bench_stream, bench_guard, bench_sink, bench_state, bench_invoices, bench_switch,
                    bench_api, bench_scale, bench_auth, bench_rerate(), bench_decks):
        group.add_command(command)
