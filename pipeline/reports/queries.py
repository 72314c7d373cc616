"""SQL of the reports, as (sql, params) for clickhouse-driver's `%(name)s` substitution.

User input (reseller, user, dates, limits) only ever travels as a parameter, escaped by the driver.
The database name is the one identifier spliced in; it comes from the settings and is checked.
Every report reads `rated_calls FINAL`: one row per call even after a redelivery, so the Decimal
sums are exact (the daily_stats view is not, see migrations/0003_daily_stats.sql).
A reseller-scoped query always carries `reseller = %(reseller)s`: a reseller sees nothing else.
An aggregate never takes the name of the column it sums (`sum(x) AS x` is an error on 18.16).
Periods are whole UTC days, both ends included: start_time in [date_from, date_to + 1 day).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SQL_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Query:
    sql: str
    params: dict


def _source(database: str) -> str:
    if not _IDENTIFIER.match(database):
        raise ValueError(f"database name {database!r} is not a plain identifier")
    return f"{database}.rated_calls FINAL"


def _period(date_from: date, date_to: date) -> tuple[str, dict]:
    if date_to < date_from:
        raise ValueError(f"the period ends ({date_to}) before it starts ({date_from})")
    # strings read by toDateTime(..., 'UTC'): UTC days whatever the server's or the client's time
    # zone (the driver would shift an aware datetime into the server's zone first)
    start = datetime.combine(date_from, time()).strftime(_SQL_TIME)
    end = datetime.combine(date_to + timedelta(days=1), time()).strftime(_SQL_TIME)
    sql = "start_time >= toDateTime(%(start)s, 'UTC') AND start_time < toDateTime(%(end)s, 'UTC')"
    return sql, {"start": start, "end": end}


def _where(date_from: date, date_to: date, reseller: str | None, user: str | None = None) -> tuple[str, dict]:
    period, params = _period(date_from, date_to)
    conditions = [period]
    if reseller is not None:
        conditions.append("reseller = %(reseller)s")
        params["reseller"] = reseller
    if user is not None:
        conditions.append("account = %(user)s")
        params["user"] = user
    return " AND ".join(conditions), params


def calls(database: str, reseller: str, date_from: date, date_to: date, user: str | None = None) -> Query:
    """Every call of a reseller's users (or of one of them), with the reseller's side of the money."""
    where, params = _where(date_from, date_to, reseller, user)
    sql = (
        "SELECT start_time, server_id, call_id, account, dst, billsec, disposition, user_prefix, "
        "user_price, reseller_price, reseller_profit, currency, loss "
        f"FROM {_source(database)} WHERE {where} "
        "ORDER BY start_time, server_id, call_id"
    )
    return Query(sql, params)


def profit(database: str, date_from: date, date_to: date, reseller: str | None = None) -> Query:
    """Per reseller ('' = the admin's direct users): what users paid, costs, and both profits."""
    where, params = _where(date_from, date_to, reseller)
    sql = (
        "SELECT reseller, currency, count() AS calls, sum(user_price) AS user_price_total, "
        "sum(reseller_price) AS reseller_price_total, sum(provider_price) AS provider_price_total, "
        "sum(reseller_profit) AS reseller_profit_total, sum(admin_profit) AS admin_profit_total "
        f"FROM {_source(database)} WHERE {where} "
        "GROUP BY reseller, currency ORDER BY reseller, currency"
    )
    return Query(sql, params)


def top_destinations(database: str, date_from: date, date_to: date, reseller: str | None = None,
                     limit: int = 20) -> Query:
    """By the user's matched prefix. Scoped to a reseller, profit is his; else the admin's."""
    if not 0 < limit <= 100_000:
        raise ValueError(f"limit {limit} is not in 1..100000")
    where, params = _where(date_from, date_to, reseller)
    profit_column = "reseller_profit" if reseller is not None else "admin_profit"
    sql = (
        "SELECT user_prefix, currency, count() AS calls, countIf(billsec > 0) AS answered, "
        "sum(toUInt64(billsec)) AS billsec_total, sum(user_price) AS revenue, "
        f"sum({profit_column}) AS profit "
        f"FROM {_source(database)} WHERE {where} "
        "GROUP BY user_prefix, currency ORDER BY revenue DESC, user_prefix LIMIT %(limit)s"
    )
    return Query(sql, {**params, "limit": limit})


def daily_by_reseller(database: str, date_from: date, date_to: date) -> Query:
    """Per UTC day and reseller: revenue (user_price) and both profits, for the plot."""
    where, params = _where(date_from, date_to, None)
    sql = (
        "SELECT toDate(start_time) AS day, reseller, currency, sum(user_price) AS revenue, "
        "sum(reseller_profit) AS reseller_profit_total, sum(admin_profit) AS admin_profit_total "
        f"FROM {_source(database)} WHERE {where} "
        "GROUP BY day, reseller, currency ORDER BY day, reseller, currency"
    )
    return Query(sql, params)
