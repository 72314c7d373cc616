"""The API's ClickHouse reads: SQL with the tenant scope as bound parameters, never formatted in.

The only identifier spliced into SQL is the database name, from the settings and checked. Every
read is `rated_calls FINAL` (one row per call after redeliveries and re-rating). Columns come from
a fixed list per role: a reseller's list has neither `provider_price` nor `admin_profit`.
Periods are whole UTC days, both ends included.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from pipeline.api.visibility import Role, Scope
from pipeline.reports.queries import Query

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SQL_TIME = "%Y-%m-%d %H:%M:%S"

CALL_COLUMNS: dict[Role, tuple[str, ...]] = {
    "admin": ("start_time", "server_id", "call_id", "account", "reseller", "provider", "src", "dst", "did",
              "billsec", "disposition", "user_prefix", "user_price", "reseller_price", "provider_price",
              "reseller_profit", "admin_profit", "currency", "loss"),
    "reseller": ("start_time", "server_id", "call_id", "account", "src", "dst", "did", "billsec", "disposition",
                 "user_prefix", "user_price", "reseller_price", "reseller_profit", "currency", "loss"),
    "user": ("start_time", "server_id", "call_id", "src", "dst", "did", "billsec", "disposition",
             "user_prefix", "user_price", "currency"),
}
# what the caller earns on a call, and what it brings in: the admin is paid the reseller price
# (or the user price for his direct users), a reseller the user price
PROFIT_SQL = {"admin": "admin_profit", "reseller": "reseller_profit"}
REVENUE_SQL = {"admin": "if(reseller = '', user_price, reseller_price)", "reseller": "user_price"}


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # included

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"the period ends ({self.last}) before it starts ({self.first})")

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def _source(database: str) -> str:
    if not _IDENTIFIER.match(database):
        raise ValueError(f"database name {database!r} is not a plain identifier")
    return f"{database}.rated_calls FINAL"


def where(scope: Scope, period: Period, dst_prefix: str | None = None) -> tuple[str, dict]:
    # strings read by toDateTime(..., 'UTC'): UTC days whatever the server's time zone
    params: dict = {
        "start": datetime.combine(period.first, time()).strftime(_SQL_TIME),
        "end": datetime.combine(period.last + timedelta(days=1), time()).strftime(_SQL_TIME),
    }
    conditions = ["start_time >= toDateTime(%(start)s, 'UTC')", "start_time < toDateTime(%(end)s, 'UTC')"]
    if scope.role == "reseller":
        conditions.append("(reseller = %(tenant)s OR account = %(tenant)s)")
        params["tenant"] = scope.tenant
    elif scope.role == "user":
        conditions.append("account = %(tenant)s")
        params["tenant"] = scope.tenant
    elif scope.reseller is not None:
        conditions.append("reseller = %(reseller)s")
        params["reseller"] = scope.reseller
    if scope.account is not None:
        conditions.append("account = %(account)s")
        params["account"] = scope.account
    if dst_prefix:
        if not dst_prefix.isdigit():
            raise ValueError("dst_prefix: digits only")
        conditions.append("dst LIKE %(dst_like)s")
        params["dst_like"] = dst_prefix + "%"
    return " AND ".join(conditions), params


def calls(database: str, scope: Scope, period: Period, limit: int, offset: int,
          dst_prefix: str | None = None) -> Query:
    """One page of calls, newest first; one row more than asked tells whether a next page exists."""
    condition, params = where(scope, period, dst_prefix)
    columns = ", ".join(CALL_COLUMNS[scope.role])
    sql = (f"SELECT {columns} FROM {_source(database)} WHERE {condition} "
           "ORDER BY start_time DESC, server_id, call_id LIMIT %(limit)s OFFSET %(offset)s")
    return Query(sql, {**params, "limit": limit + 1, "offset": offset})


def stats(database: str, scope: Scope, period: Period, by_destination: bool) -> Query:
    """Per UTC day (and destination: the user's matched prefix): calls, answered, answered
    seconds, revenue and profit, each from the caller's side of the chain."""
    if scope.role not in PROFIT_SQL:
        raise ValueError("stats are for the admin and resellers")
    condition, params = where(scope, period)
    keys = "toDate(start_time) AS day, user_prefix AS destination" if by_destination else "toDate(start_time) AS day"
    group = "day, destination" if by_destination else "day"
    sql = (f"SELECT {keys}, currency, count() AS calls, countIf(billsec > 0) AS answered, "
           "sum(toUInt64(billsec)) AS billsec_total, "
           f"sum({REVENUE_SQL[scope.role]}) AS revenue, sum({PROFIT_SQL[scope.role]}) AS profit "
           f"FROM {_source(database)} WHERE {condition} GROUP BY {group}, currency ORDER BY {group}, currency")
    return Query(sql, params)


def profit(database: str, scope: Scope, period: Period) -> Query:
    """Admin: per reseller ('' = his direct users); a reseller: his own totals."""
    if scope.role not in PROFIT_SQL:
        raise ValueError("profit is for the admin and resellers")
    condition, params = where(scope, period)
    cost = "provider_price" if scope.role == "admin" else f"{REVENUE_SQL['reseller']} - reseller_profit"
    group = "reseller, " if scope.role == "admin" else ""
    sql = (f"SELECT {group}currency, count() AS calls, sum({REVENUE_SQL[scope.role]}) AS revenue, "
           f"sum({cost}) AS cost, sum({PROFIT_SQL[scope.role]}) AS profit "
           f"FROM {_source(database)} WHERE {condition} GROUP BY {group}currency ORDER BY {group}currency")
    return Query(sql, params)


def account_usage(database: str, accounts: list[str]) -> Query:
    """Some accounts' (cards') first and last call and number of calls (GET /v1/cards/{number}, the
    portal's cards), one row per account that has calls."""
    return Query(f"SELECT account, min(start_time) AS first_use, max(start_time) AS last_use, count() AS calls "
                 f"FROM {_source(database)} WHERE account IN %(accounts)s GROUP BY account",
                 {"accounts": tuple(accounts)})
