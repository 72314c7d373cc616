"""Which column of a deck holds which field: the layout's names for them, and `--map COLUMN=FIELD`.

A header cell is compared in a normal form: lower case, a trailing "(USD)" dropped, letters and
digits only ("Cost / Min (USD)" -> "costmin"). `--map` wins over the names; its COLUMN is a header
cell as written (any case) or a 1-based column number, and its FIELD one of the layout's fields or
"-" (skip the column). Columns nobody claims are skipped and reported in the import's notes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.reference.decks.errors import DeckError
from pipeline.reference.decks.table import Table

SKIP = "-"
_CURRENCY_SUFFIX = re.compile(r"\s*\([^)]*\)\s*$")
_NOT_ALNUM = re.compile(r"[^0-9a-z]")


def normal(name: str) -> str:
    return _NOT_ALNUM.sub("", _CURRENCY_SUFFIX.sub("", name).lower())


@dataclass(frozen=True)
class ColumnNames:
    """A layout's fields and the header names that mean each (in normal form)."""
    layout: str
    names: dict[str, tuple[str, ...]]  # field -> names, the most telling first
    required: tuple[str, ...]
    ranked: tuple[str, ...] = ()  # fields where, of several matching columns, the first-named wins
    aliases: dict[str, str] | None = None  # another system's name of a field, taken by --map (A2Billing's)

    def fields(self) -> list[str]:
        return list(self.names)


def parse_mapping(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`--map COLUMN=FIELD` items; the last "=" separates (a column name may hold one)."""
    mapping: dict[str, str] = {}
    for item in items:
        column, equals, field = item.rpartition("=")
        if not equals or not column.strip() or not field.strip():
            raise ValueError(f'--map "{item}" must be COLUMN=FIELD (FIELD "-" skips the column)')
        mapping[column.strip()] = field.strip()
    return mapping


def label(table: Table, index: int, field: str | None = None) -> str:
    """How errors name a column: its header cell, or its number (and field) in a header-less file."""
    if table.header:
        return table.header[index]
    return f"{index + 1}" + (f" ({field})" if field else "")


def resolve(table: Table, names: ColumnNames, mapping: dict[str, str], notes: list[str],
            positional: tuple[str, ...] = ()) -> dict[str, int]:
    """field -> column index. `positional`: the fields of the first columns of a header-less file."""
    fields = names.fields()
    width = len(table.header) or max(map(len, table.rows), default=0)
    assigned: dict[int, str] = {index: field for index, field in enumerate(positional) if index < width}
    for column, field in mapping.items():
        index = _find(table, column)
        field = (names.aliases or {}).get(field, field)
        if field != SKIP and field not in fields:
            raise DeckError(table.name, 1, column, f'--map names "{field}", which is not a field of the {names.layout} '
                            f"layout; fields: {', '.join(fields)} (or - to skip the column)")
        assigned[index] = field
    by_name = {name: field for field, known in names.names.items() for name in known}
    unclaimed = []
    for index, head in enumerate(table.header):
        if index not in assigned:
            field = by_name.get(normal(head))
            if field is None:
                unclaimed.append(head)
            else:
                assigned[index] = field
    if not table.header and width > len(assigned):
        free = [str(index + 1) for index in range(width) if index not in assigned]
        raise DeckError(table.name, table.lines[0] if table.lines else 1, None,
                        f"has {width} columns and no header: name column(s) {', '.join(free)} with --map N=FIELD "
                        f"(fields: {', '.join(fields)}, or - to skip)")
    mapped = {_find(table, column) for column in mapping}
    columns = _one_column_per_field(table, names, assigned, mapped, notes)
    for field in names.required:
        if field not in columns:
            shown = ", ".join(f'"{head}"' for head in table.header) or "none"
            raise DeckError(table.name, 1, None, f"no column holds the {field} (columns: {shown}); name one with "
                            f"--map COLUMN={field}")
    if unclaimed:
        notes.append(f"{table.name}: column(s) skipped: {', '.join(unclaimed)} (--map COLUMN=FIELD reads one)")
    return columns


def _find(table: Table, column: str) -> int:
    width = len(table.header) or max(map(len, table.rows), default=0)  # rows are padded to it
    if column.isascii() and column.isdigit() and 1 <= int(column) <= width:
        return int(column) - 1
    for index, head in enumerate(table.header):
        if head.lower() == column.lower():
            return index
    for index, head in enumerate(table.header):
        if normal(head) == normal(column):
            return index
    shown = ", ".join(f'"{head}"' for head in table.header) or "none: give a column number"
    raise DeckError(table.name, 1, column, f"--map names a column the file does not have (columns: {shown})")


def _one_column_per_field(table: Table, names: ColumnNames, assigned: dict[int, str], mapped: set[int],
                          notes: list[str]) -> dict[str, int]:
    """One column per field: a column --map names wins over one found by its name."""
    columns: dict[str, int] = {}
    for index, field in sorted(assigned.items(), key=lambda item: (item[0] not in mapped, item[0])):
        if field == SKIP:
            continue
        if field not in columns:
            columns[field] = index
            continue
        other = columns[field]
        if other in mapped and index not in mapped:
            notes.append(f'{table.name}: column "{label(table, index)}" skipped: --map reads the {field} from '
                         f'"{label(table, other)}"')
            continue
        if field not in names.ranked:
            raise DeckError(table.name, 1, label(table, index), f'is read as {field}, and so is column '
                            f'"{label(table, other)}": skip one with --map "{label(table, index)}"=-')
        rank = names.names[field]
        keep, drop = sorted((other, index), key=lambda i: rank.index(normal(table.header[i]))
                            if table.header and normal(table.header[i]) in rank else len(rank))
        columns[field] = keep
        notes.append(f'{table.name}: {field} read from column "{label(table, keep)}", not "{label(table, drop)}"')
    return columns
