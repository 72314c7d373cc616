"""The issued invoices (topic `invoices`) and gap-free numbers per issuer, across processes.

The topic has one partition, is compacted and keyed `issuer/account/period`: every invoice ever
issued stays on it, in the order its number was given. A number is taken inside a Kafka transaction
whose transactional_id belongs to the issuer (`{prefix}invoices-{issuer}`):

1. starting the producer (InitProducerId) fences any other producer of that issuer: the broker
   aborts its open transaction, and it can no longer commit;
2. inside the transaction, read the topic (read_committed) to its high watermark: every invoice
   committed for the issuer is now known, none can be committed by anybody else meanwhile;
3. take the issuer's last sequence of the year + 1, write the invoice, commit.

A fenced or failed transaction leaves nothing behind (its records are aborted, its PDFs were only
temporary files) and is retried from step 1. A number another issuer already holds (a prefix that
slipped past the write-time check of pipeline/invoices/prefixes.py) aborts the transaction: numbers
are unique across issuers, as `GET /v1/invoices/{number}` needs them to be. Two processes issuing for the same issuer therefore
take turns, and the numbers stay consecutive. Issuing an (issuer, account, period) that is already
on the topic returns the stored invoice unchanged.
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from pipeline.invoices.pdf_files import pdf_path, place, sha256
from pipeline.invoices.prefixes import PrefixTaken
from pipeline.invoices.record import Invoice, format_number
from pipeline.invoices.topics import ensure_invoice_topics
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topics import INVOICES
from pipeline.settings import Settings

log = logging.getLogger(__name__)

RenderPdf = Callable[[Invoice], bytes]
MAX_ATTEMPTS = 20
# each transaction holds the issuer's turn: long batches would make a second process wait long
BATCH = 200


@dataclass(frozen=True)
class Pending:
    """An invoice ready to be numbered: every field but number, sequence and the PDF."""

    invoice: Invoice  # number "", sequence 0

    @property
    def key(self) -> str:
        return self.invoice.key


def transactional_id(issuer: str) -> str:
    """One per issuer (the client factory makes it unique per topic prefix): a second process
    issuing for the same issuer fences the first."""
    return f"invoices-{issuer}"


class InvoiceLedger:
    """This process's view of the `invoices` topic, and issuing onto it. Use `async with`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.invoices: dict[str, Invoice] = {}  # by key
        self.last_sequence: dict[tuple[str, int], int] = {}  # (issuer, year) -> last sequence
        self.number_issuer: dict[str, str] = {}  # number -> the issuer who gave it
        self._partition = TopicPartition(settings.topic(INVOICES), 0)
        self._committed = None
        self._watermark = None

    async def __aenter__(self) -> InvoiceLedger:
        await ensure_invoice_topics(self.settings)
        clients = KafkaClients(self.settings)
        self._committed = clients.reader()
        # a read_committed consumer's end offset is the last STABLE offset, which another issuer's
        # open transaction holds back; the high watermark comes from an uncommitted reader
        self._watermark = clients.reader(uncommitted=True)
        await self._committed.start()
        await self._watermark.start()
        self._committed.assign([self._partition])
        await self._committed.seek_to_beginning(self._partition)
        await self.catch_up()
        return self

    async def __aexit__(self, *exc) -> None:
        for consumer in (self._committed, self._watermark):
            if consumer is not None:
                await consumer.stop()

    async def catch_up(self, timeout: float = 60.0) -> None:
        """Read every committed invoice up to the topic's high watermark as of now."""
        end = (await self._watermark.end_offsets([self._partition]))[self._partition]
        deadline = asyncio.get_running_loop().time() + timeout
        while await self._committed.position(self._partition) < end:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"invoices topic not readable to offset {end} within {timeout}s "
                                   "(a transaction of another issuer stays open?)")
            batches = await self._committed.getmany(self._partition, timeout_ms=200)
            for message in batches.get(self._partition, ()):
                if message.value is not None:
                    self._remember(Invoice.model_validate_json(message.value))

    def _remember(self, invoice: Invoice) -> None:
        self.invoices[invoice.key] = invoice
        self.number_issuer.setdefault(invoice.number, invoice.issuer)
        turn = (invoice.issuer, invoice.year)
        self.last_sequence[turn] = max(self.last_sequence.get(turn, 0), invoice.sequence)

    async def issue(self, issuer: str, pending: Sequence[Pending], render: RenderPdf) -> list[Invoice]:
        """Number, store and return these invoices of one issuer (stored ones come back as they are)."""
        issued: list[Invoice] = []
        for start in range(0, len(pending), BATCH):
            issued += await self._issue_batch(issuer, pending[start:start + BATCH], render)
        return issued

    async def _issue_batch(self, issuer: str, pending: Sequence[Pending], render: RenderPdf) -> list[Invoice]:
        if all(p.key in self.invoices for p in pending):  # nothing new: no need for the issuer's turn
            return [self.invoices[p.key] for p in pending]
        for attempt in range(1, MAX_ATTEMPTS + 1):
            staged: list[tuple[Path, Path]] = []  # (temporary, final) PDF files
            producer = KafkaClients(self.settings).producer(transactional_id=transactional_id(issuer))
            try:
                await producer.start()  # fences the issuer's other producers
                async with producer.transaction():
                    await self.catch_up()
                    results = await self._write(producer, pending, render, staged)
                # committed: the PDFs become the issued ones. Only now: a file found in the way before
                # the commit may be this process's stale view (fenced, the number taken meanwhile),
                # which the commit's refusal settles; after it, a file in the way is never replaced
                for temporary, final in staged:
                    place(temporary, final)
                for invoice in results:
                    self._remember(invoice)
                return results
            except KafkaError as exc:
                log.info("issuing for %s: transaction %d failed (%s); retrying", issuer, attempt, exc)
                await asyncio.sleep(random.uniform(0.05, 0.3) * min(attempt, 5))
            finally:
                for temporary, _ in staged:
                    temporary.unlink(missing_ok=True)
                await producer.stop()
        raise RuntimeError(f"could not issue invoices for {issuer} after {MAX_ATTEMPTS} attempts")

    async def _write(self, producer, pending: Sequence[Pending], render: RenderPdf,
                     staged: list[tuple[Path, Path]]) -> list[Invoice]:
        last = dict(self.last_sequence)  # advanced here, kept only once the transaction commits
        results = []
        for item in pending:
            stored = self.invoices.get(item.key)
            if stored is not None:
                results.append(stored)
                continue
            draft = item.invoice
            turn = (draft.issuer, draft.year)
            last[turn] = last.get(turn, 0) + 1
            number = format_number(draft.issuer_details.number_prefix, draft.year, last[turn])
            if self.number_issuer.get(number, draft.issuer) != draft.issuer:
                raise PrefixTaken(f"number_prefix: invoice number {number} is already another issuer's; "
                                  f"issuer {draft.issuer!r} must set a number prefix of his own")
            final = pdf_path(self.settings, draft.issuer, number)
            numbered = draft.model_copy(update={"number": number, "sequence": last[turn], "pdf": str(final)})
            data = render(numbered)
            temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
            temporary.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(data)
            staged.append((temporary, final))
            invoice = numbered.model_copy(update={"pdf_sha256": sha256(data)})
            await producer.send(self._partition.topic, invoice.model_dump_json().encode(),
                                key=invoice.key.encode(), partition=0)
            results.append(invoice)
        return results


async def read_invoices(settings: Settings, *, account: str | None = None, issuer: str | None = None,
                        number: str | None = None) -> list[Invoice]:
    """The issued invoices (of one account, issuer or number if given), in the order they were issued."""
    async with InvoiceLedger(settings) as ledger:
        return [
            i for i in ledger.invoices.values()
            if (account is None or i.account == account) and (issuer is None or i.issuer == issuer)
            and (number is None or i.number == number)
        ]
