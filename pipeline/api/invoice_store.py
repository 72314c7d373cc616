"""InvoiceStore on the invoices' own functions (pipeline/invoices): the API only decides who may
see or issue which invoice; numbering, totals and PDFs are theirs."""
from __future__ import annotations

from pipeline.settings import Settings


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
        from pipeline.invoices.service import invoice_pdf

        return await invoice_pdf(self.settings, invoice)


class RunRerate:
    """Re-rating through pipeline/rerate (the `rerate` command's own code)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def rerate(self, first, last, account, reseller, dry_run, run_id) -> dict:
        from pipeline.rerate.service import run_rerate

        return await run_rerate(self.settings, first, last, account=account, reseller=reseller,
                                dry_run=dry_run, run_id=run_id)
