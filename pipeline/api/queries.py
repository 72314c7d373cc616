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
from collections.abc import Sequence
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
# the roles with stats and profit, and the column of what each earns on an ordinary call (every
# figure of every call, a DID's too: _figures below)
PROFIT_SQL = {"admin": "admin_profit", "reseller": "reseller_profit"}

# What each party was charged. A call to a DID (docs/dids.md) is priced by the DID's rates only:
# its user and reseller prices are 0 and its money is in did_*, paid leg by leg as the balances
# charge it (pipeline/balances/charges.py `owed_by`) and the invoices bill it
# (pipeline/invoices/queries.py): the caller (`account`, empty from outside) his incoming price, the
# owner (`did_owner`) his owner price, and the owner's reseller (the row's `reseller`) what he pays
# the admin for it. So a user's calls are also the calls to his DIDs, and each figure below reads
# both kinds of call (docs/dids.md "On the pages").
DID_CALL = "(did != '' AND user_tariff = '')"  # as charges.is_did_call
_ZERO = "toDecimal64(0, 6)"
# what reaches the admin of a DID's owner leg: from the owner's reseller, else from the owner
_TO_ADMIN = "if(reseller != '' AND did_owner != reseller, did_reseller_owner_price, did_owner_price)"
# a destination of the stats: the user's matched prefix; a DID's calls, the DID (as on the invoices)
DESTINATION_SQL = f"if({DID_CALL}, concat('did:', did), user_prefix)"


def _figures(role: Role, database: str) -> dict[str, str]:
    """SQL of one call's figures as the caller (%(tenant)s) sees them, by name:
    - user: `user_price`, what he was charged (his incoming price when he called a DID, his owner
      price when it rang his);
    - reseller: `revenue` (what his users paid him; on his own calls what he paid, as ever),
      `cost` (what he paid the admin, or his own carrier), `profit`; the calls page's
      `user_price` (his revenue), `reseller_price` (his own price: what his balance was charged)
      and `reseller_profit`, and `account`, blank for a caller of another reseller ringing his
      user's DID;
    - admin: `revenue` (what reached him from his resellers and direct users), `cost` (his
      carriers'; a DID's carrier pays him, a negative cost), `profit`, and the calls page's
      `user_price`, `reseller_price`, `provider_price` of both kinds of call.
    revenue - cost = profit on every call. `legs`: the call as usage per account counts it."""
    if not _IDENTIFIER.match(database):
        raise ValueError(f"database name {database!r} is not a plain identifier")
    me = "%(tenant)s"

    def did_or(did_sql: str, plain_sql: str) -> str:
        return f"if({DID_CALL}, {did_sql}, {plain_sql})"

    def when(condition: str, amount: str) -> str:
        return f"if({condition}, {amount}, {_ZERO})"

    if role == "user":
        return {"user_price": did_or(f"{when(f'account = {me}', 'did_incoming_price')} + "
                                     f"{when(f'did_owner = {me}', 'did_owner_price')}", "user_price")}
    if role == "reseller":
        own_call = when(f"account = {me}", "did_incoming_price")
        revenue = did_or(f"{when(f'reseller = {me} AND did_owner != {me}', 'did_owner_price')} + {own_call}",
                         "user_price")
        own_price = (f"{when(f'reseller = {me}', f'if(did_owner = {me}, did_owner_price, did_reseller_owner_price)')}"
                     f" + {own_call}")
        profit = when(f"reseller = {me}", "reseller_profit")
        tree = f"SELECT id FROM {database}.accounts FINAL WHERE reseller = {me} AND deleted = 0"
        # usage per user: a call to his user's DID counts for its owner, his own call to a DID for him
        legs = did_or(f"[(reseller = {me}, did_owner, {when(f'did_owner != {me}', 'did_owner_price')}, "
                      f"if(did_owner = {me}, did_owner_price, did_reseller_owner_price), reseller_profit), "
                      f"(account = {me}, account, did_incoming_price, did_incoming_price, {_ZERO})]",
                      f"[(toUInt8(1), account, user_price, user_price - reseller_profit, {profit})]")
        return {"revenue": revenue, "cost": did_or(own_price, "user_price - reseller_profit"), "profit": profit,
                "user_price": revenue,
                "reseller_price": did_or(own_price, f"if(account = {me}, user_price, reseller_price)"),
                "reseller_profit": profit, "legs": legs,
                "account": f"if({DID_CALL} AND account NOT IN ('', {me}) AND account NOT IN ({tree}), '', account)"}
    revenue = did_or(f"did_incoming_price + {_TO_ADMIN}", "if(reseller = '', user_price, reseller_price)")
    cost = did_or(f"{_ZERO} - did_provider_price", "if(own_provider = 1, " + _ZERO + ", provider_price)")
    # usage per account: a DID's caller pays his incoming price, its owner's chain the rest (and
    # its carrier pays there too); both listed under the DID's reseller
    legs = did_or(f"[(account != '', reseller, account, did_incoming_price, {_ZERO}, did_incoming_price), "
                  f"(toUInt8(1), reseller, did_owner, {_TO_ADMIN}, {_ZERO} - did_provider_price, "
                  "admin_profit - did_incoming_price)]",
                  f"[(toUInt8(1), reseller, account, {revenue}, {cost}, admin_profit)]")
    return {"revenue": revenue, "cost": cost, "profit": "admin_profit", "legs": legs,
            "user_price": did_or(f"did_incoming_price + {when('did_owner != reseller', 'did_owner_price')}",
                                 "user_price"),
            "reseller_price": did_or(f"if(reseller = '', {_ZERO}, if(did_owner = reseller, did_owner_price, "
                                     "did_reseller_owner_price))", "reseller_price"),
            "provider_price": did_or(f"{_ZERO} - did_provider_price", "provider_price")}


def _seen(database: str, scope: Scope, period: Period, condition: str, names: tuple[str, ...],
          days: Sequence[date] | None = None) -> str:
    """What a read selects FROM: the scope's rows (`condition` applied) with the caller's figures
    of each call (_figures) as seen_<name> columns. One level below the SELECT that shows or sums
    them, so that an output named like a column (user_price) never stands for that column in
    another expression: ClickHouse puts an alias in place of the name everywhere in its SELECT."""
    figures = _figures(scope.role, database)
    columns = ", ".join(f"{figures[name]} AS seen_{name}" for name in names)
    return f"(SELECT *, {columns} FROM {_source(database, scope, period, condition, days)} WHERE {condition})"


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
# FINAL each, in parallel (a call's copies share its start time, so each is folded in its slice).
# 2: on 2 cores, 2 beat 1 and 4 on 18.16 and on current ClickHouse (bench-api's month, unsettled)
SLICES = 2


def _source(database: str, scope: Scope | None = None, period: Period | None = None, condition: str = "",
            days: Sequence[date] | None = None) -> str:
    """What a read selects FROM: the tenant-ordered calls with FINAL; given the scope, the period and
    the query's own `condition` (its WHERE, which the caller still applies), the rows of each slice
    of the period (or of each run of `days` only), FINAL and filtered, with the reseller's accounts
    as a hint for the index."""
    _checked(database)
    table = f"{database}.rated_calls_by_tenant"
    if scope is None or period is None or not condition:
        return f"{table} FINAL"
    hint = _accounts_hint(database, scope)
    pieces = _slices(period) if days is None else runs_of(days)
    if not pieces:
        raise ValueError("no days to read")
    branches = [f"SELECT * FROM {table} FINAL WHERE {hint}{_between(first, last)} AND ({condition})"
                for first, last in pieces]
    return "(" + " UNION ALL ".join(branches) + ")"


def _checked(database: str) -> str:
    if not _IDENTIFIER.match(database):
        raise ValueError(f"database name {database!r} is not a plain identifier")
    return database


def runs_of(days: Sequence[date]) -> list[tuple[date, date]]:
    """Days as runs of consecutive days (first, last), in order."""
    out: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if out and out[-1][1] + timedelta(days=1) == day:
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def _accounts_hint(database: str, scope: Scope) -> str:
    """`account IN (...)` for the index: a superset of the accounts whose rows the tenant condition
    of where() keeps (every pair of reseller and account a rated row carried, current or not), which
    it never replaces. A user's and one account's reads: his own key range, and the ranges of the
    accounts that ever called a DID of his (rated_calls_did_callers, migrations/0010)."""
    tenants = f"{database}.rated_calls_tenants"
    one = "%(account)s" if scope.account is not None else "%(tenant)s" if scope.role == "user" else None
    if one is not None:  # his own calls, and the calls to his DIDs: their callers' (from outside: '')
        callers = f"{database}.rated_calls_did_callers"
        return f"(account = {one} OR account IN (SELECT account FROM {callers} WHERE did_owner = {one})) AND "
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


def tenant_conditions(scope: Scope) -> tuple[list[str], dict]:
    """The scope as conditions on `reseller` and `account`: every read of calls or of their daily
    totals carries them (where(), settled_stats())."""
    conditions, params = [], {}
    if scope.role == "reseller":
        conditions.append("(reseller = %(tenant)s OR account = %(tenant)s)")
        params["tenant"] = scope.tenant
    elif scope.role == "user":  # his calls, and the calls to his DIDs
        conditions.append(f"(account = %(tenant)s OR {DID_CALL} AND did_owner = %(tenant)s)")
        params["tenant"] = scope.tenant
    elif scope.reseller is not None:
        conditions.append("reseller = %(reseller)s")
        params["reseller"] = scope.reseller
    if scope.account is not None:
        conditions.append(f"(account = %(account)s OR {DID_CALL} AND did_owner = %(account)s)")
        params["account"] = scope.account
    return conditions, params


def where(scope: Scope, period: Period, dst_prefix: str | None = None,
          filters: CallFilter | None = None) -> tuple[str, dict]:
    # strings read by toDateTime(..., 'UTC'): UTC days whatever the server's time zone
    params: dict = {
        "start": datetime.combine(period.first, time()).strftime(_SQL_TIME),
        "end": datetime.combine(period.last + timedelta(days=1), time()).strftime(_SQL_TIME),
    }
    conditions = ["start_time >= toDateTime(%(start)s, 'UTC')", "start_time < toDateTime(%(end)s, 'UTC')"]
    tenant, tenant_params = tenant_conditions(scope)
    conditions += tenant
    params.update(tenant_params)
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
    seen = tuple(name for name in CALL_COLUMNS[scope.role] if name in _figures(scope.role, database))
    columns = ", ".join(f"seen_{name} AS {name}" if name in seen else name for name in CALL_COLUMNS[scope.role])
    sql = (f"SELECT {columns} FROM {_seen(database, scope, period, condition, seen)} "
           "ORDER BY start_time DESC, server_id, call_id LIMIT %(limit)s OFFSET %(offset)s")
    return Query(sql, {**params, "limit": limit + 1, "offset": offset})


def stats(database: str, scope: Scope, period: Period, by_destination: bool,
          days: Sequence[date] | None = None) -> Query:
    """Per UTC day (and destination: the user's matched prefix): calls, answered, answered
    seconds, revenue and profit, each from the caller's side of the chain; of the calls
    themselves (FINAL), of the period's `days` only when given (the others settled: daily_totals.py)."""
    if scope.role not in PROFIT_SQL:
        raise ValueError("stats are for the admin and resellers")
    condition, params = where(scope, period)
    keys = f"toDate(start_time) AS day, {DESTINATION_SQL} AS destination" if by_destination \
        else "toDate(start_time) AS day"
    group = "day, destination" if by_destination else "day"
    sql = (f"SELECT {keys}, currency, count() AS calls, countIf(billsec > 0) AS answered, "
           "sum(toUInt64(billsec)) AS billsec_total, sum(seen_revenue) AS revenue, sum(seen_profit) AS profit "
           f"FROM {_seen(database, scope, period, condition, ('revenue', 'profit'), days)} "
           f"GROUP BY {group}, currency ORDER BY {group}, currency")
    return Query(sql, params)


# settled daily totals (migrations/0009, pipeline/api/daily_totals.py) ---------------------------

_SUMMED = re.compile(r"\b(user_price|reseller_price|provider_price|reseller_profit|admin_profit|did_incoming_price|"
                     r"did_owner_price|did_reseller_owner_price|did_provider_price)\b")


def _over_settlements(sql: str) -> str:
    """SQL of one call's figure (_figures, tenant_conditions) as the same figure of a settlement
    row: every figure is a sum of prices under conditions on the settlement's keys, so it reads
    the sums where the call's SQL reads the prices."""
    return _SUMMED.sub(r"\1_sum", sql.replace(DID_CALL, "(did_call = 1)"))


def settled_stats(database: str, scope: Scope, period: Period, by_destination: bool) -> Query:
    """stats() of the period's days whose latest settlement still holds, and which days those are.

    A settlement (settle_day) holds while rated_calls_days still counts for its day the rows it
    counted then: any row since (a copy, a re-rating, a late call) ends it. One row per day,
    destination and currency of the scope, `in_scope` 1; and one row per settled day for the rest
    of the day's calls (`in_scope` 0, keys empty, sums to be ignored), so that a day settled
    but without calls of this scope is known as settled, from the same read."""
    if scope.role not in PROFIT_SQL:
        raise ValueError("stats are for the admin and resellers")
    daily, counted = f"{_checked(database)}.rated_calls_daily", f"{database}.rated_calls_days"
    conditions, params = tenant_conditions(scope)
    params.update(first_day=period.first.isoformat(), last_day=period.last.isoformat())
    in_scope = _over_settlements("(" + " AND ".join(conditions) + ")" if conditions else "1")
    days = "day >= toDate(%(first_day)s) AND day <= toDate(%(last_day)s)"
    destination = _over_settlements(DESTINATION_SQL)
    keys = f"day, if({in_scope}, {destination}, '') AS dest, " if by_destination else "day, "
    group = "day, dest" if by_destination else "day"
    figures = _figures(scope.role, database)
    revenue, profit = _over_settlements(figures["revenue"]), _over_settlements(figures["profit"])
    sql = (f"SELECT {keys}if({in_scope}, currency, '') AS cur, toUInt8({in_scope}) AS in_scope, "
           "sum(calls_count) AS calls, sum(answered_count) AS answered, sum(billsec_sum) AS billsec_total, "
           f"sum({revenue}) AS revenue, sum({profit}) AS profit "
           f"FROM {daily} WHERE {days} "
           # one settlement per day, the latest, and only while the day's count is what it saw
           f"AND (day, settle_id) IN (SELECT day, argMax(settle_id, settled) FROM {daily} WHERE {days} GROUP BY day) "
           f"AND (day, inserted) IN (SELECT day, sum(inserted) FROM {counted} WHERE {days} GROUP BY day) "
           f"GROUP BY {group}, cur, in_scope ORDER BY {group}, cur")
    return Query(sql, params)


def day_counts(database: str, days: Sequence[date]) -> Query:
    """How many rows rated_calls_by_tenant has received for each of these days (days without any
    are left out)."""
    return Query(f"SELECT day, sum(inserted) AS counted FROM {_checked(database)}.rated_calls_days "
                 "WHERE day IN %(days)s GROUP BY day ORDER BY day", {"days": tuple(d.isoformat() for d in days)})


def settle_day(database: str, day: date, inserted: int, settled: int, settle_id: str) -> Query:
    """Writes the day's totals per reseller, account, provider, prefix and currency from
    rated_calls_by_tenant FINAL, under `inserted`: the day's count of rows (day_counts), read
    before these rows are and steady for a while (pipeline/api/daily_totals.py), so that a row
    arriving meanwhile ends the settlement instead of hiding in it. One INSERT of fewer rows than
    a block: one part, seen whole or not at all."""
    daily = f"{_checked(database)}.rated_calls_daily"
    params = {"day": day.isoformat(), "inserted": inserted, "settled": settled, "settle_id": settle_id,
              "start": datetime.combine(day, time()).strftime(_SQL_TIME),
              "end": datetime.combine(day + timedelta(days=1), time()).strftime(_SQL_TIME)}
    # a call to a DID: its DID, owner and legs too, which the pages read (_over_settlements)
    sql = (f"INSERT INTO {daily} (day, settled, settle_id, inserted, reseller, account, provider, user_prefix, "
           "currency, did_call, did, did_owner, calls_count, answered_count, billsec_sum, user_billed_seconds_sum, "
           "user_price_sum, reseller_price_sum, provider_price_sum, reseller_profit_sum, admin_profit_sum, "
           "did_incoming_price_sum, did_owner_price_sum, did_reseller_owner_price_sum, did_provider_price_sum) "
           "SELECT toDate(%(day)s) AS day, %(settled)s AS settled, %(settle_id)s AS settle_id, "
           "toUInt64(%(inserted)s) AS inserted, "
           f"reseller, account, provider, user_prefix, currency, toUInt8({DID_CALL}) AS did_call, did, did_owner, "
           "count() AS calls_count, "
           "countIf(billsec > 0) AS answered_count, sum(toUInt64(billsec)) AS billsec_sum, "
           "sum(toUInt64(user_billed_seconds)) AS user_billed_seconds_sum, sum(user_price) AS user_price_sum, "
           "sum(reseller_price) AS reseller_price_sum, sum(provider_price) AS provider_price_sum, "
           "sum(reseller_profit) AS reseller_profit_sum, sum(admin_profit) AS admin_profit_sum, "
           "sum(did_incoming_price) AS did_incoming_price_sum, sum(did_owner_price) AS did_owner_price_sum, "
           "sum(did_reseller_owner_price) AS did_reseller_owner_price_sum, "
           "sum(did_provider_price) AS did_provider_price_sum "
           f"FROM {database}.rated_calls_by_tenant FINAL "
           "WHERE start_time >= toDateTime(%(start)s, 'UTC') AND start_time < toDateTime(%(end)s, 'UTC') "
           "GROUP BY reseller, account, provider, user_prefix, currency, did_call, did, did_owner")
    return Query(sql, params)


def profit(database: str, scope: Scope, period: Period) -> Query:
    """Admin: per reseller ('' = his direct users); a reseller: his own totals."""
    if scope.role not in PROFIT_SQL:
        raise ValueError("profit is for the admin and resellers")
    condition, params = where(scope, period)
    group = "reseller, " if scope.role == "admin" else ""
    sql = (f"SELECT {group}currency, count() AS calls, sum(seen_revenue) AS revenue, "
           "sum(seen_cost) AS cost, sum(seen_profit) AS profit "
           f"FROM {_seen(database, scope, period, condition, ('revenue', 'cost', 'profit'))} "
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
# (the figures of _figures: a call to a DID's too)
TOTAL_SQL: dict[Role, tuple[tuple[str, str], ...]] = {
    "admin": (("user_price", "sum(seen_user_price)"), ("reseller_price", "sum(seen_reseller_price)"),
              ("provider_price", "sum(seen_provider_price)"), ("profit", "sum(seen_profit)")),
    "reseller": (("user_price", "sum(seen_user_price)"), ("reseller_price", "sum(seen_reseller_price)"),
                 ("profit", "sum(seen_profit)")),
    "user": (("user_price", "sum(seen_user_price)"),),
}


def call_totals(database: str, scope: Scope, period: Period, dst_prefix: str | None = None,
                filters: CallFilter | None = None) -> Query:
    """Per currency, over every call the filter selects (not one page): calls, answered calls,
    answered seconds and the sums of the prices the caller may see."""
    condition, params = where(scope, period, dst_prefix, filters)
    sums = ", ".join(f"{sql} AS {name}" for name, sql in TOTAL_SQL[scope.role])
    seen = tuple(dict.fromkeys(sql[len("sum(seen_"):-1] for _, sql in TOTAL_SQL[scope.role]))
    sql = (f"SELECT currency, count() AS calls, countIf(billsec > 0) AS answered, "
           f"sum(toUInt64(billsec)) AS billsec_total, {sums} "
           f"FROM {_seen(database, scope, period, condition, seen)} "
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
    # each call's legs (_figures): (counted, [reseller,] account, revenue, cost, profit)
    admin = scope.role == "admin"
    group = "reseller, account" if admin else "account"
    keys = "leg.2 AS reseller, leg.3 AS account" if admin else "leg.2 AS account"
    money = (f"leg.{4 if admin else 3} AS leg_revenue, leg.{5 if admin else 4} AS leg_cost, "
             f"leg.{6 if admin else 5} AS leg_profit")
    legs = (f"SELECT {keys}, currency, billsec, {money} "
            f"FROM {_seen(database, scope, period, condition, ('legs',))} ARRAY JOIN seen_legs AS leg "
            "WHERE leg.1 = 1")
    sql = (f"SELECT {group}, currency, count() AS calls, countIf(billsec > 0) AS answered, "
           "sum(toUInt64(billsec)) AS billsec_total, sum(leg_revenue) AS revenue, "
           "sum(leg_cost) AS cost, sum(leg_profit) AS profit "
           f"FROM ({legs}) GROUP BY {group}, currency ORDER BY {group}, currency")
    return Query(sql, params)
