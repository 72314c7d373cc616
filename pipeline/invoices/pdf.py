"""An invoice as an A4 PDF, with reportlab (pure: bytes in, bytes out).

Why reportlab: a pip wheel with no system libraries (WeasyPrint needs Debian's pango), it renders
an invoice in milliseconds (bench-invoices renders 10,000), and with `invariant=1` the same invoice
gives the same bytes, so a PDF can be rendered again from its stored record and checked against
the record's sha256. SVG logos go through svglib (vector, no rasterising).
The lines are per destination, so a month of 10,000 calls is a page or two; the lines table repeats
its header on each page and every page says "Page N of M".
"""
from __future__ import annotations

import io
from decimal import Decimal
from xml.sax.saxutils import escape

from lxml import etree
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from pipeline.invoices.record import Invoice

LOGO_BOX = (45 * mm, 22 * mm)  # width, height the logo is scaled into
MARGIN = 18 * mm
_styles = getSampleStyleSheet()
BODY = ParagraphStyle("body", parent=_styles["Normal"], fontSize=9, leading=11.5)
RIGHT = ParagraphStyle("right", parent=BODY, alignment=TA_RIGHT)
TITLE = ParagraphStyle("title", parent=_styles["Heading1"], fontSize=16, spaceAfter=2)


def render_pdf(invoice: Invoice, logo: tuple[bytes, str] | None = None) -> bytes:
    """The invoice's PDF; `logo` is (image bytes, content type) as check_logo accepted it."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN + 6 * mm,
        title=f"Invoice {invoice.number}", author=invoice.issuer_details.company, invariant=1,
    )
    story = [
        _header(invoice, logo), Spacer(1, 8 * mm),
        Paragraph(escape(f"Invoice {invoice.number}"), TITLE),
        _facts(invoice), Spacer(1, 6 * mm),
        _lines_table(invoice), Spacer(1, 4 * mm),
        _totals_table(invoice), Spacer(1, 8 * mm),
    ]
    if invoice.issuer_details.bank:
        story.append(Paragraph("<b>Payment</b><br/>" + _multiline(invoice.issuer_details.bank), BODY))
    document.build(story, canvasmaker=_NumberedCanvas)
    return buffer.getvalue()


def _multiline(text: str) -> str:
    return "<br/>".join(escape(line) for line in text.splitlines())


def _logo_flowable(logo: tuple[bytes, str] | None):
    if logo is None:
        return Spacer(*LOGO_BOX)
    data, content_type = logo
    if content_type == "image/svg+xml":
        return svg_drawing(data)
    image = Image(io.BytesIO(data))
    scale = min(LOGO_BOX[0] / image.imageWidth, LOGO_BOX[1] / image.imageHeight)
    image.drawWidth, image.drawHeight = image.imageWidth * scale, image.imageHeight * scale
    image.hAlign = "LEFT"
    return image


def svg_drawing(data: bytes):
    """An SVG logo scaled into the logo's box (logo.py draws each upload once, so that this never fails)."""

    # imported at the first SVG logo, not with this module: svglib adds ~1.5-2 s (measured,
    # -X importtime) to the start of every command, the API's included
    from svglib.svglib import SvgRenderer

    # parsed without network or entities (the upload was already sanitised by check_logo)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    drawing = SvgRenderer("logo.svg").render(etree.fromstring(data, parser))
    scale = min(LOGO_BOX[0] / max(drawing.width, 1), LOGO_BOX[1] / max(drawing.height, 1))
    drawing.width, drawing.height = drawing.width * scale, drawing.height * scale
    drawing.scale(scale, scale)
    return drawing


def _header(invoice: Invoice, logo) -> Table:
    issuer = invoice.issuer_details
    parts = [f"<b>{escape(issuer.company)}</b>"]
    if issuer.address:
        parts.append(_multiline(issuer.address))
    if issuer.vat_id:
        parts.append(f"VAT ID {escape(issuer.vat_id)}")
    if issuer.email:
        parts.append(escape(issuer.email))
    table = Table([[_logo_flowable(logo), Paragraph("<br/>".join(parts), RIGHT)]], colWidths=[80 * mm, None])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0),
                               ("RIGHTPADDING", (-1, 0), (-1, 0), 0)]))
    return table


def _facts(invoice: Invoice) -> Table:
    customer = escape(invoice.customer_name or invoice.account)
    bill_to = f"<b>Bill to</b><br/>{customer}<br/>"
    if invoice.customer_address:  # invoices issued before addresses existed print as they were
        bill_to += _multiline(invoice.customer_address) + "<br/>"
    bill_to += f"Account {escape(invoice.account)}"
    zone = invoice.issuer_details.timezone
    due = f"<b>Due date</b> {invoice.due_date.isoformat()}<br/>" if invoice.due_date else ""
    facts = (
        f"<b>Number</b> {escape(invoice.number)}<br/>"
        f"<b>Date</b> {invoice.shown_issue_date.isoformat()}<br/>"
        f"{due}"
        f"<b>Period</b> {escape(invoice.period)} ({escape(zone)})<br/>"
        f"<b>Currency</b> {escape(invoice.currency)}"
    )
    table = Table([[Paragraph(bill_to, BODY), Paragraph(facts, RIGHT)]], colWidths=[90 * mm, None])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0),
                               ("RIGHTPADDING", (-1, 0), (-1, 0), 0)]))
    return table


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def _lines_table(invoice: Invoice) -> Table:
    rows = [["Description", "Calls", "Minutes", f"Amount ({invoice.currency})"]]
    for line in invoice.lines:
        is_usage = line.kind == "destination"
        rows.append([
            Paragraph(escape(line.description), BODY),
            f"{line.calls:,}" if is_usage else "",
            f"{line.billed_minutes:,.2f}" if is_usage else "",
            _money(line.amount),
        ])
    if not invoice.lines:
        rows.append([Paragraph("No calls in this period", BODY), "", "", _money(Decimal(0))])
    table = Table(rows, colWidths=[None, 25 * mm, 28 * mm, 35 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f2f2f2")]),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return table


def tax_label(tax) -> str:
    """"VAT 22%"; a compound tax says what it is computed on (the subtotal and the taxes above)."""
    label = f"{tax.name} {tax.percent.normalize():f}%"
    return f"{label} (compound)" if tax.compound else label


def _totals_table(invoice: Invoice) -> Table:
    rows = [["Subtotal", _money(invoice.subtotal)]]
    rows += [[tax_label(tax), _money(tax.amount)] for tax in invoice.taxes]
    rows.append([f"Total {invoice.currency}", _money(invoice.total)])
    table = Table(rows, colWidths=[45 * mm, 35 * mm], hAlign="RIGHT")
    table.setStyle(TableStyle([
        ("ALIGN", (0, 0), (-1, -1), "RIGHT"),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
        ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
    ]))
    return table


class _NumberedCanvas(Canvas):
    """Holds the pages back until the end, so that each can say how many there are."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        for page in self._pages:
            self.__dict__.update(page)
            self.setFont("Helvetica", 8)
            self.drawRightString(A4[0] - MARGIN, MARGIN / 1.5, f"Page {self._pageNumber} of {len(self._pages)}")
            super().showPage()
        super().save()
