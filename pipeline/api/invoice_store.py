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
