"""The e-mail of an invoice: headers on one line, the issued PDF attached as it is, replies to the issuer."""
from __future__ import annotations

import email
import hashlib
from email import policy

import pytest

from pipeline.invoices.mail import MailNotConfigured, invoice_message, sender_of
from pipeline.settings import Settings
from tests.unit.invoices.examples import example_invoice

PDF = b"%PDF-1.4 the issued bytes \x00\xff"


def test_the_message_has_to_subject_and_the_pdf_byte_for_byte():
    invoice = example_invoice()
    sent = invoice_message(invoice, PDF, "ap@customer.example", "invoices@operator.example")
    parsed = email.message_from_bytes(sent.as_bytes(), policy=policy.default)
    assert parsed["To"] == "ap@customer.example" and parsed["From"] == "invoices@operator.example"
    assert parsed["Subject"] == "Invoice R1-2026-000007 from Reseller One Ltd (2026-10)"
    assert parsed["Reply-To"] == "billing@r1.example"  # the customer answers the issuer, not the relay
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_content_type() == "application/pdf" and attachment.get_filename() == "R1-2026-000007.pdf"
    assert hashlib.sha256(attachment.get_content()).hexdigest() == hashlib.sha256(PDF).hexdigest()
    body = parsed.get_body(("plain",)).get_content()
    assert f"Total     {invoice.total:,.2f} EUR" in body and "VAT 22%" in body


def test_a_company_name_on_several_lines_cannot_add_a_header():
    invoice = example_invoice()
    sneaky = invoice.issuer_details.model_copy(update={"company": "Evil\nBcc: victim@example.com"})
    sent = invoice_message(invoice.model_copy(update={"issuer_details": sneaky}), PDF, "a@b.example", "c@d.example")
    parsed = email.message_from_bytes(sent.as_bytes(), policy=policy.default)
    assert parsed["Bcc"] is None and "Evil Bcc: victim@example.com" in parsed["Subject"]


def test_the_sender_is_the_configured_one_else_the_issuers_else_refused():
    invoice = example_invoice()
    assert sender_of(Settings(smtp_from="relay@op.example"), invoice) == "relay@op.example"
    assert sender_of(Settings(smtp_from=""), invoice) == "billing@r1.example"
    nobody = invoice.model_copy(update={"issuer_details": invoice.issuer_details.model_copy(update={"email": ""})})
    with pytest.raises(MailNotConfigured, match="RATING_SMTP_FROM"):
        sender_of(Settings(smtp_from=""), nobody)
