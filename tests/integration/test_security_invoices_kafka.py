"""Security audit of invoices on the real Kafka and ClickHouse: one issuer can neither take another's
invoice numbers nor replace his PDFs, a PDF is served only as issued, and a logo is stored and
drawn only as the sanitiser rewrote it. (The refusals are caught as ValueError and by status: the
same file runs against the code before the fix, where each of them fails.)"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipeline.api.invoice_store import LedgerInvoices
from pipeline.invoices.issuer import publish_issuer, publish_logo, read_logo
from pipeline.invoices.ledger import read_invoices
from pipeline.invoices.period import Period
from pipeline.invoices.service import invoice_pdf, issue_invoice, load_directory
from pipeline.kafka.topic_io import produce_all
from tests.fixtures.invoices.seed import CALLS, RESELLER, seed

pytestmark = [pytest.mark.integration, pytest.mark.clickhouse]
OCTOBER = Period(2026, 10)
NOW = datetime(2026, 11, 5, 9, 0, tzinfo=timezone.utc)
SVG = "image/svg+xml"


@pytest.fixture
async def seeded(settings_factory):
    settings = settings_factory()
    await seed(settings, CALLS)  # admin "OP", r1 "R1" with a PNG logo; r2 has no details yet
    return settings


async def test_a_prefix_in_use_is_refused_now_and_after_its_issuer_gave_it_up(seeded):
    for taken, words in (("R1", "already used by another issuer"), ("OP", "already used by another issuer"),
                         ("ADM", "reserved for the operator")):
        with pytest.raises(ValueError, match=f"number_prefix: '{taken}' is {words}"):
            await publish_issuer(seeded, RESELLER.model_copy(update={"account": "r2", "number_prefix": taken}))
    first = await issue_invoice(seeded, "u1", OCTOBER, now=NOW)
    assert first.number == "R1-2026-000001"
    await publish_issuer(seeded, RESELLER.model_copy(update={"number_prefix": "R1B"}))  # r1 moves on
    with pytest.raises(ValueError, match="number_prefix: 'R1' is already used"):  # his numbers exist
        await publish_issuer(seeded, RESELLER.model_copy(update={"account": "r2", "number_prefix": "R1"}))
    await publish_issuer(seeded, RESELLER.model_copy(update={"account": "r2", "number_prefix": "R2"}))


async def test_a_prefix_that_slipped_past_the_check_takes_no_number_and_no_pdf_of_another_issuer(seeded):
    mine = await issue_invoice(seeded, "u1", OCTOBER, now=NOW)
    issued_pdf = Path(mine.pdf).read_bytes()
    # r2's details written past publish_issuer (two writers at once, or before this check existed)
    copycat = RESELLER.model_copy(update={"account": "r2", "company": "Copycat Ltd", "number_prefix": "R1"})
    await produce_all(seeded, "ref.issuers", [(b"r2", copycat.model_dump_json().encode())])
    with pytest.raises(ValueError, match="invoice number R1-2026-000001 is already another issuer's"):
        await issue_invoice(seeded, "u9", OCTOBER, now=NOW)
    assert [(i.issuer, i.number) for i in await read_invoices(seeded)] == [("r1", "R1-2026-000001")]
    assert Path(mine.pdf).read_bytes() == issued_pdf
    assert await invoice_pdf(seeded, mine) == issued_pdf


async def test_a_pdf_file_that_is_not_the_issued_one_is_refused_with_503(seeded):
    mine = await issue_invoice(seeded, "u1", OCTOBER, now=NOW)
    issued_pdf = Path(mine.pdf).read_bytes()
    store = LedgerInvoices(seeded)
    Path(mine.pdf).write_bytes(b"%PDF somebody else's invoice")
    assert await store.pdf(mine) == issued_pdf  # rendered again from the record: the same bytes
    assert Path(mine.pdf).read_bytes() == b"%PDF somebody else's invoice"  # nothing is overwritten
    await publish_logo(seeded, "r1", _other_png(), "image/png")
    with pytest.raises(Exception) as refused:  # the logo changed: no rendering matches now
        await store.pdf(mine)
    assert getattr(refused.value, "status", None) == 503 and str(seeded.local_dir) not in refused.value.detail


def _other_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (30, 10), "blue").save(buffer, "PNG")
    return buffer.getvalue()


UPLOAD = (b"<?xml-stylesheet href='https://evil.example/x.css'?><!-- internal -->"
          b"<svg xmlns='http://www.w3.org/2000/svg' xmlns:xlink='http://www.w3.org/1999/xlink' width='40' height='20'>"
          b"<metadata>internal</metadata><defs><linearGradient id='g'><stop offset='0' stop-color='#c00'/>"
          b"</linearGradient></defs><rect width='40' height='20' fill='url(#g)' class='x'/>"
          b"<use xlink:href='#g'/></svg>")


async def put_raw_logo(settings, account: str, data: bytes, content_type: str) -> None:
    """A logo as publish_logo wrote it before the sanitiser: the upload's bytes, unchanged."""
    from pipeline.kafka.clients import KafkaClients

    producer = KafkaClients(settings).producer()
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic("ref.logos"), data, key=account.encode(),
                                     headers=[("content-type", content_type.encode())])
    finally:
        await producer.stop()


async def test_a_logo_is_stored_as_sanitised_and_an_old_hostile_one_is_left_out_of_the_pdfs(seeded):
    from pipeline.invoices.svg_sanitize import sanitize_svg

    await publish_logo(seeded, "r1", UPLOAD, SVG)
    stored, content_type = await read_logo(seeded, "r1")
    assert (stored, content_type) == (sanitize_svg(UPLOAD), SVG)
    assert b"internal" not in stored and b"xml-stylesheet" not in stored
    invoice = await issue_invoice(seeded, "u1", OCTOBER, now=NOW)
    assert Path(invoice.pdf).read_bytes().startswith(b"%PDF")
    # a logo stored raw before the sanitiser, that it refuses: PDFs are drawn without it
    hostile = b"<svg xmlns='http://www.w3.org/2000/svg'>" + b"<g>" * 60 + b"</g>" * 60 + b"</svg>"
    await put_raw_logo(seeded, "r1", hostile, SVG)
    assert "r1" not in (await load_directory(seeded)).logos
    assert (await issue_invoice(seeded, "u2", OCTOBER, now=NOW)).pdf_sha256
