"""The invoice's money: one rounding of the exact sum, a rounding line, taxes on the subtotal."""
from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from pipeline.invoices.compute import Adjustment, DestinationUsage, build_amounts, to_cents

micro_amounts = st.integers(min_value=-10**9, max_value=10**10).map(lambda n: Decimal(n).scaleb(-6))
usage_lists = st.lists(
    st.tuples(st.from_regex(r"[0-9]{1,6}", fullmatch=True), st.integers(0, 10**6), st.integers(0, 10**8),
              micro_amounts.map(abs)),
    max_size=40, unique_by=lambda t: t[0],
).map(lambda rows: [DestinationUsage(p, c, s, a) for p, c, s, a in rows])
adjustment_lists = st.lists(micro_amounts.map(lambda a: Adjustment("re-rating 2026-09", a)), max_size=4)
percents = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False)


@given(usage_lists, adjustment_lists)
def test_subtotal_is_the_exact_sum_rounded_once(usage, adjustments):
    exact = sum((u.amount for u in usage), Decimal(0)) + sum((a.amount for a in adjustments), Decimal(0))
    assert build_amounts(usage, adjustments).subtotal == to_cents(exact)


@given(usage_lists, adjustment_lists)
def test_shown_lines_with_the_rounding_line_add_up_to_the_subtotal(usage, adjustments):
    amounts = build_amounts(usage, adjustments)
    assert sum((line.amount for line in amounts.lines), Decimal(0)) == amounts.subtotal
    rounding = [line for line in amounts.lines if line.kind == "rounding"]
    assert len(rounding) <= 1 and all(line.amount != 0 for line in rounding)
    # a rounding line only fixes the per-line roundings: at most half a cent per rounded line
    if rounding:
        assert abs(rounding[0].amount) <= Decimal("0.005") * (len(usage) + len(adjustments) + 1)


@given(usage_lists, st.lists(percents, max_size=3))
def test_each_tax_is_on_the_subtotal_and_the_total_adds_them(usage, tax_percents):
    taxes = [(f"T{i}", p) for i, p in enumerate(tax_percents)]
    amounts = build_amounts(usage, (), taxes)
    for tax, (_, percent) in zip(amounts.taxes, taxes):
        assert tax.amount == to_cents(amounts.subtotal * percent / 100)
    assert amounts.total == amounts.subtotal + sum((t.amount for t in amounts.taxes), Decimal(0))


def test_three_thirds_of_a_cent_need_a_rounding_line():
    third = Decimal("0.003333")
    usage = [DestinationUsage(p, 1, 60, third) for p in ("1", "2", "3")]
    amounts = build_amounts(usage)
    assert [line.amount for line in amounts.lines] == [Decimal("0.00")] * 3 + [Decimal("0.01")]
    assert amounts.lines[-1].kind == "rounding" and amounts.subtotal == Decimal("0.01")


def test_half_a_cent_rounds_up_and_lines_show_calls_and_minutes():
    amounts = build_amounts([DestinationUsage("3706", 4, 95, Decimal("1.005"), name="Lithuania mobile")],
                            [Adjustment("credit", Decimal("-0.5"))], [("VAT", Decimal("21"))])
    line = amounts.lines[0]
    assert (line.description, line.calls, line.billed_minutes, line.amount) == (
        "Lithuania mobile (3706)", 4, Decimal("1.58"), Decimal("1.01"))
    assert amounts.lines[1].amount == Decimal("-0.50")
    assert amounts.subtotal == Decimal("0.51")  # 1.005 - 0.5 = 0.505 -> 0.51, no rounding line needed
    assert amounts.taxes[0].amount == Decimal("0.11")  # 0.1071 -> 0.11
    assert amounts.total == Decimal("0.62")


def test_no_usage_is_a_zero_invoice_without_lines():
    amounts = build_amounts([], (), [("VAT", Decimal("22"))])
    assert amounts.empty and amounts.subtotal == Decimal("0.00") and amounts.total == Decimal("0.00")


def test_lines_are_ordered_by_prefix_whatever_the_input_order():
    usage = [DestinationUsage(p, 1, 60, Decimal(1)) for p in ("44", "370", "1")]
    assert [line.prefix for line in build_amounts(usage).lines] == ["1", "370", "44"]
