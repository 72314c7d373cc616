"""The ClickHouse `invoices` table (migration 0005) on current ClickHouse (chdb), and its rows."""
from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.invoices.mirror import COLUMNS, invoice_row
from tests.unit.chdb_kit import migrated_session, rows_of
from tests.unit.invoices.examples import example_invoice

pytest.importorskip("chdb.session")


def sql_literal(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(sql_literal(v) for v in value) + "]"
    if isinstance(value, (int, Decimal)):
        return str(value)
    text = value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@pytest.fixture(scope="module")
def chdb(tmp_path_factory):
    session = migrated_session(tmp_path_factory.mktemp("chdb"), "dialect", only="0005_invoices")
    yield session
    session.close()


def insert(session, invoice) -> None:
    values = ", ".join(sql_literal(v) for v in invoice_row(invoice))
    session.query(f"INSERT INTO dialect.invoices ({', '.join(COLUMNS)}) VALUES ({values})")


def test_a_row_has_a_value_per_column_and_one_array_element_per_line():
    invoice = example_invoice(rows=4)
    row = dict(zip(COLUMNS, invoice_row(invoice)))
    assert len(row) == len(COLUMNS)
    assert all(len(row[c]) == len(invoice.lines) for c in COLUMNS if c.startswith("line_"))
    assert row["tax_total"] == sum(t.amount for t in invoice.taxes)


def test_an_invoice_mirrored_twice_is_one_row_and_its_lines_come_back_by_array_join(chdb):
    invoice = example_invoice(rows=4)
    insert(chdb, invoice)
    insert(chdb, invoice)  # a retried mirror
    [[count, total]] = rows_of(chdb, "SELECT count(), sum(total) FROM dialect.invoices FINAL")
    assert (count, Decimal(total)) == ("1", invoice.total)
    lines = rows_of(chdb, "SELECT line_prefix, line_amount FROM dialect.invoices FINAL "
                          "ARRAY JOIN line_prefix, line_amount ORDER BY line_prefix")
    assert [(prefix, Decimal(amount)) for prefix, amount in lines] == sorted(
        (line.prefix, line.amount) for line in invoice.lines)
