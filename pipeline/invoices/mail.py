"""An invoice as an e-mail with its PDF attached, and sending it through the configured SMTP server.

The message is built here (pure) and sent with the standard library's smtplib, in a thread: one
message per request, so an asyncio SMTP client would add a dependency and win nothing. The server
and its login are settings (RATING_SMTP_*); the password is a SecretStr, never logged or echoed.
"""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from pipeline.invoices.pdf import tax_label
from pipeline.invoices.record import Invoice
from pipeline.settings import Settings


class MailNotConfigured(RuntimeError):
    """The installation has no SMTP server (RATING_SMTP_HOST), or no From address to send with."""


def _one_line(text: str) -> str:
    # a header is one line: a company name typed over several lines must not start a new header
    return " ".join(text.split())


def sender_of(settings: Settings, invoice: Invoice) -> str:
    """RATING_SMTP_FROM, else the issuer's own invoice e-mail (his customers answer him)."""
    sender = settings.smtp_from or invoice.issuer_details.email
    if not sender:
        raise MailNotConfigured("no From address: set RATING_SMTP_FROM, or an e-mail in the issuer's "
                                f"invoice details ({invoice.issuer})")
    return sender


def subject_of(invoice: Invoice) -> str:
    return _one_line(f"Invoice {invoice.number} from {invoice.issuer_details.company} ({invoice.period})")


def body_of(invoice: Invoice) -> str:
    company = invoice.issuer_details.company
    lines = [
        f"Dear {invoice.customer_name or invoice.account},",
        "",
        f"attached is invoice {invoice.number} of {company} for {invoice.period}.",
        "",
        f"  Subtotal  {invoice.subtotal:,.2f} {invoice.currency}",
        *(f"  {tax_label(tax)}  {tax.amount:,.2f} {invoice.currency}" for tax in invoice.taxes),
        f"  Total     {invoice.total:,.2f} {invoice.currency}",
    ]
    if invoice.due_date:
        lines += ["", f"Please pay by {invoice.due_date.isoformat()}."]
    if invoice.issuer_details.bank:
        lines += ["", "Payment details:", *invoice.issuer_details.bank.splitlines()]
    lines += ["", "--", company]
    if invoice.issuer_details.email:
        lines.append(invoice.issuer_details.email)
    return "\n".join(lines) + "\n"


def invoice_message(invoice: Invoice, pdf: bytes, to: str, sender: str) -> EmailMessage:
    """The e-mail: plain text, the PDF attached as NUMBER.pdf; replies go to the issuer."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject_of(invoice)
    if invoice.issuer_details.email and invoice.issuer_details.email != sender:
        message["Reply-To"] = invoice.issuer_details.email
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body_of(invoice))
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{invoice.number}.pdf")
    return message


def send_message(settings: Settings, message: EmailMessage) -> None:
    """Deliver to the SMTP server (blocking: run it in a thread). smtplib's errors and OSError pass
    through: the caller records what happened."""
    if not settings.smtp_host:
        raise MailNotConfigured("this installation sends no e-mail: set RATING_SMTP_HOST (and _PORT, _USER, "
                                "_PASSWORD, _FROM, _STARTTLS)")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds) as server:
        if settings.smtp_starttls:
            server.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            server.login(settings.smtp_user, settings.smtp_password.get_secret_value())
        server.send_message(message)
