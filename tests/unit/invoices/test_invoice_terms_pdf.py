"""What an invoice a reseller sends carries: the customer's address, a due date from the issuer's
payment terms, several taxes (compound or not) and destination names, in the record and the PDF;
and an invoice issued before these existed still renders to the very bytes it was issued with."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from pipeline.invoices.assemble import Customer, UsageRow, assemble_invoice, due_date
from pipeline.invoices.details import IssuerDetails
from pipeline.invoices.pdf import render_pdf
from pipeline.invoices.period import Period
from pipeline.invoices.record import Invoice
from pipeline.settings import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "invoices"
ARTIFACTS = REPO_ROOT / "tests" / "artifacts" / "invoices"
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")
ISSUER = IssuerDetails(
    account="r1", company="Reseller One Ltd", address="Via Roma 1\n00100 Roma\nItaly", vat_id="IT12345678901",
    bank="IBAN IT60X0542811101000000123456", email="billing@r1.example", number_prefix="R1",
    taxes=[{"name": "GST", "rate": "5"}, {"name": "QST", "rate": "9.975"}], compound_taxes=True,
    payment_terms_days=30, timezone="America/Toronto",
)
CUSTOMER = Customer("u1", "user", "r1", "Maple Leaf Trading Inc.", "t-r1",
                    "1200 Rue Sainte-Catherine Ouest, Suite 300\nMontréal QC H3B 1K9\nCanada", "ap@maple.example")
NAMES = {"1514": "Canada Montréal", "44": "United Kingdom", "447": "United Kingdom mobile",
         "39": "Italy (a very long destination name that has to wrap in its cell rather than overflow the page)"}
ROWS = [UsageRow("1514", "CAD", 120, 7320, Decimal("61.004999")), UsageRow("44", "CAD", 14, 900, Decimal("3.1")),
        UsageRow("447", "CAD", 9, 610, Decimal("4.255")), UsageRow("39", "CAD", 2, 95, Decimal("0.40")),
        UsageRow("33", "CAD", 1, 30, Decimal("0.05"))]
# 23:30 UTC on 30 November: 1 December in Rome, but 18:30 on 30 November in Toronto (the issuer's zone)
ISSUED_AT = datetime(2026, 11, 30, 23, 30, tzinfo=timezone.utc)


def invoice() -> Invoice:
    made = assemble_invoice(CUSTOMER, ISSUER, Period(2026, 10), ROWS, ISSUED_AT, prefix_names=NAMES)
    return made.model_copy(update={"number": "R1-2026-000042", "sequence": 42})


def test_the_record_carries_address_due_date_names_and_compound_taxes():
    made = invoice()
    assert made.customer_address.startswith("1200 Rue Sainte-Catherine")
    assert made.issue_date == date(2026, 11, 30)  # the issuer's day in Toronto
    assert made.due_date == date(2026, 12, 30)
    lines = {line.prefix: line for line in made.lines}
    assert lines["1514"].destination == "Canada Montréal"
    assert lines["1514"].description == "Canada Montréal (1514)"
    assert lines["33"].destination == "" and lines["33"].description == "Prefix 33"
    gst, qst = made.taxes
    assert made.subtotal == Decimal("68.81")  # 68.809999
    assert gst.amount == Decimal("3.44")  # 5% of 68.81 = 3.4405
    assert qst.amount == Decimal("7.21")  # 9.975% of (68.81 + 3.4405) = 7.20698...
    assert made.total == Decimal("79.46") and qst.compound
    printed = made.printable()
    assert printed["due_date"] == "2026-12-30" and printed["customer_address"] == CUSTOMER.address


def test_the_due_date_counts_from_the_issue_date_in_the_issuers_zone():
    rome = ISSUER.model_copy(update={"timezone": "Europe/Rome", "payment_terms_days": 15})
    assert due_date(rome, datetime(2026, 11, 30, 23, 30, tzinfo=timezone.utc)) == date(2026, 12, 16)  # 1 Dec in Rome
    assert due_date(ISSUER.model_copy(update={"payment_terms_days": None}), ISSUED_AT) is None


def test_an_invoice_issued_before_due_dates_renders_the_bytes_it_was_issued_with():
    # record_v1.json is a record as issued before addresses, due dates, compound taxes and
    # destination names; its PDF's sha256 was taken then. A missing PDF is rendered again from the
    # record and must match it (pipeline/invoices/service.py ensure_pdf).
    old = Invoice.model_validate_json((FIXTURES / "record_v1.json").read_bytes())
    assert old.due_date is None and old.customer_address == "" and old.issue_date is None
    assert hashlib.sha256(render_pdf(old)).hexdigest() == "79ebf775ae557a3edb21ea8a76fde0f02a2e2f38cc386d7a679d160b548e1b4b"


@needs_poppler
def test_the_pdf_shows_them_legibly_on_one_page():
    pdf = render_pdf(invoice())
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    for expected in ("Maple Leaf Trading Inc.", "Montréal QC H3B 1K9", "Due date 2026-12-30", "Date 2026-11-30",
                     "Canada Montréal (1514)", "United Kingdom mobile (447)", "GST 5% (compound)",
                     "QST 9.975% (compound)", "3.44", "7.21", "79.46", "Page 1 of 1"):
        assert expected in text, expected
    assert "overflow the page" in " ".join(text.split())  # the long name wrapped, not cut
    if shutil.which("pdftoppm"):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("R1-2026-000042*.png"):
            old.unlink()
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-", str(ARTIFACTS / "R1-2026-000042")], input=pdf, check=True)
        assert [p.name for p in ARTIFACTS.glob("R1-2026-000042*.png")]
