"""The balance.adjustments records of a run, and the invoice each belongs on (pure).

An adjustment is what to debit an account now for one re-rated call: new price - old price (a
negative amount is a credit). Its id, `<run id>/<call key>/<account>`, is what the balance stage
applies once, so a run repeated or resumed with the same id never moves a balance twice.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import orjson


def adjustment_id(rerate_id: str, call: str, account: str) -> str:
    return f"{rerate_id}/{call}/{account}"


def adjustment_value(rerate_id: str, call: str, account: str, amount: Decimal, timestamp_ms: int) -> bytes:
    """The value on balance.adjustments (keyed by account, partitioned like balance.charges).
    `timestamp` (ms, when sent) dates the id in the balance stage's dedup store, as a payment's does."""
    return orjson.dumps({"id": adjustment_id(rerate_id, call, account), "account": account, "amount": str(amount),
                         "rerate_id": rerate_id, "call": call, "timestamp": timestamp_ms})


@dataclass(frozen=True)
class Invoiced:
    """One issued invoice of the account: its period and the UTC bounds of that month in the
    issuer's time zone (pipeline/invoices' Invoice.period, period_start, period_end)."""
    period: str  # YYYY-MM
    start: datetime
    end: datetime


def bill_period(call_start: datetime, invoiced: Sequence[Invoiced]) -> str:
    """The invoice ("YYYY-MM") a difference goes on: '' when the call's own period is not invoiced
    yet (that invoice will read the new prices from rated_calls FINAL), else the first period
    after it that is not invoiced yet: the account's next invoice. An issued invoice never changes."""
    own = next((i.period for i in invoiced if i.start <= call_start < i.end), None)
    if own is None:
        return ""
    issued = {i.period for i in invoiced}
    period = own
    while period in issued:
        period = _next_month(period)
    return period


def _next_month(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{year + 1:04d}-01" if month == 12 else f"{year:04d}-{month + 1:02d}"
