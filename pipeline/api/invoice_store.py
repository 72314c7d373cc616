"""InvoiceStore on the invoices' own functions (pipeline/invoices): the API only decides who may
see or issue which invoice; numbering, totals and PDFs are theirs."""
from __future__ import annotations

from pipeline.api.errors import ApiError
from pipeline.settings import Settings


class InvoiceFileUnavailable(ApiError):
    """The invoice exists, but no PDF of it that matches its record can be served here: the caller
    learns that much, the log says which file (a 503: nothing the caller did, nor a bug to retry blindly)."""
    status, title = 503, "Service Unavailable"


class LedgerInvoices:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def invoices(self, account: str | None = None, number: str | None = None) -> list:
        from pipeline.invoices.ledger import read_invoices

        return await read_invoices(self.settings, account=account, number=number)

    async def issue(self, account: str, period: str):
        from pipeline.invoices.period import Period
        from pipeline.invoices.service import issue_invoice

        return await issue_invoice(self.settings, account, Period.parse(period))

    async def pdf(self, invoice) -> bytes:
        from pipeline.invoices.service import PdfMismatch, invoice_pdf

        try:
            return await invoice_pdf(self.settings, invoice)
        except PdfMismatch:  # logged with the file's path and hashes
            raise InvoiceFileUnavailable("invoice file does not match its record; the operator is told") from None


class RunRerate:
    """Re-rating through pipeline/rerate (the `rerate` command's own code)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def rerate(self, first, last, account, reseller, dry_run, run_id) -> dict:
        from pipeline.rerate.service import run_rerate

        return await run_rerate(self.settings, first, last, account=account, reseller=reseller,
                                dry_run=dry_run, run_id=run_id)
