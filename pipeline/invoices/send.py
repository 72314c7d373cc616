"""E-mailing issued invoices: one on request, or every new one of a bulk issue (I/O; the message is
mail.py's, the record deliveries.py's).

Only an issued invoice is sent, with the PDF that matches its record (pipeline/invoices/pdf_files.py),
so what the customer receives is byte for byte what was issued. Every attempt is recorded, sent or
failed; a failure is an answer (the SMTP server's words), not an exception.
"""
from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pipeline.invoices.deliveries import Delivery, read_deliveries, record_delivery, sent_numbers
from pipeline.invoices.directory import Directory, InvoiceError, load_directory
from pipeline.invoices.mail import MailNotConfigured, invoice_message, send_message, sender_of
from pipeline.invoices.pdf_files import sha256
from pipeline.invoices.record import Invoice
from pipeline.invoices.service import invoice_pdf
from pipeline.schemas import field_rules  # the accounts' own e-mail rule
from pipeline.settings import Settings

__all__ = ["BulkMail", "MailNotConfigured", "email_invoice", "email_new_invoices", "recipient_of"]
log = logging.getLogger(__name__)


def recipient_of(invoice: Invoice, directory: Directory, to: str | None) -> str:
    """`to` if given (checked), else the invoiced account's e-mail; InvoiceError when there is none."""
    if to:
        try:
            return field_rules.email_address(to)
        except ValueError as exc:
            raise InvoiceError(f"to: {exc}") from None
    customer = directory.customers.get(invoice.account)
    if customer is None or not customer.email:
        raise InvoiceError(f"to: account {invoice.account!r} has no e-mail address: set one on the account "
                           "(its `email`) or give the address to send to")
    return customer.email


async def email_invoice(settings: Settings, invoice: Invoice, *, to: str | None = None, by: str = "",
                        directory: Directory | None = None) -> Delivery:
    """Send one issued invoice and record the attempt. MailNotConfigured before anything is tried
    when there is no SMTP server; InvoiceError for a draft or a missing address."""
    if invoice.draft or not invoice.sequence:
        raise InvoiceError(f"invoice {invoice.number}: a draft is not sent; issue it first")
    if not settings.smtp_host:
        raise MailNotConfigured("this installation sends no e-mail: set RATING_SMTP_HOST (and _PORT, _USER, "
                                "_PASSWORD, _FROM, _STARTTLS)")
    directory = directory or await load_directory(settings)
    recipient = recipient_of(invoice, directory, to)
    pdf = await invoice_pdf(settings, invoice, directory)
    message = invoice_message(invoice, pdf, recipient, sender_of(settings, invoice))
    try:
        await asyncio.to_thread(send_message, settings, message)
        result, detail = "sent", ""
    except (smtplib.SMTPException, OSError) as exc:  # refused, unreachable, TLS: said, and recorded
        result, detail = "failed", f"{type(exc).__name__}: {exc}"[:500]
        log.warning("invoice %s to %s: not sent (%s)", invoice.number, recipient, detail)
    delivery = Delivery(number=invoice.number, issuer=invoice.issuer, account=invoice.account, to=recipient,
                        at=datetime.now(timezone.utc), result=result, detail=detail,
                        message_id=str(message["Message-ID"]), attachment_sha256=sha256(pdf), by=by)
    await record_delivery(settings, delivery)
    return delivery


@dataclass
class BulkMail:
    """What a bulk e-mail did: sent or failed attempts, and the invoices it left alone and why."""

    deliveries: list[Delivery] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (invoice number, reason)


async def email_new_invoices(settings: Settings, invoices: Sequence[Invoice], *, by: str = "") -> BulkMail:
    """E-mail each of these invoices not sent before (a bulk issue run again sends nobody twice) to
    its account's address; those without one are skipped, and said."""
    outcome = BulkMail()
    if not invoices:
        return outcome
    directory = await load_directory(settings)
    already = sent_numbers(await read_deliveries(settings, [i.number for i in invoices]))
    for invoice in invoices:
        if invoice.number in already:
            outcome.skipped.append((invoice.number, "sent before"))
            continue
        try:
            outcome.deliveries.append(await email_invoice(settings, invoice, by=by, directory=directory))
        except InvoiceError as exc:
            outcome.skipped.append((invoice.number, str(exc)))
    return outcome
