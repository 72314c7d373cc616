"""bench-rerate: stored calls re-rated per second, beside the first rating's calls per second,
measured in the same run on the same calls (the absolute speed depends on the machine).

- first rating: process_cdr on the CDR's JSON bytes, what the rate stage does per CDR;
- re-rating (pure): reprice on the stored row (CDR rebuilt, priced, new record, old and new
  debits compared), what a run does per call; every call changes (r1's retail tariff went up);
- re-rating from ClickHouse (`--clickhouse`): the calls stored in a scratch database (untimed),
  then a dry run of pipeline.rerate.run.rerate over them: rated_calls FINAL read in chunks plus
  the pricing; a real run adds the Kafka writes of the changed calls.
The calls are the sample operator's (samples/), 1 in 20 a call to a DID.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import orjson

from pipeline.cdr.process import Source, process_cdr
from pipeline.reference.book import ReferenceBook
from pipeline.reference.csv_rates import resolve_rates_csv
from pipeline.reference.records import parse_reference_record
from pipeline.rerate.reprice import Repriced, reprice
from pipeline.rerate.scope import SELECTED, Scope
from pipeline.schemas import wire
from pipeline.schemas.reference import DidIn, RateIn, TariffIn
from pipeline.settings import REPO_ROOT, Settings
from pipeline.sinks.rows import COLUMNS, row_from_record

SAMPLES = REPO_ROOT / "samples"
CHUNK = 20_000
START = datetime(2026, 10, 1, tzinfo=timezone.utc)
SOURCE = Source("cdr.raw", 0, 0)
CALLERS = ("u1", "u2", "u3", "d1")
DSTS = ("37052123456", "37061234567", "4420712345", "12125550123")
DID = "37052000001"


@dataclass(frozen=True)
class Result:
    name: str
    calls: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0


def sample_book() -> ReferenceBook:
    book = ReferenceBook()
    for name in ("operator.json", "resellers.json"):
        for obj in json.loads((SAMPLES / name).read_text()):
            record = parse_reference_record(obj)
            book.apply(resolve_rates_csv(record, SAMPLES) if isinstance(record, TariffIn) else record)
    book.apply(DidIn(number=DID, reseller="r1", user="u1", owner_rate={"rate": "0.8"},
                     rates={"incoming": {"rate": "0.1"}, "owner": {"rate": "0.5"}, "provider": {"rate": "0.02"}}))
    return book


def cdr_payloads(first: int, count: int) -> list[bytes]:
    out = []
    for n in range(first, first + count):
        cdr = {"call_id": f"b{n}", "server_id": "ast1", "account": CALLERS[n % 4], "dst": DSTS[n % 4],
               "start_time": int((START + timedelta(seconds=n)).timestamp()), "billsec": 1 + n % 600,
               "provider": "p1"}
        if n % 20 == 0:
            cdr.update(account="" if n % 40 == 0 else "u2", dst=DID, did=DID)
        out.append(orjson.dumps(cdr))
    return out


def stored_rows(outputs) -> list[dict]:
    """What the sink stores, read back as the run's SELECT gives it."""
    rows = []
    for out in outputs:
        row = dict(zip(COLUMNS, row_from_record(wire.decode("rated_call.v1", out.value))))
        row["start_time"] = datetime.fromtimestamp(row["start_time"], timezone.utc)
        rows.append({name: row[name] for name in SELECTED})
    return rows


def raise_retail(book: ReferenceBook) -> None:
    """The tariff fix every stored call is re-rated for."""
    book.update_rates("t-r1-retail", [RateIn(prefix="370", rate="2.5")])
    book.update_rates("t-r2-retail", [RateIn(prefix="370", rate="2.1", increment=60)])


def run_pure(calls: int, progress: Callable[[str], None] = print) -> list[Result]:
    first_book, new_book = sample_book(), sample_book()
    raise_retail(new_book)
    rated_at = datetime.now(timezone.utc)
    first_s = rerate_s = 0.0
    changed = 0
    for first in range(0, calls, CHUNK):
        payloads = cdr_payloads(first, min(CHUNK, calls - first))
        began = time.perf_counter()
        outputs = [process_cdr(b"k", payload, SOURCE, first_book, rated_at) for payload in payloads]
        first_s += time.perf_counter() - began
        assert all(out.rated for out in outputs), next(out.value for out in outputs if not out.rated)
        rows = stored_rows(outputs)
        began = time.perf_counter()
        results = [reprice(row, new_book, rated_at, "bench") for row in rows]
        rerate_s += time.perf_counter() - began
        changed += sum(1 for r in results if isinstance(r, Repriced) and r.record is not None)
        progress(f"  {first + len(payloads):,} calls")
    progress(f"{changed:,} of {calls:,} calls changed")
    return [Result("first rating (process_cdr)", calls, first_s), Result("re-rating (reprice)", calls, rerate_s)]


def run_clickhouse(settings: Settings, calls: int, progress: Callable[[str], None] = print) -> Result:
    from pipeline.rerate.run import rerate
    from pipeline.sinks.clickhouse import ClickHouseWriter, client_url, connect
    from pipeline.sinks.migrate import apply_migrations, load_migrations

    scratch = f"{settings.clickhouse_database}_bench_rerate_{uuid.uuid4().hex[:8]}"
    scratch_settings = settings.model_copy(update={"clickhouse_url": client_url(settings, scratch)})
    admin = connect(settings, database="default")
    book = sample_book()
    try:
        apply_migrations(admin.execute, scratch, load_migrations())
        writer = ClickHouseWriter(scratch_settings)
        rated_at = datetime.now(timezone.utc)
        for first in range(0, calls, CHUNK):
            outputs = [process_cdr(b"k", p, SOURCE, book, rated_at) for p in cdr_payloads(first, min(CHUNK, calls - first))]
            writer.write([row_from_record(wire.decode("rated_call.v1", out.value)) for out in outputs])
        writer.close()
        progress(f"{calls:,} calls stored in {scratch}; re-rating them (dry run) ...")
        raise_retail(book)
        scope = Scope(START, START + timedelta(seconds=calls + 1))
        began = time.perf_counter()
        summary = asyncio.run(rerate(scratch_settings, scope, "bench", dry_run=True, book=book))
        seconds = time.perf_counter() - began
        assert summary.calls == calls, summary.calls
        return Result("re-rating from ClickHouse (dry run)", calls, seconds)
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {scratch}")
        admin.disconnect()


def main(calls: int, clickhouse: bool, echo: Callable[[str], None] = print) -> list[Result]:
    echo(f"{calls:,} calls, first rating and re-rating in the same run ...")
    results = run_pure(calls, echo)
    if clickhouse:
        results.append(run_clickhouse(Settings(), calls, echo))
    width = max(len(r.name) for r in results)
    echo(f"{'path'.ljust(width)}  {'calls':>10}  {'seconds':>8}  {'calls/s':>10}")
    for r in results:
        echo(f"{r.name.ljust(width)}  {r.calls:>10,}  {r.seconds:>8.2f}  {r.per_second:>10,.0f}")
    return results


def command():
    import click

    @click.command("bench-rerate", help="Stored calls re-rated per second beside the first rating's calls per "
                                        "second, on the same calls in the same run.")
    @click.option("--calls", type=click.IntRange(1), default=1_000_000, show_default=True)
    @click.option("--clickhouse/--no-clickhouse", default=False, show_default=True,
                  help="also a dry run reading the calls back from a scratch ClickHouse database")
    def bench_rerate(calls: int, clickhouse: bool) -> None:
        main(calls, clickhouse, click.echo)

    return bench_rerate


if __name__ == "__main__":
    command()()
