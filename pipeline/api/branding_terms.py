"""The invoice terms of the portal's branding form: taxes (MOR's up to four, simple or compound) and
payment terms in days. The invoices' own model (pipeline/invoices/details.py) validates them; this
only reads the form, and keeps what a form without these fields does not show."""
from __future__ import annotations

from typing import Any

TAX_ROWS = 4  # the form's rows, as MOR's T1..T4
TERMS_KEYS = ("taxes", "compound_taxes", "payment_terms_days")


def invoice_terms(form: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    """taxes, compound_taxes and payment_terms_days from the form (an empty row is no tax; an empty
    term is none), or the existing ones when the form has no such fields."""
    if "tax_rows" not in form:
        return {key: existing[key] for key in TERMS_KEYS if key in existing}
    taxes = []
    for row in range(1, TAX_ROWS + 1):
        name = str(form.get(f"tax_name_{row}", "")).strip()
        percent = str(form.get(f"tax_percent_{row}", "")).strip().rstrip("%").strip()
        if name or percent:  # half a row is the model's to refuse, with the field's name
            taxes.append({"name": name, "percent": percent})
    terms = str(form.get("payment_terms_days", "")).strip()
    return {"taxes": taxes, "compound_taxes": form.get("compound_taxes") == "on",
            "payment_terms_days": terms or None}
