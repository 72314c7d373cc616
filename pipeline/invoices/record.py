"""An issued invoice as it is stored (topic `invoices`, ClickHouse `invoices`) and printed (pure).

The record carries everything the PDF shows (the issuer's details as they were when it was issued,
the customer's name, the lines), so an issued invoice never changes when the issuer edits his
details later, and its PDF can be rendered again from it alone.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from pipeline.invoices.compute import InvoiceAmounts
from pipeline.invoices.details import IssuerDetails

SEQUENCE_DIGITS = 6


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InvoiceLine(_Frozen):
    kind: str
    description: str
    amount: Decimal
    prefix: str = ""
    calls: int = 0
    billed_minutes: Decimal = Decimal(0)
    destination: str = ""  # the destination's name from the tariff, when it gives one


class InvoiceTax(_Frozen):
    name: str
    percent: Decimal
    amount: Decimal
    compound: bool = False  # on the subtotal plus the taxes before it (MOR's compound tax)


class Invoice(_Frozen):
    number: str  # PREFIX-YYYY-NNNNNN; PREFIX-DRAFT for a draft
    issuer: str
    account: str
    customer_name: str = ""
    customer_address: str = ""  # the account's address when it was issued
    period: str  # YYYY-MM
    period_start: datetime  # UTC bounds of the month in the issuer's zone
    period_end: datetime
    currency: str
    subtotal: Decimal
    taxes: tuple[InvoiceTax, ...]
    total: Decimal
    lines: tuple[InvoiceLine, ...]
    issued_at: datetime
    issue_date: date | None = None  # issued_at's date in the issuer's zone (None on older invoices: the UTC date)
    # the issue date in the issuer's zone + his payment terms; None when he gives no terms (and for
    # invoices issued before due dates existed: their PDFs render as they were issued)
    due_date: date | None = None
    year: int  # the numbering year, in the issuer's zone at issue time
    sequence: int  # 0 for a draft
    draft: bool = False
    issuer_details: IssuerDetails
    pdf: str = ""  # path of the PDF file
    pdf_sha256: str = ""

    @property
    def shown_issue_date(self) -> date:
        return self.issue_date or self.issued_at.date()

    @property
    def key(self) -> str:
        return invoice_key(self.issuer, self.account, self.period)

    def printable(self) -> dict:
        """The JSON that `invoice issue` prints (docs/contract.md "Other commands")."""
        data = self.model_dump(mode="json", exclude={"issuer_details"})
        return data


def invoice_key(issuer: str, account: str, period: str) -> str:
    return f"{issuer}/{account}/{period}"


def format_number(prefix: str, year: int, sequence: int) -> str:
    if not 0 < sequence < 10**SEQUENCE_DIGITS:
        raise ValueError(f"invoice sequence {sequence} does not fit {SEQUENCE_DIGITS} digits")
    return f"{prefix}-{year:04d}-{sequence:0{SEQUENCE_DIGITS}d}"


def lines_of(amounts: InvoiceAmounts) -> tuple[tuple[InvoiceLine, ...], tuple[InvoiceTax, ...]]:
    lines = tuple(
        InvoiceLine(kind=line.kind, description=line.description, amount=line.amount, prefix=line.prefix, calls=line.calls,
                    billed_minutes=line.billed_minutes, destination=line.destination)
        for line in amounts.lines
    )
    taxes = tuple(InvoiceTax(name=t.name, percent=t.percent, amount=t.amount, compound=t.compound)
                  for t in amounts.taxes)
    return lines, taxes
