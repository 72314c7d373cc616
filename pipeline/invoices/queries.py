"""SQL of an invoice's usage, as (sql, params) for clickhouse-driver's `%(name)s` substitution (pure).

An account is invoiced its OWN price: a user what his tariff charged him (user_* columns, his own
calls), a reseller what the admin's tariff charged him (reseller_* columns, the calls of all his
users). The account is always a bound parameter in the WHERE clause, never text in the SQL; the
column names come from the fixed table below. Sums read rated_calls FINAL: one row per call even
when a CDR was re-sent, so the Decimal sums are exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from pipeline.reports.queries import Query, _source

_SQL_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Level:
    scope: str  # the column that says whose call it is
    prefix: str
    billed_seconds: str
    price: str


LEVELS = {
    "user": Level("account", "user_prefix", "user_billed_seconds", "user_price"),
    "reseller": Level("reseller", "reseller_prefix", "reseller_billed_seconds", "reseller_price"),
}


def level_of(account_type: str) -> Level:
    try:
        return LEVELS[account_type]
    except KeyError:
        raise ValueError(f"accounts of type {account_type!r} are not invoiced (only users and resellers)") from None


def _bounds(start: datetime, end: datetime) -> tuple[str, dict]:
    # strings read by toDateTime(..., 'UTC'): the driver would shift an aware datetime into the
    # server's zone first (see pipeline/reports/queries.py)
    params = {
        "start": start.astimezone(timezone.utc).strftime(_SQL_TIME),
        "end": end.astimezone(timezone.utc).strftime(_SQL_TIME),
    }
    return "start_time >= toDateTime(%(start)s, 'UTC') AND start_time < toDateTime(%(end)s, 'UTC')", params


def _usage(database: str, select: str, where: str, group: str, start: datetime, end: datetime,
           params: dict) -> Query:
    period, bounds = _bounds(start, end)
    sql = f"SELECT {select} FROM {_source(database)} WHERE {period} AND {where} GROUP BY {group}"
    return Query(sql, {**bounds, **params})


def _per_destination(level: Level) -> str:
    return (f"{level.prefix} AS destination, currency, count() AS calls, "
            f"sum(toUInt64({level.billed_seconds})) AS billed_seconds_total, sum({level.price}) AS amount")


def account_usage(database: str, account_type: str, account: str, start: datetime, end: datetime) -> Query:
    """One account's calls of [start, end) per destination prefix and currency."""
    level = level_of(account_type)
    return _usage(database, _per_destination(level), f"{level.scope} = %(account)s",
                  "destination, currency ORDER BY destination, currency", start, end, {"account": account})


def all_usage(database: str, account_type: str, start: datetime, end: datetime) -> Query:
    """Every account's (of one type) calls of [start, end) per destination prefix and currency."""
    level = level_of(account_type)
    return _usage(database, f"{level.scope} AS invoiced, {_per_destination(level)}", f"{level.scope} != ''",
                  "invoiced, destination, currency ORDER BY invoiced, destination, currency", start, end, {})


def totals(database: str, account_type: str, start: datetime, end: datetime) -> Query:
    """The raw sum per account of one type: what the benchmark sets beside the issued invoices."""
    level = level_of(account_type)
    return _usage(database, f"{level.scope} AS invoiced, sum({level.price}) AS amount",
                  f"{level.scope} != ''", "invoiced", start, end, {})


def tariff_currencies(database: str) -> Query:
    """Each tariff's currency, from the reference mirror: a zero invoice's currency."""
    if not database.isidentifier():
        raise ValueError(f"database name {database!r} is not a plain identifier")
    return Query(f"SELECT id, currency FROM {database}.tariffs FINAL WHERE deleted = 0", {})
