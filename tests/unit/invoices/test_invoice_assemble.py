"""Assembling the invoice record: currency, draft number, period bounds, numbers' format."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from pipeline.invoices.assemble import UsageRow, assemble_invoice
from pipeline.invoices.period import Period
from pipeline.invoices.record import Invoice, format_number, invoice_key
from tests.unit.invoices.examples import CUSTOMER, ISSUED_AT, ISSUER, example_invoice, usage_rows


def test_the_record_keeps_the_issuers_details_of_the_day_and_the_utc_bounds():
    invoice = assemble_invoice(CUSTOMER, ISSUER, Period(2026, 10), usage_rows(2), ISSUED_AT)
    assert invoice.issuer_details == ISSUER and invoice.customer_name == "User One"
    assert invoice.period_start == datetime(2026, 9, 30, 22, tzinfo=timezone.utc)
    assert invoice.currency == "EUR" and invoice.year == 2026 and invoice.number == ""
    assert invoice.key == "r1/u1/2026-10"


def test_the_numbering_year_is_the_issuers_local_year():
    new_year_in_rome = datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)
    assert assemble_invoice(CUSTOMER, ISSUER, Period(2026, 11), [], new_year_in_rome).year == 2027


def test_a_draft_is_marked_and_not_numbered():
    draft = assemble_invoice(CUSTOMER, ISSUER, Period(2026, 11), [], ISSUED_AT, draft=True)
    assert draft.draft and draft.number == "R1-DRAFT" and draft.sequence == 0


def test_no_calls_give_a_zero_invoice_in_the_fallback_currency():
    invoice = assemble_invoice(CUSTOMER, ISSUER, Period(2026, 10), [], ISSUED_AT, fallback_currency="USD")
    assert invoice.lines == () and invoice.total == Decimal("0.00") and invoice.currency == "USD"


def test_calls_in_two_currencies_are_refused_naming_the_account():
    rows = [UsageRow("1", "EUR", 1, 60, Decimal(1)), UsageRow("1", "USD", 1, 60, Decimal(1))]
    with pytest.raises(ValueError, match="u1 has calls in several currencies"):
        assemble_invoice(CUSTOMER, ISSUER, Period(2026, 10), rows, ISSUED_AT)


def test_numbers_are_prefix_year_and_six_digits():
    assert format_number("R1", 2026, 7) == "R1-2026-000007"
    with pytest.raises(ValueError):
        format_number("R1", 2026, 1_000_000)
    assert invoice_key("admin", "r1", "2026-10") == "admin/r1/2026-10"


def test_the_stored_json_gives_back_the_same_invoice_and_the_printout_has_the_contract_fields():
    invoice = example_invoice()
    assert Invoice.model_validate_json(invoice.model_dump_json()) == invoice
    printed = invoice.printable()
    assert {"number", "issuer", "account", "period", "currency", "subtotal", "taxes", "total", "lines", "pdf"} <= set(printed)
    assert printed["subtotal"] == str(invoice.subtotal)  # money as a decimal string, never a float
