"""Issuing invoices: usage from ClickHouse, numbering on the ledger, the PDF, the mirror.

The one place the I/O of an invoice meets; the math (compute.py, assemble.py), the numbering
(ledger.py) and the usage queries (queries.py) are tested on their own.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone

from pipeline.invoices.assemble import Customer, assemble_invoice
from pipeline.invoices.compute import Adjustment
from pipeline.invoices.directory import Directory, InvoiceError, load_directory
from pipeline.invoices.ledger import BATCH, InvoiceLedger, Pending
from pipeline.invoices.mirror import write_invoices
from pipeline.invoices.pdf_files import PdfMismatch, draft_path, pdf_path, read_verified, sha256, write_new
from pipeline.invoices.period import Period
from pipeline.invoices.record import Invoice, invoice_key
from pipeline.invoices.rerate_lines import adjustments_by_account, adjustments_for
from pipeline.invoices.usage import account_usage, tariff_currencies, usage_by_account
from pipeline.settings import Settings

__all__ = ["InvoiceError", "PdfMismatch", "issue_invoice", "issue_all", "invoice_pdf", "load_directory", "Directory"]
log = logging.getLogger(__name__)
DEFAULT_CURRENCY = "EUR"  # the contract's tariff default, for an account whose tariff is unknown


def _fallback_currency(customer: Customer, currencies: dict[str, str]) -> str:
    return currencies.get(customer.tariff, DEFAULT_CURRENCY)


async def ensure_pdf(settings: Settings, invoice: Invoice, directory: Directory) -> bytes:
    """An issued invoice's PDF, checked against its record's sha256; put back when this machine has no
    file of it (another machine issued it). PdfMismatch when neither the file nor a new rendering is
    the issued document (a replaced file, or a logo changed since): serving another would show
    somebody a document that was never issued, perhaps another tenant's."""
    data = read_verified(settings, invoice)
    if data is not None:
        return data
    data = directory.render(invoice)
    if sha256(data) != invoice.pdf_sha256:
        log.error("invoice %s of issuer %s: no PDF file matches its record, nor does a new rendering "
                  "(logo changed since?)", invoice.number, invoice.issuer)
        raise PdfMismatch(f"invoice {invoice.number}: its PDF file does not match its record")
    write_new(pdf_path(settings, invoice.issuer, invoice.number), data)
    return data


async def invoice_pdf(settings: Settings, invoice: Invoice, directory: Directory | None = None) -> bytes:
    """An issued invoice's PDF bytes (for the API and the portal), only ever the issued ones."""
    data = read_verified(settings, invoice)
    if data is not None:
        return data
    return await ensure_pdf(settings, invoice, directory or await load_directory(settings))


async def issue_invoice(
    settings: Settings, account: str, period: Period, *, draft: bool = False, skip_empty: bool = False,
    adjustments: Sequence[Adjustment] | None = None, now: datetime | None = None,
    directory: Directory | None = None,
) -> Invoice | None:
    """The account's invoice of the period: stored if already issued, else issued now.

    A draft is computed and rendered but neither numbered nor stored. None when skip_empty and the
    account has nothing to invoice. `adjustments` None: the re-rating differences recorded for this
    invoice (pipeline/rerate/invoice_lines.py).
    """
    now = now or datetime.now(timezone.utc)
    if adjustments is None:
        adjustments = await asyncio.to_thread(adjustments_for, settings, account, str(period))
    directory = directory or await load_directory(settings)
    customer = directory.customer(account)
    issuer = directory.issuer_of(customer)
    period.check_closed(issuer.zone, now, draft)
    if draft:
        return await _draft(settings, directory, customer, issuer, period, now, adjustments, skip_empty)
    async with InvoiceLedger(settings) as ledger:
        stored = ledger.invoices.get(invoice_key(issuer.account, account, str(period)))
        if stored is not None:
            try:
                await ensure_pdf(settings, stored, directory)
            except PdfMismatch:
                pass  # logged; the record stands, and its PDF is refused where it would be served
            await asyncio.to_thread(write_invoices, settings, [stored])  # re-mirror: idempotent
            return stored
        invoice = await _assemble(settings, customer, issuer, period, now, adjustments, draft=False,
                                  prefix_names=directory.prefix_names(customer))
        if skip_empty and invoice.lines == ():
            return None
        [issued] = await ledger.issue(issuer.account, [Pending(invoice)], directory.render)
    await asyncio.to_thread(write_invoices, settings, [issued])
    return issued


async def _assemble(settings, customer, issuer, period, now, adjustments, draft: bool,
                    prefix_names: dict[str, str]) -> Invoice:
    start, end = period.bounds(issuer.zone)
    rows = await account_usage(settings, customer, start, end)
    fallback = DEFAULT_CURRENCY if rows else _fallback_currency(customer, await tariff_currencies(settings))
    return assemble_invoice(customer, issuer, period, rows, now, adjustments=adjustments, draft=draft,
                            fallback_currency=fallback, prefix_names=prefix_names)


async def _draft(settings, directory, customer, issuer, period, now, adjustments, skip_empty) -> Invoice | None:
    invoice = await _assemble(settings, customer, issuer, period, now, adjustments, draft=True,
                              prefix_names=directory.prefix_names(customer))
    if skip_empty and invoice.lines == ():
        return None
    path = draft_path(settings, issuer.account, customer.account, str(period))
    invoice = invoice.model_copy(update={"pdf": str(path)})
    data = directory.render(invoice)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return invoice.model_copy(update={"pdf_sha256": sha256(data)})


async def issue_all(
    settings: Settings, period: Period, *, skip_empty: bool = False, now: datetime | None = None,
    adjustments: Mapping[str, Sequence[Adjustment]] | None = None,
    progress: Callable[[int], None] = lambda done: None, on_total: Callable[[int], None] = lambda total: None,
    issuer: str | None = None,
) -> list[Invoice]:
    """Every user's and reseller's invoice of a closed period (only those `issuer` issues, if given:
    a reseller invoicing all his users).

    `adjustments` by account (re-rating differences; None: those recorded for the period's
    invoices). `on_total(n)` once the number of invoices to
    issue is known, `progress(n)` after each n issued.
    """
    if adjustments is None:
        adjustments = await asyncio.to_thread(adjustments_by_account, settings, str(period))
    now = now or datetime.now(timezone.utc)
    directory = await load_directory(settings)
    by_issuer: dict[str, list[Customer]] = {}
    for customer in sorted(directory.customers.values(), key=lambda c: c.account):
        if issuer is None or customer.issuer == issuer:
            by_issuer.setdefault(customer.issuer, []).append(customer)
    missing = sorted(set(by_issuer) - set(directory.issuers))
    if missing:
        raise InvoiceError(f"issuers {missing} have no invoice details on ref.issuers: set them first")
    for issuer_id in by_issuer:
        period.check_closed(directory.issuers[issuer_id].zone, now, draft=False)
    usage = await usage_by_account(settings, directory, by_issuer, period)
    currencies = await tariff_currencies(settings)
    pending_by_issuer: dict[str, list[Pending]] = {}
    for issuer_id, customers in by_issuer.items():
        details = directory.issuers[issuer_id]
        for customer in customers:
            invoice = assemble_invoice(
                customer, details, period, usage.get((customer.type, customer.account), []), now,
                adjustments=adjustments.get(customer.account, ()),
                fallback_currency=_fallback_currency(customer, currencies),
                prefix_names=directory.prefix_names(customer),
            )
            if not (skip_empty and invoice.lines == ()):
                pending_by_issuer.setdefault(issuer_id, []).append(Pending(invoice))
    on_total(sum(len(p) for p in pending_by_issuer.values()))
    issued: list[Invoice] = []
    async with InvoiceLedger(settings) as ledger:
        for issuer_id, pending in pending_by_issuer.items():
            for start in range(0, len(pending), BATCH):  # progress per ledger batch
                batch = await ledger.issue(issuer_id, pending[start:start + BATCH], directory.render)
                issued += batch
                progress(len(batch))
    for start in range(0, len(issued), 5000):
        await asyncio.to_thread(write_invoices, settings, issued[start:start + 5000])
    return issued
