"""Query results as JSON-ready dicts: Decimal as strings, times in ISO-8601 UTC, and the derived
ASR and ACD of the stats, computed in Decimal."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pipeline.reports.run import Table

HUNDRED = Decimal(100)


def json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return aware.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def json_rows(table: Table) -> list[dict[str, Any]]:
    return [{name: json_value(v) for name, v in zip(table.columns, row)} for row in table.rows]


def with_asr_acd(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ASR = answered / calls in %, ACD = answered seconds / answered calls; 0 when undefined."""
    shaped = []
    for row in rows:
        row = dict(row)
        calls, answered, seconds = row["calls"], row["answered"], row.pop("billsec_total")
        row["asr_percent"] = str(_round(HUNDRED * answered / calls, 1) if calls else Decimal(0))
        row["acd_seconds"] = str(_round(Decimal(seconds) / answered, 1) if answered else Decimal(0))
        shaped.append(row)
    return shaped


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
