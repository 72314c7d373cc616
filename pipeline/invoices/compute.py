"""The invoice's money from an account's usage of a period (pure: no I/O).

The subtotal is the exact sum of the account's own prices plus adjustments, rounded ONCE to cents
(half-up). Each shown line is rounded on its own, so the shown lines may miss the subtotal by a few
cents; a "rounding" line then makes them add up. Taxes are computed on the subtotal, as MOR's
"simple" taxes; with `compound` (MOR's "compound tax") each on the subtotal plus the exact taxes
before it. Each tax line is rounded once, on its own: the total is the subtotal plus the shown taxes,
so the printed lines always add up.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

DID_RECEIVED, DID_CALLED = "did:", "did-in:"  # a DID's line keys, from pipeline/invoices/queries.py
CENT = Decimal("0.01")
ZERO = Decimal(0)


def to_cents(amount: Decimal) -> Decimal:
    # half-up rounds a half away from zero: -0.005 -> -0.01, as for a positive amount
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class DestinationUsage:
    """One destination's calls of the period: a row of the usage query."""

    prefix: str
    calls: int
    billed_seconds: int
    amount: Decimal  # exact: the sum of the account's own prices
    name: str = ""


@dataclass(frozen=True)
class Adjustment:
    description: str
    amount: Decimal  # exact; negative for a credit


@dataclass(frozen=True)
class Line:
    kind: str  # "destination", "adjustment" or "rounding"
    description: str
    amount: Decimal  # shown, in cents
    prefix: str = ""
    calls: int = 0
    billed_minutes: Decimal = ZERO  # shown, to 2 decimals
    destination: str = ""  # the tariff's name of the destination, when it gives one


@dataclass(frozen=True)
class TaxAmount:
    name: str
    percent: Decimal
    amount: Decimal  # shown, in cents
    compound: bool = False  # computed on the subtotal plus the taxes before it


@dataclass(frozen=True)
class InvoiceAmounts:
    lines: tuple[Line, ...]
    subtotal: Decimal
    taxes: tuple[TaxAmount, ...]
    total: Decimal

    @property
    def empty(self) -> bool:
        return not self.lines


def destination_description(usage: DestinationUsage) -> str:
    # a DID's lines (pipeline/invoices/queries.py): the calls it received, or the calls made to it
    if usage.prefix.startswith(DID_RECEIVED):
        return f"DID {usage.prefix[len(DID_RECEIVED):]}: calls received"
    if usage.prefix.startswith(DID_CALLED):
        return f"Calls to DID {usage.prefix[len(DID_CALLED):]}"
    if usage.name:
        return f"{usage.name} ({usage.prefix})" if usage.prefix else usage.name
    return f"Prefix {usage.prefix}" if usage.prefix else "Other destinations"


def build_amounts(
    usage: Iterable[DestinationUsage],
    adjustments: Sequence[Adjustment] = (),
    taxes: Sequence[tuple[str, Decimal]] = (),
    compound: bool = False,
) -> InvoiceAmounts:
    """Lines per destination (by prefix), then adjustments, a rounding line if needed, taxes, total."""
    ordered = sorted(usage, key=lambda u: u.prefix)
    lines = [
        Line("destination", destination_description(u), to_cents(u.amount), u.prefix, u.calls,
             to_cents(Decimal(u.billed_seconds) / 60), u.name)
        for u in ordered
    ]
    lines += [Line("adjustment", a.description, to_cents(a.amount)) for a in adjustments]
    exact = sum((u.amount for u in ordered), ZERO) + sum((a.amount for a in adjustments), ZERO)
    subtotal = to_cents(exact)
    difference = subtotal - sum((line.amount for line in lines), ZERO)
    if difference:
        lines.append(Line("rounding", "Rounding", difference))
    tax_amounts = compute_taxes(subtotal, taxes, compound)
    total = subtotal + sum((t.amount for t in tax_amounts), ZERO)
    return InvoiceAmounts(tuple(lines), subtotal, tax_amounts, total)


def compute_taxes(subtotal: Decimal, taxes: Sequence[tuple[str, Decimal]], compound: bool = False
                  ) -> tuple[TaxAmount, ...]:
    """Each tax's line, rounded once. Compound (MOR): tax n is on subtotal + the exact amounts of
    taxes 1..n-1, as MOR computes (((X + T1%) + T2%) + T3%); their rounding happens once, per line."""
    amounts: list[TaxAmount] = []
    base = subtotal  # exact: cents times percents of at most 4 places stay well inside 28 digits
    for name, percent in taxes:
        exact = base * percent / 100
        amounts.append(TaxAmount(name, percent, to_cents(exact), compound))
        if compound:
            base += exact
    return tuple(amounts)
