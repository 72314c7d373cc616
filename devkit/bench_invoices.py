"""bench-invoices: issue one period's invoices of N accounts, beside the raw ClickHouse sum for them.

Runs on its own topic prefix and ClickHouse database (derived from the given settings; they and its PDFs are
removed at the end), so it never touches real invoices. Users are spread over 10 resellers (10 issuers, each
with his own number sequence); each user gets `calls_per_account` calls in the period.
Prints both timings and checks that every invoice's subtotal is the raw sum rounded to cents.
"""
from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import click
import orjson

from devkit.scratch import delete_topics_with_prefix
from pipeline.invoices import queries
from pipeline.invoices.compute import to_cents
from pipeline.invoices.issuer import IssuerDetails, publish_issuer
from pipeline.invoices.period import Period
from pipeline.invoices.service import issue_all
from pipeline.invoices.usage import run_query
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.topic_io import produce_all
from pipeline.schemas.avro import SCHEMA_DIR
from pipeline.settings import Settings
from pipeline.sinks.clickhouse import connect, insert_statement
from pipeline.sinks.migrate import migrate
from pipeline.sinks.rows import row_from_record

PERIOD = Period(2026, 10)
RESELLERS = 10
INSERT_CHUNK = 50_000


@click.command("bench-invoices", help="Issue one period's invoices of N accounts and time it beside the raw "
                                      "ClickHouse sum for them (own topics and database, removed afterwards).")
@click.option("--accounts", type=click.IntRange(1, 1_000_000), default=10_000, show_default=True)
@click.option("--calls-per-account", type=click.IntRange(1, 1000), default=3, show_default=True)
def bench_invoices(accounts: int, calls_per_account: int) -> None:
    import asyncio

    asyncio.run(run(Settings(), accounts, calls_per_account, echo=click.echo))


def isolated(settings: Settings) -> Settings:
    run = uuid.uuid4().hex[:6]
    database = f"bench_invoices_{run}"
    url = settings.clickhouse_url.rsplit("/", 1)[0] + "/" + database
    return settings.model_copy(update={
        "topic_prefix": f"{settings.topic_prefix}bench-invoices-{run}-", "clickhouse_url": url,
        "local_dir": settings.local_dir / "bench-invoices" / run,
    })


def accounts(count: int) -> list[dict]:
    resellers = [{"kind": "account", "id": f"r{n}", "type": "reseller", "name": f"Reseller {n}"} for n in range(RESELLERS)]
    users = [{"kind": "account", "id": f"u{n:06d}", "type": "user", "parent": f"r{n % RESELLERS}",
              "name": f"User {n}"} for n in range(count)]
    return resellers + users


def rated_rows(count: int, calls_per_account: int) -> list[tuple]:
    template = json.loads((SCHEMA_DIR / "examples" / "rated_call.json").read_text())
    start = datetime(2026, 10, 1, 1, tzinfo=timezone.utc)
    rows = []
    for n in range(count):
        for k in range(calls_per_account):
            at = start + timedelta(minutes=(n * calls_per_account + k) % (29 * 24 * 60))
            price = Decimal(n % 997 + k * 13 + 1).scaleb(-6) * 1234  # six places, varied
            rows.append(row_from_record({
                **template, "call_id": f"b{n}-{k}", "account": f"u{n:06d}", "reseller": f"r{n % RESELLERS}",
                "start_time": int(at.timestamp() * 1000), "user_prefix": f"37{k % 5}",
                "user_price": f"{price:.6f}", "reseller_price": f"{price / 2:.6f}",
            }))
    return rows


async def run(settings: Settings, count: int, calls_per_account: int, echo: Callable[[str], object] = print) -> dict:
    bench = isolated(settings)
    echo(f"bench-invoices: {count} accounts x {calls_per_account} calls, period {PERIOD}, prefix {bench.topic_prefix}")
    migrate(bench)
    await ensure_topics(bench)
    try:
        return await _measure(bench, count, calls_per_account, echo)
    finally:
        client = connect(bench, database="default")
        client.execute(f"DROP DATABASE IF EXISTS {bench.clickhouse_database}")
        client.disconnect()
        await delete_topics_with_prefix(bench)
        shutil.rmtree(bench.local_dir, ignore_errors=True)  # its PDFs


async def _measure(bench: Settings, count: int, calls_per_account: int, echo) -> dict:
    await produce_all(bench, "ref.accounts", [(a["id"].encode(), orjson.dumps(a)) for a in accounts(count)])
    for n in range(RESELLERS):
        await publish_issuer(bench, IssuerDetails(account=f"r{n}", company=f"Reseller {n} Ltd", number_prefix=f"R{n}",
                                                  taxes=[{"name": "VAT", "percent": "21"}]))
    await publish_issuer(bench, IssuerDetails(account="admin", company="Operator", number_prefix="OP"))
    rows = rated_rows(count, calls_per_account)
    client = connect(bench)
    for start in range(0, len(rows), INSERT_CHUNK):
        client.execute(insert_statement(bench.clickhouse_database), rows[start:start + INSERT_CHUNK])
    client.disconnect()

    begin, end = PERIOD.bounds(timezone.utc)
    started = time.perf_counter()
    raw = dict(run_query(bench, queries.totals(bench.clickhouse_database, "user", begin, end)))
    raw_seconds = time.perf_counter() - started

    started = time.perf_counter()
    issued = await issue_all(bench, PERIOD, now=end + timedelta(days=1))
    issue_seconds = time.perf_counter() - started

    users = [i for i in issued if i.account.startswith("u")]
    mismatches = [i.account for i in users if i.subtotal != to_cents(raw.get(i.account, Decimal(0)))]
    result = {
        "accounts": count, "rated_calls": len(rows), "invoices": len(issued),
        "raw_sum_seconds": round(raw_seconds, 3), "issue_seconds": round(issue_seconds, 3),
        "ms_per_invoice": round(issue_seconds * 1000 / max(len(issued), 1), 2),
        "subtotal_mismatches": len(mismatches), "database": bench.clickhouse_database,
    }
    echo(f"raw ClickHouse sum for {len(raw)} accounts: {raw_seconds:.3f} s")
    echo(f"issued {len(issued)} invoices (numbers, PDFs, Kafka, ClickHouse mirror): {issue_seconds:.1f} s, "
         f"{result['ms_per_invoice']} ms each")
    echo(f"subtotals equal to the raw sums rounded to cents: {len(users) - len(mismatches)}/{len(users)}")
    return result

