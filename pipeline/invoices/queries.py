"""SQL of an invoice's usage, as (sql, params) for clickhouse-driver's `%(name)s` substitution (pure).

An account is invoiced what its balance was charged (pipeline/balances/charges.py `owed_by`), leg
by leg: a user his own price of his own calls, a reseller what the admin's tariff charged him for
his users' calls (reseller_* columns), and, for calls to DIDs, the caller his incoming price and
the DID's owner his owner price (his reseller what he pays the admin for it). Each leg is a branch
of a UNION ALL; its calls go on lines by destination prefix, a DID's on a line of their own
(`did:NUMBER` received, `did-in:NUMBER` called: pipeline/invoices/compute.py names them).

The account is always a bound parameter in the WHERE clause, never text in the SQL; the column
names come from the fixed table below. Sums read rated_calls FINAL: one row per call even when a
CDR was re-sent, so the Decimal sums are exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from pipeline.invoices.compute import DID_CALLED, DID_RECEIVED
from pipeline.reports.queries import Query, _source

_SQL_TIME = "%Y-%m-%d %H:%M:%S"
# priced by a DID's rates, as pipeline/balances/charges.py `is_did_call` reads a cdr.rated record
_DID_CALL = "(did != '' AND user_tariff = '')"


@dataclass(frozen=True)
class Leg:
    """What one kind of call makes one of its parties pay."""

    payer: str  # the column naming who pays it
    destination: str  # SQL: the line it goes on
    billed_seconds: str  # column
    price: str  # column
    calls: str  # SQL: the calls that have this leg


def _did_leg(payer: str, key: str, price: str, calls: str = "") -> Leg:
    # a DID's three rates each have their own increment; its lines show the calls' duration
    return Leg(payer, f"concat('{key}', did)", "billsec", price, f"{_DID_CALL}{calls}")


_DID_OWNER = _did_leg("did_owner", DID_RECEIVED, "did_owner_price")
_DID_CALLER = _did_leg("account", DID_CALLED, "did_incoming_price")
LEGS = {
    "user": (
        Leg("account", "user_prefix", "user_billed_seconds", "user_price", f"NOT {_DID_CALL}"),
        _DID_CALLER,
        _DID_OWNER,
    ),
    "reseller": (
        # through his own provider he pays nobody here (own_provider: no reseller price)
        Leg("reseller", "reseller_prefix", "reseller_billed_seconds", "reseller_price",
            f"NOT {_DID_CALL} AND own_provider = 0"),
        # his user's DID: what he pays the admin for it (held himself, he is its owner: one leg)
        _did_leg("reseller", DID_RECEIVED, "did_reseller_owner_price", " AND did_owner != reseller"),
        _DID_OWNER,
        _DID_CALLER,
    ),
}


def legs_of(account_type: str) -> tuple[Leg, ...]:
    try:
        return LEGS[account_type]
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


def _usage(database: str, account_type: str, payer: str, per_destination: bool, start: datetime, end: datetime,
           params: dict) -> Query:
    """Every leg of the period's calls paid by `payer` (SQL on a leg's payer column), summed per
    invoiced account and currency, and per destination if asked."""
    source = _source(database)
    period, bounds = _bounds(start, end)
    branches = " UNION ALL ".join(
        f"SELECT {leg.payer} AS invoiced, {leg.destination} AS destination, currency, "
        f"toUInt64({leg.billed_seconds}) AS leg_seconds, {leg.price} AS leg_amount "
        f"FROM {source} WHERE {period} AND {leg.calls} AND {payer.format(column=leg.payer)}"
        for leg in legs_of(account_type))
    keys = "invoiced, destination, currency" if per_destination else "invoiced"
    figures = ("count() AS calls, sum(leg_seconds) AS billed_seconds_total, sum(leg_amount) AS amount"
               if per_destination else "sum(leg_amount) AS amount")
    sql = f"SELECT {keys}, {figures} FROM ({branches}) GROUP BY {keys} ORDER BY {keys}"
    return Query(sql, {**bounds, **params})


def account_usage(database: str, account_type: str, account: str, start: datetime, end: datetime) -> Query:
    """One account's calls of [start, end) per destination and currency:
    rows of (invoiced, destination, currency, calls, billed seconds, amount)."""
    return _usage(database, account_type, "{column} = %(account)s", True, start, end, {"account": account})


def all_usage(database: str, account_type: str, start: datetime, end: datetime) -> Query:
    """Every account's calls of [start, end) per destination and currency, as `account_usage`.
    Legs paid by an account of the other type (a reseller owning a DID, in the users' query) are
    rows the caller drops: it knows each account's type."""
    return _usage(database, account_type, "{column} != ''", True, start, end, {})


def totals(database: str, account_type: str, start: datetime, end: datetime) -> Query:
    """The raw sum per account: what the benchmark sets beside the issued invoices."""
    return _usage(database, account_type, "{column} != ''", False, start, end, {})


def tariff_currencies(database: str) -> Query:
    """Each tariff's currency, from the reference mirror: a zero invoice's currency."""
    if not database.isidentifier():
        raise ValueError(f"database name {database!r} is not a plain identifier")
    return Query(f"SELECT id, currency FROM {database}.tariffs FINAL WHERE deleted = 0", {})
