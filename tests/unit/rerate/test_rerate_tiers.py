"""Re-rating after a tariff gains tiers: the stored call is priced through them, exactly."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from pipeline.rerate.reprice import Repriced, reprice
from pipeline.schemas.reference import RateIn
from tests.unit.cdr.sample_book import sample_book, seed_cdr
from tests.unit.rerate.stored import stored_row

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def test_a_call_rerated_through_tiers_moves_the_balance_by_the_tiered_difference():
    book = sample_book()
    row = stored_row(book, seed_cdr(billsec=90))  # u1 paid 3.000000 for 90 s at 2/min
    # 2/min for the first 30 s in one block, then 1/min per second: 1.00 + 1.00 = 2.00
    book.update_rates("t-r1-retail", [RateIn(prefix="370", rate="2", increment=30,
                                             tiers=[{"from_seconds": 30, "rate": "1"}])])
    result = reprice(row, book, NOW, "run-tiers")
    assert isinstance(result, Repriced)
    assert result.record["user_price"] == "2.000000"
    assert result.differences == {"u1": Decimal("-1")}
