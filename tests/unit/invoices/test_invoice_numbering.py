"""Numbering inside one transaction (no broker): consecutive per issuer and year, stored ones kept."""
from __future__ import annotations

import hashlib

from pipeline.invoices.assemble import Customer, assemble_invoice
from pipeline.invoices.ledger import InvoiceLedger, Pending, transactional_id
from pipeline.invoices.period import Period
from pipeline.settings import Settings
from tests.unit.invoices.examples import ISSUED_AT, ISSUER


class FakeProducer:
    def __init__(self):
        self.sent = []

    async def send(self, topic, value, key, partition):
        self.sent.append((topic, key, partition))


def pending(account: str, year_of_issue: int = 2026) -> Pending:
    now = ISSUED_AT.replace(year=year_of_issue)
    return Pending(assemble_invoice(Customer(account, "user", "r1"), ISSUER, Period(2026, 10), [], now))


async def test_new_invoices_take_the_next_numbers_and_stored_ones_come_back_unchanged(tmp_path):
    ledger = InvoiceLedger(Settings(local_dir=tmp_path, topic_prefix="t-"))
    ledger.last_sequence[("r1", 2026)] = 41
    stored = pending("u0").invoice.model_copy(update={"number": "R1-2026-000041", "sequence": 41})
    ledger.invoices[stored.key] = stored
    producer, staged = FakeProducer(), []
    issued = await ledger._write(producer, [pending("u1"), pending("u0"), pending("u2"), pending("u3", 2027)],
                                 lambda invoice: invoice.number.encode(), staged)
    assert [i.number for i in issued] == ["R1-2026-000042", "R1-2026-000041", "R1-2026-000043", "R1-2027-000001"]
    assert issued[1] is stored
    assert [key for _, key, _ in producer.sent] == [b"r1/u1/2026-10", b"r1/u2/2026-10", b"r1/u3/2026-10"]
    assert {topic for topic, _, _ in producer.sent} == {"t-invoices"}
    # the PDFs wait under temporary names until the transaction commits
    assert [final.name for _, final in staged] == ["R1-2026-000042.pdf", "R1-2026-000043.pdf", "R1-2027-000001.pdf"]
    assert all(temporary.read_bytes() == final.stem.encode() for temporary, final in staged)
    assert issued[0].pdf_sha256 == hashlib.sha256(b"R1-2026-000042").hexdigest()
    assert ledger.last_sequence[("r1", 2026)] == 41  # advanced only when the transaction commits


async def test_the_transactional_id_is_the_issuers_so_two_processes_of_one_issuer_fence_each_other():
    from pipeline.kafka.clients import KafkaClients

    producer = KafkaClients(Settings(topic_prefix="p1-")).producer(transactional_id=transactional_id("r1"))
    assert producer._txn_manager.transactional_id == "p1-rating-invoices-r1"  # per issuer and prefix
    assert transactional_id("r1") != transactional_id("r2")
