"""The PDF: A4, the issuer's name, number and total readable by pdftotext, few pages, stable bytes."""
from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from PIL import Image
from reportlab.lib.pagesizes import A4

from pipeline.invoices.pdf import render_pdf
from tests.unit.invoices.examples import example_invoice

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (pdftotext)")
SVG = b"<svg xmlns='http://www.w3.org/2000/svg' width='200' height='80'><rect width='200' height='80' fill='#c33'/></svg>"


def text_of(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def pages_of(pdf: bytes) -> int:
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def png_logo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 100), "navy").save(buffer, "PNG")
    return buffer.getvalue()


@needs_poppler
def test_the_text_has_issuer_customer_number_lines_taxes_and_total():
    invoice = example_invoice(rows=3)
    text = text_of(render_pdf(invoice, (png_logo(), "image/png")))
    for expected in ("Reseller One Ltd", "IT12345678901", "User One", "R1-2026-000007", "Prefix 372",
                     "VAT 22%", f"{invoice.total:,.2f}", f"{invoice.subtotal:,.2f}", "Page 1 of 1"):
        assert expected in text


@needs_poppler
def test_a_long_invoice_numbers_its_pages_and_stays_short():
    invoice = example_invoice(rows=150)  # 150 destinations: far more than a month of one account has
    pdf = render_pdf(invoice, (SVG, "image/svg+xml"))
    pages = pages_of(pdf)
    assert 2 <= pages <= 6
    assert f"Page {pages} of {pages}" in text_of(pdf)
    assert text_of(pdf).count("Description") == pages  # the lines' header on every page


def test_the_page_is_a4():
    # A4 is 210 x 297 mm = 595.2756 x 841.8898 points
    assert f"/MediaBox [ 0 0 {A4[0]:.4f} {A4[1]:.4f} ]".encode() in render_pdf(example_invoice())
    assert round(A4[0] / 72 * 25.4) == 210 and round(A4[1] / 72 * 25.4) == 297


def test_the_same_invoice_gives_the_same_bytes_so_its_sha256_can_be_checked_later():
    invoice = example_invoice()
    assert render_pdf(invoice) == render_pdf(invoice)
    assert render_pdf(invoice) != render_pdf(invoice.model_copy(update={"number": "R1-2026-000008"}))
