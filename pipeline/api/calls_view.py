"""What the calls page (and its CSV) shows: the period, the filters, the totals.

The page opens on the 30 days that end with the newest call the caller may see (the last 30 days
when he has none), so a portal on data that stopped a week ago is not empty. Filters narrow the
rows and the totals alike: account, destination prefix, disposition, caller id prefix, least
answered seconds. The SQL is pipeline/api/queries.py's (calls, call_totals, latest_call).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from pipeline.api import service
from pipeline.api.errors import Refused
from pipeline.api.queries import CallFilter, Period
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller, Scope

DEFAULT_DAYS = 30
DISPOSITIONS = ("ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION")
MAX_CALLER_ID = 64
MAX_MIN_BILLSEC = 86_400 * 7


@dataclass(frozen=True)
class CallsQuery:
    scope: Scope
    period: Period
    account: str | None
    dst: str | None
    filters: CallFilter
    defaulted: bool  # the period was chosen by the page (the newest call's), not asked for

    def params(self, **extra) -> dict[str, str]:
        """The query string that asks for this again (links: pages, CSV)."""
        found = {"from": self.period.first.isoformat(), "to": self.period.last.isoformat(),
                 "account": self.account or "", "dst": self.dst or "",
                 "status": self.filters.disposition or "", "caller": self.filters.src_prefix or "",
                 "min_billsec": str(self.filters.min_billsec or "")}
        return {**found, **extra}

    def url(self, path: str, **extra) -> str:
        return f"{path}?{urlencode({k: v for k, v in self.params(**extra).items() if v})}"


PAGE_NAMES = ("status", "caller", "min_billsec")  # the portal's query string; the API's: API_NAMES
API_NAMES = ("disposition", "src_prefix", "min_billsec")


def check_filter(disposition: str | None, caller_id: str | None, min_billsec: Any,
                 names: tuple[str, str, str] = PAGE_NAMES) -> CallFilter:
    """The filter as asked for, or Refused naming the field as the request called it."""
    disposition = (disposition or "").strip().upper() or None
    if disposition is not None and disposition not in DISPOSITIONS:
        raise Refused(f"{names[0]}: one of {', '.join(DISPOSITIONS)} (got \"{disposition[:40]}\")")
    caller_id = (caller_id or "").strip() or None
    if caller_id is not None and (len(caller_id) > MAX_CALLER_ID or not caller_id.isprintable()):
        raise Refused(f"{names[1]}: at most {MAX_CALLER_ID} printable characters")
    text = str(min_billsec if min_billsec is not None else "").strip()
    if text and (not text.isascii() or not text.isdigit() or int(text) > MAX_MIN_BILLSEC):
        raise Refused(f"{names[2]}: whole seconds from 0 to {MAX_MIN_BILLSEC} (got \"{text[:20]}\")")
    return CallFilter(disposition, caller_id, int(text) if text else None)


def default_period(backend: Backend, scope: Scope, today: date | None = None) -> Period:
    """The 30 days ending on the newest call's day in the scope (looked for in the last 400 days);
    the last 30 days when there is none."""
    today = today or datetime.now(timezone.utc).date()
    within = Period(today - timedelta(days=service.MAX_PERIOD_DAYS - 1), today)
    latest = backend.calls.latest(scope, within)
    last = latest.date() if latest is not None else today
    return Period(last - timedelta(days=DEFAULT_DAYS - 1), last)


def calls_query(backend: Backend, caller: Caller, params) -> CallsQuery:
    """The page's query from its query string (a mapping): absent dates take the default period."""
    account = params.get("account") or None  # "" is the filter form's "all"
    dst = params.get("dst") or None
    if dst is not None and not dst.isdigit():
        raise Refused("dst: digits only")
    filters = check_filter(params.get("status"), params.get("caller"), params.get("min_billsec"))
    scope = service.scope(backend, caller, account)
    defaulted = not params.get("from") and not params.get("to")
    period = default_period(backend, scope) if defaulted else asked_period(params)
    return CallsQuery(scope, period, account, dst, filters, defaulted)


def asked_period(params) -> Period:
    """`from` and `to` of a query string; one of them alone spans 30 days from or to it."""
    first_text, last_text = params.get("from"), params.get("to")
    try:
        first = date.fromisoformat(first_text) if first_text else None
        last = date.fromisoformat(last_text) if last_text else None
    except ValueError:
        raise Refused("from/to: dates as YYYY-MM-DD") from None
    if first is None and last is None:
        raise Refused("from/to: a period needs at least one of them")
    if first is None:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    if last is None:
        last = max(first, min(first + timedelta(days=DEFAULT_DAYS - 1), datetime.now(timezone.utc).date()))
    return service.period(first, last)


def totals(backend: Backend, query: CallsQuery) -> list[dict[str, Any]]:
    """Per currency: calls, answered, answered seconds (and minutes), the price sums in view."""
    table = backend.calls.totals(query.scope, query.period, query.dst, query.filters)
    rows = []
    for row in table.dicts():
        seconds = int(row["billsec_total"])
        rows.append({**row, "billsec_total": seconds, "minutes": minutes(seconds)})
    return rows


def minutes(seconds: int) -> Decimal:
    return (Decimal(seconds) / 60).quantize(Decimal("0.01"))
