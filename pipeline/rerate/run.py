"""A re-rating run: rated_calls FINAL in, balance.adjustments + cdr.rated + rerate_adjustments out.

Per chunk of calls, in this order, each step acknowledged before the next:
1. the adjustments (balance.adjustments, keyed by account): the balance stage applies each id once;
2. their mirror rows (rating.rerate_adjustments), which the invoices read (invoice_lines.py);
3. the new versions of the changed calls (cdr.rated, `version` + 1, `rerate_id`): the sink puts
   them in rated_calls, where FINAL shows them.
Killed anywhere, the run started again with the same id continues (the double-debit trap of rating
engines, CGRateS #48, closed on purpose):
- a call whose FINAL row carries this run's id is done (its adjustments were acknowledged before
  its record was sent) and is only counted;
- an adjustment already on balance.adjustments with this run's id (the journal, read first) is not
  sent again, and its amount is the one that counts: it may have been applied already;
- anything else is sent (again): an id the balance stage has seen is applied once all the same.
Run it once the ClickHouse sink has caught up with cdr.rated: the old prices are read from
rated_calls FINAL, so a version still on its way there would be taken for the old one.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

import orjson

from pipeline.balances.charges import owed_by
from pipeline.invoices import ledger  # ledger.read_invoices at call time: tests replace it
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topic_io import read_all
from pipeline.kafka.topics import BALANCE_ADJUSTMENTS, CDR_RATED
from pipeline.reference.feed import read_book
from pipeline.rerate.adjustment import Invoiced, adjustment_id, adjustment_value, bill_period
from pipeline.rerate.reprice import NotRepriced, reprice
from pipeline.rerate.scope import SELECTED, Scope
from pipeline.rerate.summary import RunSummary
from pipeline.schemas import wire
from pipeline.schemas.cdr import call_key
from pipeline.settings import Settings
from pipeline.sinks.clickhouse import connect

log = logging.getLogger(__name__)
CHUNK = 2000  # calls per step: what a kill can leave half-done, and what a resume re-checks
ADJUSTMENT_COLUMNS = ("id", "rerate_id", "account", "call", "amount", "call_start", "bill_period", "created_at")
ZERO = Decimal(0)


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"rr-{now:%Y%m%d%H%M%S}-{secrets.token_hex(3)}"


@dataclass
class Journal:
    """The adjustments a run with this id already sent: id -> amount, and per call."""
    amounts: dict[str, Decimal]
    by_call: dict[str, dict[str, Decimal]]  # call key -> account -> amount

    @classmethod
    def from_values(cls, rerate_id: str, values) -> Journal:
        amounts: dict[str, Decimal] = {}
        by_call: dict[str, dict[str, Decimal]] = {}
        for value in values:
            adjustment = orjson.loads(value)
            if adjustment.get("rerate_id") != rerate_id or adjustment["id"] in amounts:
                continue
            amounts[adjustment["id"]] = Decimal(adjustment["amount"])
            by_call.setdefault(adjustment["call"], {})[adjustment["account"]] = Decimal(adjustment["amount"])
        return cls(amounts, by_call)


async def rerate(settings: Settings, scope: Scope, rerate_id: str, *, dry_run: bool = False,
                 on_total: Callable[[int], None] | None = None, on_progress: Callable[[int], None] | None = None,
                 chunk: int = CHUNK, throttle: float | None = None,
                 clients: KafkaClients | None = None, book=None) -> RunSummary:
    """Run (or continue) the re-rating `rerate_id` over `scope`; the per-account summary.
    `throttle`: at most that many calls a second (spares a cluster that is busy rating).
    `book`: the reference data to price with (default: the ref topics read to their end)."""

    clients = clients or KafkaClients(settings)
    book = book if book is not None else await read_book(settings, clients)
    journal = Journal({}, {}) if dry_run else await read_journal(settings, rerate_id, clients)
    invoiced = {} if dry_run else await invoiced_by_account(settings)
    reader, writer = connect(settings), connect(settings)
    producer = None
    summary = RunSummary()
    try:
        count_sql, params = scope.count(settings.clickhouse_database)
        total = (await asyncio.to_thread(reader.execute, count_sql, params))[0][0]
        if on_total:
            on_total(total)
        if not dry_run:
            producer = clients.producer(linger_ms=20)
            await producer.start()
        select_sql, params = scope.select(settings.clickhouse_database)
        rows = reader.execute_iter(select_sql, params, settings={"max_block_size": chunk})
        rated_at = datetime.now(timezone.utc)
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            batch = await asyncio.to_thread(_take, rows, chunk)
            if not batch:
                break
            # off the event loop: the API runs this in its own loop (one chunk at a time, so the
            # book's plan caches are only ever touched by one thread)
            step = await asyncio.to_thread(_price_chunk, batch, book, rated_at, rerate_id, journal, summary)
            if not dry_run:
                await _write_chunk(settings, producer, writer, step, rerate_id, journal, invoiced)
            if on_progress:
                on_progress(len(batch))
            if throttle:
                await asyncio.sleep(max(0.0, len(batch) / throttle - (loop.time() - began)))
    finally:
        if producer is not None:
            await producer.stop()
        reader.disconnect()
        writer.disconnect()
    return summary


@dataclass
class ChunkOutput:
    adjustments: list[tuple[str, str, Decimal, datetime]]  # (call, account, amount, call start)
    records: list[tuple[str, dict]]  # (call key, new cdr.rated record)


def _take(rows, size: int) -> list[dict]:
    batch = []
    for row in rows:
        batch.append(dict(zip(SELECTED, row)))
        if len(batch) == size:
            break
    return batch


def _price_chunk(batch: list[dict], book, rated_at: datetime, rerate_id: str, journal: Journal,
                 summary: RunSummary) -> ChunkOutput:
    out = ChunkOutput([], [])
    for row in batch:
        summary.calls += 1
        if row["rerate_id"] == rerate_id:  # done by an earlier attempt of this run
            new_owed = dict(owed_by({**row, "own_provider": bool(row["own_provider"])}))
            sent = journal.by_call.get(_key(row), {})
            old_owed = {a: new_owed.get(a, ZERO) - sent.get(a, ZERO) for a in {**new_owed, **sent}}
            summary.add(old_owed, new_owed)
            summary.changed += 1
            continue
        result = reprice(row, book, rated_at, rerate_id)
        if isinstance(result, NotRepriced):
            summary.refused(result.reason)
            continue
        if result.record is None:
            summary.add(result.old_owed, result.new_owed)
            continue
        summary.changed += 1
        sent = journal.by_call.get(result.key)
        differences = result.differences
        if sent is not None:  # an earlier attempt sent these: they are the ones that count
            differences = sent
            old_owed = {a: result.new_owed.get(a, ZERO) - sent.get(a, ZERO) for a in {**result.new_owed, **sent}}
            summary.add(old_owed, result.new_owed)
        else:
            summary.add(result.old_owed, result.new_owed)
        start = row["start_time"] if row["start_time"].tzinfo else row["start_time"].replace(tzinfo=timezone.utc)
        out.adjustments += [(result.key, account, amount, start) for account, amount in differences.items()]
        out.records.append((result.key, result.record))
    return out


async def _write_chunk(settings: Settings, producer, writer, step: ChunkOutput, rerate_id: str, journal: Journal,
                       invoiced: dict[str, list[Invoiced]]) -> None:
    adjustments_topic, rated_topic = settings.topic(BALANCE_ADJUSTMENTS), settings.topic(CDR_RATED)
    now_ms = int(datetime.now(timezone.utc).timestamp() * 1000)
    sends = [await producer.send(adjustments_topic, adjustment_value(rerate_id, call, account, amount, now_ms),
                                 key=account.encode())
             for call, account, amount, _ in step.adjustments
             if adjustment_id(rerate_id, call, account) not in journal.amounts]
    await asyncio.gather(*sends)
    if step.adjustments:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        rows = [(adjustment_id(rerate_id, call, account), rerate_id, account, call, amount, _seconds(start),
                 bill_period(start, invoiced.get(account, ())), _seconds(now))
                for call, account, amount, start in step.adjustments]
        statement = (f"INSERT INTO {settings.clickhouse_database}.rerate_adjustments "
                     f"({', '.join(ADJUSTMENT_COLUMNS)}) VALUES")
        await asyncio.to_thread(writer.execute, statement, rows)
    sends = [await producer.send(rated_topic, wire.encode("rated_call.v1", record, settings.wire_format),
                                 key=key.encode())
             for key, record in step.records]
    await asyncio.gather(*sends)


async def read_journal(settings: Settings, rerate_id: str, clients: KafkaClients | None = None) -> Journal:
    messages = await read_all(settings, BALANCE_ADJUSTMENTS, clients)
    return Journal.from_values(rerate_id, (m.value for m in messages if m.value))


async def invoiced_by_account(settings: Settings) -> dict[str, list[Invoiced]]:
    """Every issued invoice's period, by account (the invoices topic, the record of truth)."""

    out: dict[str, list[Invoiced]] = {}
    for invoice in await ledger.read_invoices(settings):
        out.setdefault(invoice.account, []).append(Invoiced(invoice.period, invoice.period_start, invoice.period_end))
    return out


def _key(row: dict) -> str:
    return call_key(row["server_id"], row["call_id"], row.get("segment") or None)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _seconds(moment: datetime) -> int:
    """DateTime as epoch seconds: the driver writes an int as it is (as rows.py does)."""
    return int((moment - _EPOCH).total_seconds())
