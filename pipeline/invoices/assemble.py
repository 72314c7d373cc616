"""An account's invoice, before it is numbered, from its usage of the period (pure: no I/O)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from pipeline.invoices.compute import Adjustment, DestinationUsage, build_amounts
from pipeline.invoices.details import IssuerDetails
from pipeline.invoices.period import Period
from pipeline.invoices.record import Invoice, lines_of

DRAFT_SUFFIX = "DRAFT"


@dataclass(frozen=True)
class Customer:
    """The invoiced account, as ref.accounts describes it."""

    account: str
    type: str  # "user" or "reseller"
    issuer: str  # its parent: a reseller for his users, the admin for resellers and direct users
    name: str = ""
    tariff: str = ""  # its currency is the invoice's when there are no calls
    address: str = ""  # printed under "Bill to"
    email: str = ""  # where `invoice email` sends its invoices unless told another address


@dataclass(frozen=True)
class UsageRow:
    """A row of the usage query: one destination in one currency."""

    prefix: str
    currency: str
    calls: int
    billed_seconds: int
    amount: object  # Decimal from the driver


def single_currency(customer: Customer, rows: Sequence[UsageRow], fallback: str) -> str:
    currencies = sorted({row.currency for row in rows})
    if len(currencies) > 1:
        raise ValueError(f"account {customer.account} has calls in several currencies {currencies} in one "
                         "period: one invoice has one currency")
    return currencies[0] if currencies else fallback


def assemble_invoice(
    customer: Customer,
    issuer: IssuerDetails,
    period: Period,
    rows: Sequence[UsageRow],
    now: datetime,
    *,
    adjustments: Sequence[Adjustment] = (),
    draft: bool = False,
    fallback_currency: str = "EUR",
    prefix_names: dict[str, str] | None = None,
) -> Invoice:
    """The invoice with everything but its number and PDF (a draft gets PREFIX-DRAFT)."""
    names = prefix_names or {}
    usage = [DestinationUsage(r.prefix, r.calls, r.billed_seconds, r.amount, names.get(r.prefix, "")) for r in rows]
    amounts = build_amounts(usage, adjustments, [(tax.name, tax.percent) for tax in issuer.taxes],
                            issuer.compound_taxes)
    lines, taxes = lines_of(amounts)
    start, end = period.bounds(issuer.zone)
    return Invoice(
        number=f"{issuer.number_prefix}-{DRAFT_SUFFIX}" if draft else "",
        issuer=issuer.account, account=customer.account, customer_name=customer.name,
        customer_address=customer.address, period=str(period),
        period_start=start, period_end=end, currency=single_currency(customer, rows, fallback_currency),
        subtotal=amounts.subtotal, taxes=taxes, total=amounts.total, lines=lines,
        issued_at=now.astimezone(timezone.utc), issue_date=now.astimezone(issuer.zone).date(),
        due_date=due_date(issuer, now), year=now.astimezone(issuer.zone).year,
        sequence=0, draft=draft, issuer_details=issuer,
    )


def due_date(issuer: IssuerDetails, issued_at: datetime) -> date | None:
    """The issue date as the issuer's clocks show it, plus his payment terms (None: he gives none)."""
    if issuer.payment_terms_days is None:
        return None
    return issued_at.astimezone(issuer.zone).date() + timedelta(days=issuer.payment_terms_days)
