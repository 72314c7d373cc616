"""Invoices on the real Kafka and ClickHouse: exact subtotals, stored numbers, the PDF, bad input."""
from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.invoices.issuer import publish_issuer
from pipeline.invoices.ledger import read_invoices
from pipeline.invoices.period import Period, PeriodNotClosed
from pipeline.invoices.service import InvoiceError, invoice_pdf, issue_all, issue_invoice
from pipeline.settings import REPO_ROOT
from pipeline.sinks.clickhouse import connect
from tests.fixtures.invoices.seed import ADMIN, CALLS, RERATED, RESELLER, RESENT, expected_subtotal, seed

pytestmark = pytest.mark.clickhouse
OCTOBER = Period(2026, 10)
NOW = datetime(2026, 11, 5, 9, 0, tzinfo=timezone.utc)
ARTIFACTS = REPO_ROOT / "tests" / "artifacts" / "invoices"
ALL_ROWS = CALLS + RESENT + [RERATED]


@pytest.fixture
async def seeded(settings_factory):
    settings = settings_factory()
    await seed(settings, ALL_ROWS)
    return settings


def clickhouse_sum(settings, column: str, scope: str, account: str, zone: str) -> Decimal:
    start, end = OCTOBER.bounds(ZoneInfo(zone))
    client = connect(settings)
    try:
        [[total]] = client.execute(
            f"SELECT sum({column}) FROM {settings.clickhouse_database}.rated_calls FINAL "
            f"WHERE {scope} = %(account)s AND start_time >= toDateTime(%(start)s, 'UTC') "
            "AND start_time < toDateTime(%(end)s, 'UTC')",
            {"account": account, "start": start.strftime("%Y-%m-%d %H:%M:%S"), "end": end.strftime("%Y-%m-%d %H:%M:%S")},
        )
    finally:
        client.disconnect()
    return Decimal(total).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")


async def test_a_users_subtotal_is_his_own_prices_of_the_month_in_his_resellers_zone(seeded):
    invoice = await issue_invoice(seeded, "u1", OCTOBER, now=NOW)
    start, end = OCTOBER.bounds(ZoneInfo("Europe/Rome"))
    expected = expected_subtotal(ALL_ROWS, "u1", "user", start, end)
    assert invoice.subtotal == expected == clickhouse_sum(seeded, "user_price", "account", "u1", "Europe/Rome")
    # 0.123456 + 1.005005 + 2.333333 + 3.141593 (re-rated; the re-sent rows count once) = 6.603387
    assert expected == Decimal("6.60")
    assert (invoice.number, invoice.issuer, invoice.currency) == ("R1-2026-000001", "r1", "EUR")
    assert {line.prefix for line in invoice.lines if line.kind == "destination"} == {"3706", "44"}
    assert sum(line.calls for line in invoice.lines) == 4
    vat, levy = invoice.taxes
    assert vat.amount == Decimal("1.45") and levy.amount == Decimal("0.03")  # 22% and 0.5% of 6.60
    assert invoice.total == Decimal("8.08")


async def test_a_resellers_invoice_is_his_buying_price_of_all_his_users_calls_in_the_admins_zone(seeded):
    invoice = await issue_invoice(seeded, "r1", OCTOBER, now=NOW)
    start, end = OCTOBER.bounds(ZoneInfo("UTC"))
    expected = expected_subtotal(ALL_ROWS, "r1", "reseller", start, end)
    assert invoice.subtotal == expected == clickhouse_sum(seeded, "reseller_price", "reseller", "r1", "UTC")
    assert invoice.number == "OP-2026-000001" and invoice.issuer_details == ADMIN


async def test_issuing_again_returns_the_stored_invoice_and_the_next_account_gets_the_next_number(seeded):
    first = await issue_invoice(seeded, "u1", OCTOBER, now=NOW)
    again = await issue_invoice(seeded, "u1", OCTOBER, now=datetime(2026, 11, 20, tzinfo=timezone.utc))
    assert again == first
    second = await issue_invoice(seeded, "u2", OCTOBER, now=NOW)
    assert second.number == "R1-2026-000002"
    stored = await read_invoices(seeded)
    assert [i.number for i in stored] == ["R1-2026-000001", "R1-2026-000002"]
    assert await read_invoices(seeded, account="u2") == [second]
    assert await invoice_pdf(seeded, second) == Path(second.pdf).read_bytes()
    client = connect(seeded)
    try:
        rows = client.execute(f"SELECT number, total, pdf_sha256 FROM {seeded.clickhouse_database}.invoices FINAL "
                              "ORDER BY number")
    finally:
        client.disconnect()
    assert rows == [(i.number, i.total, i.pdf_sha256) for i in stored]


async def test_an_account_without_calls_gets_a_zero_invoice_or_none_with_skip_empty(seeded):
    assert await issue_invoice(seeded, "u3", OCTOBER, now=NOW, skip_empty=True) is None
    assert await read_invoices(seeded) == []  # no number was used
    zero = await issue_invoice(seeded, "u3", OCTOBER, now=NOW)
    assert zero.lines == () and zero.total == Decimal("0.00") and zero.number == "R1-2026-000001"
    assert zero.currency == "USD"  # no calls to take it from: his tariff's, from the reference mirror


async def test_a_month_not_over_is_refused_unless_draft_and_a_draft_takes_no_number(seeded):
    november = Period(2026, 11)
    with pytest.raises(PeriodNotClosed, match="not closed yet"):
        await issue_invoice(seeded, "u1", november, now=NOW)
    draft = await issue_invoice(seeded, "u1", november, now=NOW, draft=True)
    assert draft.number == "R1-DRAFT" and draft.draft and Path(draft.pdf).exists()
    assert draft.subtotal == Decimal("7.78")  # the call of 00:30 on 1 November in Rome
    assert await read_invoices(seeded) == []


async def test_unknown_accounts_and_issuers_without_details_are_clear_errors(settings_factory):
    settings = settings_factory()
    await seed(settings, accounts=[{"kind": "account", "id": "u5", "type": "user", "parent": "r5"}])
    with pytest.raises(InvoiceError, match="'nobody' is not a user or reseller"):
        await issue_invoice(settings, "nobody", OCTOBER, now=NOW)
    with pytest.raises(InvoiceError, match="issuer 'r5' of account 'u5' has no invoice details"):
        await issue_invoice(settings, "u5", OCTOBER, now=NOW)


async def test_issue_all_gives_every_account_one_invoice_numbered_per_issuer(seeded):
    with pytest.raises(InvoiceError, match=r"issuers \['r2'\] have no invoice details"):
        await issue_all(seeded, OCTOBER, now=NOW)
    assert await read_invoices(seeded) == []  # refused before anything was issued
    await publish_issuer(seeded, RESELLER.model_copy(update={"account": "r2", "number_prefix": "R2"}))
    done = []
    issued = await issue_all(seeded, OCTOBER, now=NOW, progress=done.append, skip_empty=True)
    by_account = {i.account: i for i in issued}
    assert set(by_account) == {"r1", "r2", "u1", "u2", "u9"}  # u3 has no calls
    assert sorted(i.number for i in issued if i.issuer == "admin") == ["OP-2026-000001", "OP-2026-000002"]
    assert sorted(i.number for i in issued if i.issuer == "r1") == ["R1-2026-000001", "R1-2026-000002"]
    assert by_account["u9"].number == "R2-2026-000001"
    assert sum(done) == 5
    single = await issue_invoice(seeded, "u1", OCTOBER, now=NOW)
    assert single == by_account["u1"]
    start, end = OCTOBER.bounds(ZoneInfo("Europe/Rome"))
    assert by_account["u1"].subtotal == expected_subtotal(ALL_ROWS, "u1", "user", start, end)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler-utils (pdftoppm, pdftotext)")
async def test_the_pdf_is_stored_by_number_with_its_sha256_and_shows_issuer_number_and_total(seeded):
    import hashlib

    invoice = await issue_invoice(seeded, "u1", OCTOBER, now=NOW)
    pdf = Path(invoice.pdf)
    assert pdf == seeded.local_dir / "invoices" / "r1" / "R1-2026-000001.pdf"  # each issuer his own folder
    assert hashlib.sha256(pdf.read_bytes()).hexdigest() == invoice.pdf_sha256
    assert not list(pdf.parent.glob(".*.tmp"))  # no temporary PDF left behind
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True, text=True).stdout
    for expected in ("Reseller One Srl", "R1-2026-000001", "User One", "Total EUR", "8.08", "Levy 0.5%"):
        assert expected in text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(ARTIFACTS / "R1-2026-000001")], check=True)
    [picture] = ARTIFACTS.glob("R1-2026-000001*.png")
    assert picture.stat().st_size > 10_000  # a page with a logo and text, not a blank one
    pdf.unlink()  # another machine: the PDF is rendered again from the record, byte for byte
    assert hashlib.sha256(await invoice_pdf(seeded, invoice)).hexdigest() == invoice.pdf_sha256
