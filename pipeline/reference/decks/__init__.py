"""Rate decks as carriers and other billing systems send them (docs/rate-decks.md), read into a
tariff's rates: `read_deck(files, layout, mapping)`.

Layouts: generic (one CSV, columns by their usual names), cgrates (a CGRateS tariff plan's files),
astpp (ASTPP's rate import), a2billing (A2Billing's rate card import). Every reader either returns
rates or raises DeckError naming the file, the line and the column; `notes` collects what was
read in a way worth telling (a column skipped, a rounding that gives way to the tariff's).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field

from pipeline.reference.decks import a2billing, astpp, cgrates, generic
from pipeline.reference.decks.columns import parse_mapping
from pipeline.reference.decks.errors import DeckError
from pipeline.reference.decks.table import read_table
from pipeline.schemas.reference import RateIn

LAYOUTS = ("generic", "cgrates", "astpp", "a2billing")


@dataclass
class Deck:
    rates: tuple[RateIn, ...]
    notes: list[str] = field(default_factory=list)


def read_deck(files: list[tuple[str, bytes]], layout: str, mapping: dict[str, str] | None = None,
              rating_plan: str | None = None) -> Deck:
    """`files`: (name, content) in the order given. Raises DeckError (a ValueError)."""
    mapping = mapping or {}
    if layout not in LAYOUTS:
        raise DeckError("--layout", None, None, f'"{layout}" is not a layout; layouts: {", ".join(LAYOUTS)}')
    if not files:
        raise DeckError("the deck", None, None, "has no files")
    if rating_plan is not None and layout != "cgrates":
        raise DeckError("--rating-plan", None, None, "applies to the cgrates layout only")
    notes: list[str] = []
    try:
        if layout == "cgrates":
            rates = cgrates.read(files, mapping, notes, rating_plan)
        elif layout == "a2billing":
            rates = a2billing.read(files, mapping, notes)
        else:
            tables = [read_table(name, data) for name, data in files]
            notes += [note for table in tables for note in table.notes]
            rates = (astpp if layout == "astpp" else generic).read(tables, mapping, notes)
    except csv.Error as exc:  # a field larger than the csv module's limit, and the like
        raise DeckError(files[0][0], None, None, f"is not CSV: {exc}") from None
    if not rates:
        raise DeckError(files[0][0], None, None, f"no rates in {', '.join(name for name, _ in files)}")
    return Deck(rates, notes)


__all__ = ["LAYOUTS", "Deck", "DeckError", "parse_mapping", "read_deck"]
