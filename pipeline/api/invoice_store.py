"""InvoiceStore on the invoices' own functions (pipeline/invoices): the API only decides who may
see or issue which invoice; numbering, totals and PDFs are theirs."""
from __future__ import annotations

from pipeline.api.errors import ApiError
from pipeline.invoices import ledger  # ledger.read_invoices at call time: tests replace it
from pipeline.invoices.deliveries import read_deliveries
from pipeline.invoices.period import Period
from pipeline.invoices.send import email_invoice, email_new_invoices
from pipeline.invoices.service import PdfMismatch, invoice_pdf, issue_all, issue_invoice
from pipeline.rerate.service import run_rerate
from pipeline.settings import Settings


class InvoiceFileUnavailable(ApiError):
    """The invoice exists, but no PDF of it that matches its record can be served here: the caller
    learns that much, the log says which file (a 503: nothing the caller did, nor a bug to retry blindly)."""
    status, title = 503, "Service Unavailable"


class LedgerInvoices:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def invoices(self, account: str | None = None, number: str | None = None) -> list:
        return await ledger.read_invoices(self.settings, account=account, number=number)

    async def issue(self, account: str, period: str):
        return await issue_invoice(self.settings, account, Period.parse(period))

    async def pdf(self, invoice) -> bytes:
        try:
            return await invoice_pdf(self.settings, invoice)
        except PdfMismatch:  # logged with the file's path and hashes
            raise InvoiceFileUnavailable("invoice file does not match its record; the operator is told") from None

    # bulk issue and e-mail (pipeline/api/routes_invoice_mail.py) --------------------------------

    @property
    def mail_ready(self) -> bool:
        """Whether this installation has an SMTP server to send invoices with (RATING_SMTP_HOST)."""
        return bool(self.settings.smtp_host)

    async def issue_all(self, issuer: str, period: str, skip_empty: bool) -> list:
        """Every invoice `issuer` issues for the period (issued before: returned as it is)."""
        return await issue_all(self.settings, Period.parse(period), skip_empty=skip_empty, issuer=issuer)

    async def email(self, invoice, to: str | None, by: str):
        """One e-mail of an issued invoice (pipeline/invoices/send.py); the attempt is recorded."""
        return await email_invoice(self.settings, invoice, to=to, by=by)

    async def email_new(self, invoices: list, by: str):
        return await email_new_invoices(self.settings, invoices, by=by)

    async def deliveries(self, numbers) -> list:
        return await read_deliveries(self.settings, numbers)


class RunRerate:
    """Re-rating through pipeline/rerate (the `rerate` command's own code)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def rerate(self, first, last, account, reseller, dry_run, run_id) -> dict:
        return await run_rerate(self.settings, first, last, account=account, reseller=reseller,
                                dry_run=dry_run, run_id=run_id)
