"""Who can be invoiced, and by whom: accounts from ref.accounts, issuers' details and logos."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import orjson
from pydantic import ValidationError

from pipeline.invoices.assemble import Customer
from pipeline.invoices.destinations import destination_names
from pipeline.invoices.details import IssuerDetails
from pipeline.invoices.issuer import read_issuers, read_logos
from pipeline.invoices.pdf import render_pdf
from pipeline.invoices.record import Invoice
from pipeline.kafka.topic_io import read_all
from pipeline.kafka.topics import REF_ACCOUNTS, REF_TARIFFS
from pipeline.reference.records import parse_reference_record
from pipeline.schemas.reference import AccountIn
from pipeline.settings import Settings

log = logging.getLogger(__name__)
INVOICED_TYPES = ("user", "reseller")


class InvoiceError(ValueError):
    """Input that cannot be invoiced: the message says which account, issuer or rule."""


@dataclass(frozen=True)
class Directory:
    """Who can be invoiced, and by whom with which details and logo."""

    customers: dict[str, Customer]
    issuers: dict[str, IssuerDetails]
    logos: dict[str, tuple[bytes, str]]
    # tariff id -> prefix -> destination name (pipeline/invoices/destinations.py)
    destinations: dict[str, dict[str, str]] = field(default_factory=dict)

    def prefix_names(self, customer: Customer) -> dict[str, str]:
        """The names of the destinations on the customer's lines: his own tariff prices them."""
        return self.destinations.get(customer.tariff, {})

    def customer(self, account: str) -> Customer:
        try:
            return self.customers[account]
        except KeyError:
            raise InvoiceError(f"account {account!r} is not a user or reseller on ref.accounts") from None

    def issuer_of(self, customer: Customer) -> IssuerDetails:
        try:
            return self.issuers[customer.issuer]
        except KeyError:
            raise InvoiceError(
                f"issuer {customer.issuer!r} of account {customer.account!r} has no invoice details on "
                "ref.issuers: set them first (`invoice issuer set FILE`, or the API)"
            ) from None

    def render(self, invoice: Invoice) -> bytes:
        return render_pdf(invoice, self.logos.get(invoice.issuer))


async def load_directory(settings: Settings) -> Directory:
    customers: dict[str, Customer] = {}
    for message in await read_all(settings, REF_ACCOUNTS):
        key = message.key.decode()
        if not message.value:
            customers.pop(key, None)
            continue
        try:
            record = parse_reference_record(orjson.loads(message.value))
        except (ValidationError, ValueError) as exc:  # written by hand past `ref apply`
            log.error("ignoring invalid account %r on ref.accounts: %s", key, exc)
            continue
        if isinstance(record, AccountIn) and record.type in INVOICED_TYPES:
            customers[record.id] = Customer(record.id, record.type, record.parent or "admin", record.name,
                                            record.tariff or "", record.address, record.email)
        else:
            customers.pop(key, None)
    tariffs = await read_all(settings, REF_TARIFFS)
    return Directory(customers, await read_issuers(settings), await read_logos(settings),
                     destination_names((message.key, message.value) for message in tariffs))
