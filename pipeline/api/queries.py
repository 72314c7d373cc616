"""The API's ClickHouse reads: SQL with the tenant scope as bound parameters, never formatted in.

The only identifier spliced into SQL is the database name, from the settings and checked. Every
read is `rated_calls_by_tenant FINAL` (one row per call after redeliveries and re-rating, as
`rated_calls FINAL`; migrations/0009_rated_calls_by_tenant.sql), ordered by account and start time
so that a tenant's period is a few ranges of the index. Columns come from a fixed list per role: a
reseller's list has neither `provider_price` nor `admin_profit`.
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


# ClickHouse 18.16 merges FINAL in one thread: a period is read as this many runs of days, one
# FINAL each, in parallel (a call's copies share its start time, so each is folded in its slice)
SLICES = 4


def _source(database: str, scope: Scope | None = None, period: Period | None = None, condition: str = "") -> str:
    """What a read selects FROM: the tenant-ordered calls with FINAL; given the scope, the period and
    the query's own `condition` (its WHERE, which the caller still applies), the rows of each slice
    of the period, FINAL and filtered, with the reseller's accounts as a hint for the index."""
    if not _IDENTIFIER.match(database):
        raise ValueError(f"database name {database!r} is not a plain identifier")
    table = f"{database}.rated_calls_by_tenant"
    if scope is None or period is None or not condition:
        return f"{table} FINAL"
    hint = _accounts_hint(database, scope)
    branches = [f"SELECT * FROM {table} FINAL WHERE {hint}{_between(first, last)} AND ({condition})"
                for first, last in _slices(period)]
    return "(" + " UNION ALL ".join(branches) + ")"


def _accounts_hint(database: str, scope: Scope) -> str:
    """`account IN (...)` for the index: a superset of the accounts whose rows the tenant condition
    of where() keeps (every pair of reseller and account a rated row carried, current or not), which
    it never replaces. A user's and one account's reads are key ranges already."""
    tenants = f"{database}.rated_calls_tenants"
    if scope.account is not None or scope.role == "user":
        return ""
    if scope.role == "reseller":
        return f"account IN (SELECT account FROM {tenants} WHERE reseller = %(tenant)s OR account = %(tenant)s) AND "
    if scope.reseller is not None:
        return f"account IN (SELECT account FROM {tenants} WHERE reseller = %(reseller)s) AND "
    return ""


def _slices(period: Period) -> list[tuple[date, date]]:
    """The period as at most SLICES runs of whole days, in order."""
    days = period.days()
    count = min(SLICES, len(days))
    bounds = [len(days) * n // count for n in range(count + 1)]
    return [(days[bounds[n]], days[bounds[n + 1] - 1]) for n in range(count)]


def _between(first: date, last: date) -> str:
    # dates formatted by Python: no user text reaches these literals
    start = datetime.combine(first, time()).strftime(_SQL_TIME)
    end = datetime.combine(last + timedelta(days=1), time()).strftime(_SQL_TIME)
    return f"start_time >= toDateTime('{start}', 'UTC') AND start_time < toDateTime('{end}', 'UTC')"


@dataclass(frozen=True)
class CallFilter:
    """What the calls page and GET /v1/calls narrow the rows to, beyond the tenant and the period:
    the disposition, the caller id's beginning, the least answered seconds."""
    disposition: str | None = None
    src_prefix: str | None = None
    min_billsec: int | None = None

    def conditions(self) -> tuple[list[str], dict]:
        conditions, params = [], {}
        if self.disposition:
            conditions.append("disposition = %(disposition)s")
            params["disposition"] = self.disposition
        if self.src_prefix:  # byte-wise, as ClickHouse's substring counts
            conditions.append("substring(src, 1, %(src_bytes)s) = %(src_prefix)s")
            params.update(src_prefix=self.src_prefix, src_bytes=len(self.src_prefix.encode()))
        if self.min_billsec:
            conditions.append("billsec >= %(min_billsec)s")
            params["min_billsec"] = self.min_billsec
        return conditions, params


def where(scope: Scope, period: Period, dst_prefix: str | None = None,
          filters: CallFilter | None = None) -> tuple[str, dict]:
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
    if filters is not None:
        more, more_params = filters.conditions()
        conditions += more
        params.update(more_params)
    return " AND ".join(conditions), params


def calls(database: str, scope: Scope, period: Period, limit: int, offset: int,
          dst_prefix: str | None = None, filters: CallFilter | None = None) -> Query:
    """One page of calls, newest first; one row more than asked tells whether a next page exists."""
    condition, params = where(scope, period, dst_prefix, filters)
    columns = ", ".join(CALL_COLUMNS[scope.role])
    sql = (f"SELECT {columns} FROM {_source(database, scope, period, condition)} WHERE {condition} "
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
           f"FROM {_source(database, scope, period, condition)} WHERE {condition} "
           f"GROUP BY {group}, currency ORDER BY {group}, currency")
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
           f"FROM {_source(database, scope, period, condition)} WHERE {condition} "
           f"GROUP BY {group}currency ORDER BY {group}currency")
    return Query(sql, params)


def account_usage(database: str, accounts: list[str]) -> Query:
    """Some accounts' (cards') first and last call and number of calls (GET /v1/cards/{number}, the
    portal's cards), one row per account that has calls."""
    return Query(f"SELECT account, min(start_time) AS first_use, max(start_time) AS last_use, count() AS calls "
                 f"FROM {_source(database)} WHERE account IN %(accounts)s GROUP BY account",
                 {"accounts": tuple(accounts)})


# the calls page's totals, its default period, and usage per user (pipeline/api/routes_usage.py) --

# the sums of a role's own columns over the filtered calls (a user's: his price only)
TOTAL_SQL: dict[Role, tuple[tuple[str, str], ...]] = {
    "admin": (("user_price", "sum(user_price)"), ("reseller_price", "sum(reseller_price)"),
              ("provider_price", "sum(provider_price)"), ("profit", "sum(admin_profit)")),
    "reseller": (("user_price", "sum(user_price)"), ("reseller_price", "sum(reseller_price)"),
                 ("profit", "sum(reseller_profit)")),
    "user": (("user_price", "sum(user_price)"),),
}


def call_totals(database: str, scope: Scope, period: Period, dst_prefix: str | None = None,
                filters: CallFilter | None = None) -> Query:
    """Per currency, over every call the filter selects (not one page): calls, answered calls,
    answered seconds and the sums of the prices the caller may see."""
    condition, params = where(scope, period, dst_prefix, filters)
    sums = ", ".join(f"{sql} AS {name}" for name, sql in TOTAL_SQL[scope.role])
    sql = (f"SELECT currency, count() AS calls, countIf(billsec > 0) AS answered, "
           f"sum(toUInt64(billsec)) AS billsec_total, {sums} "
           f"FROM {_source(database, scope, period, condition)} WHERE {condition} "
           "GROUP BY currency ORDER BY currency")
    return Query(sql, params)


def latest_call(database: str, scope: Scope, within: Period) -> Query:
    """The start of the newest call in the scope within a period (the calls page opens on it)."""
    condition, params = where(scope, within)
    return Query(f"SELECT max(start_time) AS latest, count() AS calls "
                 f"FROM {_source(database, scope, within, condition)} WHERE {condition}",
                 params)


def user_stats(database: str, scope: Scope, period: Period) -> Query:
    """Per account (the admin: per reseller and account) and currency: calls, answered, answered
    seconds, revenue, cost and profit from the caller's side of the chain, as profit() counts them."""
    if scope.role not in PROFIT_SQL:
        raise ValueError("usage per user is for the admin and resellers")
    condition, params = where(scope, period)
    cost = "provider_price" if scope.role == "admin" else f"{REVENUE_SQL['reseller']} - reseller_profit"
    group = "reseller, account" if scope.role == "admin" else "account"
    sql = (f"SELECT {group}, currency, count() AS calls, countIf(billsec > 0) AS answered, "
           f"sum(toUInt64(billsec)) AS billsec_total, sum({REVENUE_SQL[scope.role]}) AS revenue, "
           f"sum({cost}) AS cost, sum({PROFIT_SQL[scope.role]}) AS profit "
           f"FROM {_source(database, scope, period, condition)} WHERE {condition} "
           f"GROUP BY {group}, currency ORDER BY {group}, currency")
    return Query(sql, params)
