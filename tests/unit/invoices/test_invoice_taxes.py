"""Taxes after the subtotal, as MOR's: simple (each on the subtotal) or compound (each on the
subtotal plus the taxes before it), exact Decimal, each tax line rounded once to cents."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from pipeline.invoices.compute import DestinationUsage, build_amounts, compute_taxes, to_cents
from pipeline.invoices.details import IssuerDetails, Tax

D = Decimal


def test_mor_worked_example_simple_and_compound():
    # MOR's own example: subtotal 3.99, TAX1 18%, TAX2 15%
    taxes = [("T1", D("18")), ("T2", D("15"))]
    simple = compute_taxes(D("3.99"), taxes)
    assert [t.amount for t in simple] == [D("0.72"), D("0.60")]  # 0.7182, 0.5985
    compound = compute_taxes(D("3.99"), taxes, compound=True)
    # T2 on 3.99 + 0.7182 (exact) = 4.7082: 0.70623 -> 0.71
    assert [t.amount for t in compound] == [D("0.72"), D("0.71")]
    assert all(t.compound for t in compound) and not any(t.compound for t in simple)


def test_the_total_is_the_subtotal_plus_the_shown_taxes():
    usage = [DestinationUsage("39", 3, 180, D("10.004999"))]
    amounts = build_amounts(usage, taxes=[("VAT", D("21")), ("Levy", D("1.5"))], compound=True)
    assert amounts.subtotal == D("10.00")
    vat, levy = amounts.taxes
    assert vat.amount == D("2.10")
    assert levy.amount == to_cents(D("12.10") * D("1.5") / 100) == D("0.18")  # 0.1815
    assert amounts.total == D("12.28")


money = st.decimals(min_value=D("-100000"), max_value=D("1000000"), places=6, allow_nan=False, allow_infinity=False)
percent = st.decimals(min_value=D(0), max_value=D(100), places=4, allow_nan=False, allow_infinity=False)


@given(st.lists(money, max_size=6), st.lists(percent, min_size=1, max_size=4), st.booleans())
def test_each_tax_line_is_its_exact_amount_rounded_once(amounts, percents, compound):
    usage = [DestinationUsage(str(30 + i), 1, 60, amount) for i, amount in enumerate(amounts)]
    result = build_amounts(usage, taxes=[(f"T{i}", p) for i, p in enumerate(percents)], compound=compound)
    base = result.subtotal
    for tax, p in zip(result.taxes, percents):
        exact = base * p / 100
        assert tax.amount == to_cents(exact)
        assert abs(tax.amount - exact) <= D("0.005")
        if compound:
            base += exact
    assert result.total == result.subtotal + sum(t.amount for t in result.taxes)


def test_tax_rate_is_accepted_for_percent_and_stored_as_percent():
    tax = Tax.model_validate({"name": "VAT", "rate": "21"})
    assert tax.percent == D("21")
    assert tax.model_dump(mode="json") == {"name": "VAT", "percent": "21"}
    with pytest.raises(ValidationError):  # both at once: which one would count?
        Tax.model_validate({"name": "VAT", "rate": "21", "percent": "22"})


def test_issuer_terms_are_checked():
    base = {"account": "r1", "company": "R", "number_prefix": "R1"}
    details = IssuerDetails.model_validate({**base, "taxes": [{"name": "GST", "rate": "5"}, {"name": "QST", "rate": "9.975"}],
                                            "compound_taxes": True, "payment_terms_days": 30})
    assert details.compound_taxes and details.payment_terms_days == 30
    for bad in ({"payment_terms_days": -1}, {"payment_terms_days": 366},
                {"taxes": [{"name": f"T{i}", "percent": "1"} for i in range(11)]}):
        with pytest.raises(ValidationError):
            IssuerDetails.model_validate({**base, **bad})
