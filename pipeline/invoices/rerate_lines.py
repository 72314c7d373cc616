"""Re-rating differences as invoice adjustment lines (docs/domain.md "Invoices"): a difference for a call
in an already invoiced period goes on the account's next invoice, never into the issued one.

`adjustments_for(settings, account, period)` is what pipeline/invoices calls when it issues the
invoice of `period`: one line per run and month of the calls, from rating.rerate_adjustments
(written by every run beside its balance.adjustments, with the invoice each belongs on).
"""
from __future__ import annotations

from decimal import Decimal

from pipeline.invoices.compute import Adjustment
from pipeline.settings import Settings
from pipeline.sinks.clickhouse import connect


def adjustments_query(database: str, account: str, period: str) -> tuple[str, dict]:
    return (f"SELECT rerate_id, toYYYYMM(call_start) AS month, count() AS calls, sum(amount) AS amount "
            f"FROM {database}.rerate_adjustments FINAL "
            "WHERE account = %(account)s AND bill_period = %(period)s "
            "GROUP BY rerate_id, month ORDER BY rerate_id, month", {"account": account, "period": period})


def lines_from_rows(rows) -> list[Adjustment]:
    """(rerate_id, month YYYYMM, calls, amount) rows -> adjustment lines; exact amounts."""
    return [Adjustment(f"Re-rating {rerate_id}: {calls} call{'s' if calls != 1 else ''} of "
                       f"{month // 100:04d}-{month % 100:02d}", Decimal(amount))
            for rerate_id, month, calls, amount in rows if Decimal(amount) != 0]


def adjustments_for(settings: Settings, account: str, period: str) -> list[Adjustment]:
    """The adjustment lines of `account`'s invoice of `period` ("YYYY-MM"). Blocking (ClickHouse):
    from async code call it with asyncio.to_thread."""

    sql, params = adjustments_query(settings.clickhouse_database, account, period)
    client = connect(settings)
    try:
        return lines_from_rows(client.execute(sql, params))
    finally:
        client.disconnect()


def adjustments_by_account(settings: Settings, period: str) -> dict[str, list[Adjustment]]:
    """Every account's adjustment lines for its invoice of `period`: one query for `invoice issue
    --all`. Blocking, like adjustments_for."""

    sql = (f"SELECT account, rerate_id, toYYYYMM(call_start) AS month, count() AS calls, sum(amount) AS amount "
           f"FROM {settings.clickhouse_database}.rerate_adjustments FINAL WHERE bill_period = %(period)s "
           "GROUP BY account, rerate_id, month ORDER BY account, rerate_id, month")
    client = connect(settings)
    try:
        rows = client.execute(sql, {"period": period})
    finally:
        client.disconnect()
    by_account: dict[str, list] = {}
    for account, *row in rows:
        by_account.setdefault(account, []).append(tuple(row))
    return {account: lines_from_rows(found) for account, found in by_account.items()}
