"""Example issuer, customer and invoice for the invoice unit tests."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from pipeline.invoices.assemble import Customer, UsageRow, assemble_invoice
from pipeline.invoices.details import IssuerDetails
from pipeline.invoices.period import Period

ISSUER = IssuerDetails(
    account="r1", company="Reseller One Ltd", address="Via Roma 1\n00100 Roma\nItaly", vat_id="IT12345678901",
    bank="IBAN IT60X0542811101000000123456", email="billing@r1.example",
    taxes=[{"name": "VAT", "percent": "22"}], number_prefix="R1", timezone="Europe/Rome",
)
CUSTOMER = Customer("u1", "user", "r1", "User One")
ISSUED_AT = datetime(2026, 11, 5, 9, 0, tzinfo=timezone.utc)


def usage_rows(count: int, currency: str = "EUR") -> list[UsageRow]:
    return [UsageRow(f"{370 + i}", currency, 10 + i, 600 + 7 * i, Decimal("1.234567") * i) for i in range(count)]


def example_invoice(rows: int = 3, number: str = "R1-2026-000007"):
    invoice = assemble_invoice(CUSTOMER, ISSUER, Period(2026, 10), usage_rows(rows), ISSUED_AT)
    return invoice.model_copy(update={"number": number, "sequence": int(number[-6:])})
