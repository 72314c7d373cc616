"""A Table as an aligned text table (default), CSV or JSON. Money stays exact: Decimals are
printed as their string, never through float."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from pipeline.reports.run import Table

FORMATS = ("text", "csv", "json")


def render(table: Table, output_format: str = "text") -> str:
    if output_format == "text":
        return text_table(table)
    if output_format == "csv":
        return csv_table(table)
    if output_format == "json":
        return json.dumps(table_records(table), indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown format {output_format!r}; one of {', '.join(FORMATS)}")


def text_table(table: Table) -> str:
    cells = [[_cell(value) for value in row] for row in table.rows]
    widths = [len(name) for name in table.columns]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row)]
    # numbers right-aligned so that decimal points line up (all money has 6 places)
    numeric = [
        bool(table.rows) and all(_is_number(row[i]) for row in table.rows) for i in range(len(widths))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric)
        ).rstrip()

    out = [line(list(table.columns)), line(["-" * width for width in widths])]
    out += [line(row) for row in cells]
    out.append(f"({len(table.rows)} rows)")
    return "\n".join(out) + "\n"


def csv_table(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows([_cell(value) for value in row] for row in table.rows)
    return buffer.getvalue()


def table_records(table: Table) -> list[dict[str, Any]]:
    return [{name: _json_value(value) for name, value in record.items()} for record in table.dicts()]


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # a JSON number would be read back as a float
    if isinstance(value, (datetime, date)):
        return _cell(value)
    return value


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        # rated_calls times are DateTime('UTC'): the driver returns them naive, in UTC
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)
