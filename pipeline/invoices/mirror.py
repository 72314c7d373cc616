"""Issued invoices into ClickHouse's `invoices` table (migrations/0005_invoices.sql).

The topic is the record of truth; the table is for queries. Writing an invoice again inserts the
same values under the same key (ReplacingMergeTree), so a mirror that failed halfway is simply
written again: issuing an invoice again re-mirrors it.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal

from pipeline.invoices.record import Invoice
from pipeline.settings import Settings
from pipeline.sinks.clickhouse import connect, insert_statement

COLUMNS = (
    "issuer", "account", "period", "number", "year", "sequence", "customer_name", "currency",
    "period_start", "period_end", "issued_at", "subtotal", "tax_total", "total", "taxes",
    "line_kind", "line_description", "line_prefix", "line_calls", "line_billed_minutes", "line_amount",
    "pdf_sha256", "issuer_details",
)


def _utc_naive(moment: datetime) -> datetime:
    # the driver reads a naive datetime in the column's zone (UTC); an aware one it would shift
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def invoice_row(invoice: Invoice) -> tuple:
    """One row of the table (pure)."""
    taxes = [{"name": t.name, "percent": str(t.percent), "amount": str(t.amount), "compound": t.compound}
             for t in invoice.taxes]
    return (
        invoice.issuer, invoice.account, invoice.period, invoice.number, invoice.year, invoice.sequence,
        invoice.customer_name, invoice.currency,
        _utc_naive(invoice.period_start), _utc_naive(invoice.period_end), _utc_naive(invoice.issued_at),
        invoice.subtotal, sum((t.amount for t in invoice.taxes), Decimal(0)), invoice.total,
        json.dumps(taxes),
        [line.kind for line in invoice.lines], [line.description for line in invoice.lines],
        [line.prefix for line in invoice.lines], [line.calls for line in invoice.lines],
        [line.billed_minutes for line in invoice.lines], [line.amount for line in invoice.lines],
        invoice.pdf_sha256, invoice.issuer_details.model_dump_json(),
    )


def write_invoices(settings: Settings, invoices: Sequence[Invoice]) -> int:
    """Insert these invoices (blocking: run it in a thread from async code)."""
    if not invoices:
        return 0

    client = connect(settings)
    try:
        client.execute(insert_statement(settings.clickhouse_database, "invoices", COLUMNS),
                       [invoice_row(invoice) for invoice in invoices])
    finally:
        client.disconnect()
    return len(invoices)
