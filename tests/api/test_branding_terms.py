"""The branding form's invoice terms: taxes, compound, payment terms (the invoices' model validates them)."""
from __future__ import annotations

from pipeline.api.branding_terms import invoice_terms
from pipeline.invoices.details import IssuerDetails


def test_rows_become_taxes_empty_rows_are_none_and_a_percent_sign_is_allowed():
    form = {"tax_rows": "4", "tax_name_1": "GST", "tax_percent_1": "5%", "tax_name_2": "", "tax_percent_2": "",
            "tax_name_3": "QST", "tax_percent_3": "9.975", "compound_taxes": "on", "payment_terms_days": "30"}
    terms = invoice_terms(form, {})
    assert terms == {"taxes": [{"name": "GST", "percent": "5"}, {"name": "QST", "percent": "9.975"}],
                     "compound_taxes": True, "payment_terms_days": "30"}
    details = IssuerDetails.model_validate({"account": "r1", "company": "R", "number_prefix": "R1", **terms})
    assert details.payment_terms_days == 30 and [t.name for t in details.taxes] == ["GST", "QST"]


def test_a_form_without_the_fields_keeps_what_the_issuer_has():
    existing = {"taxes": [{"name": "VAT", "percent": "22"}], "payment_terms_days": 15, "company": "X"}
    assert invoice_terms({"company": "Y"}, existing) == {"taxes": [{"name": "VAT", "percent": "22"}],
                                                          "payment_terms_days": 15}


def test_no_terms_typed_is_no_due_date():
    assert invoice_terms({"tax_rows": "4", "payment_terms_days": " "}, {})["payment_terms_days"] is None
