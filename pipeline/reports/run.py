"""Runs a report query and shapes the result as a Table; ASR and ACD are derived here, in Decimal."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pipeline.reports.queries import Query

SIXTY = Decimal(60)
_DECIMAL_TYPE = re.compile(r"^(?:Nullable\()?Decimal(?:\(\d+, *|\d+\()(\d+)\)")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: list[tuple]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


def fetch(client, query: Query) -> Table:
    rows, types = client.execute(query.sql, query.params, with_column_types=True)
    # the driver gives Decimal('2') for 2.000000: show every amount with its column's scale
    scales = [_decimal_scale(type_name) for _, type_name in types]
    shaped = [
        tuple(value if scale is None or value is None else value.quantize(Decimal(1).scaleb(-scale))
              for value, scale in zip(row, scales))
        for row in rows
    ]
    return Table(tuple(name for name, _ in types), shaped)


def _decimal_scale(type_name: str) -> int | None:
    match = _DECIMAL_TYPE.match(type_name)
    return int(match.group(1)) if match else None


def with_asr_acd(table: Table) -> Table:
    """top-destinations: adds minutes (answered seconds / 60), ASR % and ACD seconds.

    ASR = answered / calls, ACD = answered seconds / answered calls; both 0 when undefined.
    """
    index = {name: position for position, name in enumerate(table.columns)}
    rows = []
    for row in table.rows:
        calls, answered, seconds = row[index["calls"]], row[index["answered"]], row[index["billsec_total"]]
        minutes = _round(Decimal(seconds) / SIXTY, 2)
        asr = _round(HUNDRED * answered / calls, 1) if calls else Decimal(0)
        acd = _round(Decimal(seconds) / answered, 1) if answered else Decimal(0)
        kept = tuple(value for name, value in zip(table.columns, row) if name != "billsec_total")
        rows.append(kept + (minutes, asr, acd))
    columns = tuple(name for name in table.columns if name != "billsec_total")
    return Table(columns + ("minutes", "asr_percent", "acd_seconds"), rows)


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def column(table: Table, name: str) -> Sequence[Any]:
    position = table.columns.index(name)
    return [row[position] for row in table.rows]
