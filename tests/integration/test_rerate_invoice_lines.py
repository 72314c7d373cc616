"""adjustments_for on the real ClickHouse (18.16): what pipeline/invoices puts on the next invoice."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from pipeline.invoices.rerate_lines import adjustments_for
from pipeline.rerate.run import ADJUSTMENT_COLUMNS
from pipeline.sinks.clickhouse import connect
from pipeline.sinks.migrate import migrate

pytestmark = pytest.mark.clickhouse
UTC = timezone.utc


def test_adjustments_for_the_invoice_they_belong_on_exact_and_once(settings_factory):
    settings = settings_factory()
    migrate(settings)
    client = connect(settings)
    try:
        def row(ident, account, amount, start, period):
            return (ident, ident.split("/")[0], account, "ast1/" + ident, Decimal(amount),
                    int(start.timestamp()), period, int(datetime(2026, 11, 2, tzinfo=UTC).timestamp()))
        rows = [
            row("rr-1/a/u1", "u1", "0.333333", datetime(2026, 10, 3, tzinfo=UTC), "2026-11"),
            row("rr-1/b/u1", "u1", "0.333334", datetime(2026, 10, 4, tzinfo=UTC), "2026-11"),
            row("rr-1/b/u1", "u1", "0.333334", datetime(2026, 10, 4, tzinfo=UTC), "2026-11"),  # resumed run
            row("rr-2/c/u1", "u1", "-1", datetime(2026, 9, 4, tzinfo=UTC), "2026-11"),
            row("rr-1/d/u1", "u1", "5", datetime(2026, 11, 4, tzinfo=UTC), ""),  # November not invoiced
            row("rr-1/e/u2", "u2", "7", datetime(2026, 10, 4, tzinfo=UTC), "2026-11"),
        ]
        client.execute(f"INSERT INTO {settings.clickhouse_database}.rerate_adjustments "
                       f"({', '.join(ADJUSTMENT_COLUMNS)}) VALUES", rows)
        lines = adjustments_for(settings, "u1", "2026-11")
        assert [(line.description, line.amount) for line in lines] == [
            ("Re-rating rr-1: 2 calls of 2026-10", Decimal("0.666667")),
            ("Re-rating rr-2: 1 call of 2026-09", Decimal("-1")),
        ]
        assert adjustments_for(settings, "u1", "2026-12") == []
    finally:
        client.disconnect()
