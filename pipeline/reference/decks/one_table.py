"""The reading shared by one-file layouts (generic, ASTPP, A2Billing): columns found, cells parsed
column by column (each distinct text once: decks repeat a few hundred prices over a million
lines), each row's billing turned into a rate's pricing (once per distinct combination), then the
rows handed to assemble.build_rates.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pipeline.reference.decks import cells
from pipeline.reference.decks.assemble import Rows
from pipeline.reference.decks.columns import ColumnNames, label, resolve
from pipeline.reference.decks.errors import DeckError
from pipeline.reference.decks.pricing import Pricing
from pipeline.reference.decks.table import Table
from pipeline.schemas import field_rules

# fields every one-file layout reads the same way (besides its own billing fields)
VERSION_FIELDS = ("effective_from", "day_type", "start", "end")
ROW_FIELDS = ("prefix", "destination", "from_seconds", *VERSION_FIELDS)  # what Rows holds besides pricing


class PricingRefused(ValueError):
    """A row's billing fields that make no rate of ours; `field` is the one to blame."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def common_parsers(table: Table) -> dict[str, Callable[[str], Any]]:
    """Cell parsers of the fields whose meaning does not depend on the layout."""
    return {
        "prefix": cells.prefixes,
        "destination": field_rules.destination_name,
        "effective_from": cells.instant,
        "day_type": lambda text: field_rules.day_type(text) if text else None,
        "start": lambda text: field_rules.time_of_day(text) if text else None,
        "end": lambda text: field_rules.time_of_day(text) if text else None,
        "money": lambda text: cells.money(text, table.decimal_comma),
        "seconds": cells.seconds,
    }


def parse_column(table: Table, index: int, parse: Callable[[str], Any], column: str) -> list:
    texts = [row[index] for row in table.rows]
    parsed: dict[str, Any] = {}
    for text in set(texts):
        try:
            parsed[text] = parse(text)
        except ValueError as error:
            raise DeckError(table.name, table.lines[texts.index(text)], column, str(error)) from None
    return list(map(parsed.__getitem__, texts))


def read_rows(table: Table, names: ColumnNames, mapping: dict[str, str], parsers: Mapping[str, Callable[[str], Any]],
              billing_fields: tuple[str, ...], price: Callable[[dict[str, Any]], Pricing], notes: list[str], *,
              repeat_hint: str = "", positional: tuple[str, ...] = ()) -> Rows:
    """`parsers`: field -> cell parser; `price(values of billing_fields) -> Pricing` may raise
    PricingRefused. Raises DeckError for the first bad cell or row."""
    if not table.rows:
        raise DeckError(table.name, None, None, f"no rates in {table.name}")
    columns = resolve(table, names, mapping, notes, positional)
    labels = {field: label(table, index, field) for field, index in columns.items()}
    values = {field: parse_column(table, index, parsers[field], labels[field]) for field, index in columns.items()}
    for field in names.required:
        missing = next((row for row, value in enumerate(values[field]) if value is None), None)
        if missing is not None:
            raise DeckError(table.name, table.lines[missing], labels[field], "is empty")
    count = len(table.rows)
    given = [(field, values[field]) for field in billing_fields if field in values]
    keys = list(zip(*(column for _, column in given))) if given else [()] * count
    memo: dict[tuple, Pricing] = {}
    pricing = []
    for row, key in enumerate(keys):
        found = memo.get(key)
        if found is None:
            try:
                found = memo[key] = price(dict(zip((field for field, _ in given), key)))
            except PricingRefused as refused:
                raise DeckError(table.name, table.lines[row], labels.get(refused.field, refused.field),
                                str(refused)) from None
            except ValueError as error:  # a tier layout the other system's blocks cannot keep
                raise DeckError(table.name, table.lines[row], labels.get("rate"), str(error)) from None
        pricing.append(found)
    rows = Rows(table.name, table.lines, values["prefix"], pricing, destination=values.get("destination"),
                effective_from=values.get("effective_from"), day_type=values.get("day_type"),
                start=values.get("start"), end=values.get("end"), from_seconds=values.get("from_seconds"),
                labels=labels, repeat_hint=repeat_hint)
    rows.extra = {field: column for field, column in values.items() if field not in ROW_FIELDS}
    return rows
