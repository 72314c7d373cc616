"""Which stored calls a re-rating run takes: a period, optionally one account or one reseller's
tree, read from rated_calls FINAL with every value bound as a query parameter."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

UTC = timezone.utc

# What a stored call needs to be priced again (its CDR's fields) and what it was charged (the
# fields charges.owed_by reads), in this order.
CALL_FIELDS = ("server_id", "call_id", "account", "provider", "src", "dst", "did", "start_time", "billsec",
               "disposition", "extra", "segment")
PRICE_FIELDS = ("reseller", "own_provider", "user_tariff", "user_prefix", "user_price", "reseller_tariff",
                "reseller_prefix", "reseller_price", "provider_tariff", "provider_prefix", "provider_price",
                "reseller_profit", "admin_profit", "currency", "loss", "did_owner", "did_incoming_price",
                "did_owner_price", "did_reseller_owner_price", "did_provider_price", "rating_version", "rerate_id")
SELECTED = CALL_FIELDS + PRICE_FIELDS


class ScopeError(ValueError):
    """A scope that names no period or two kinds of account."""


@dataclass(frozen=True)
class Scope:
    start: datetime  # inclusive, aware
    end: datetime  # exclusive, aware
    account: str | None = None  # its calls and the calls to its DIDs
    reseller: str | None = None  # every call of his tree (the calls whose `reseller` is he)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ScopeError("--from and --to must be aware times (dates are read as UTC)")
        if self.end <= self.start:
            raise ScopeError(f"--to ({self.end:%Y-%m-%d %H:%M:%S}) must be after --from ({self.start:%Y-%m-%d %H:%M:%S})")
        if self.account and self.reseller:
            raise ScopeError("give --account or --reseller, not both")

    @classmethod
    def of_days(cls, first: date | datetime, last: date | datetime, account: str | None = None,
                reseller: str | None = None) -> Scope:
        """--from DATE --to DATE: both days included (a date is a UTC day; a time is taken as is,
        --to then being exclusive)."""
        return cls(_start_of(first), _after(last), account or None, reseller or None)

    def where(self) -> tuple[str, dict]:
        """The WHERE clause with %(name)s placeholders, and its parameters."""
        clauses = ["start_time >= %(start)s", "start_time < %(end)s"]
        params: dict = {"start": _naive_utc(self.start), "end": _naive_utc(self.end)}
        if self.account:
            clauses.append("(account = %(account)s OR did_owner = %(account)s)")
            params["account"] = self.account
        if self.reseller:
            clauses.append("reseller = %(reseller)s")
            params["reseller"] = self.reseller
        return " AND ".join(clauses), params

    def select(self, database: str) -> tuple[str, dict]:
        where, params = self.where()
        # ordered by the table's key: a resumed run meets the calls in the same order
        return (f"SELECT {', '.join(SELECTED)} FROM {database}.rated_calls FINAL WHERE {where} "
                "ORDER BY server_id, call_id, segment", params)

    def count(self, database: str) -> tuple[str, dict]:
        where, params = self.where()
        return f"SELECT count() FROM {database}.rated_calls FINAL WHERE {where}", params


def _start_of(moment: date | datetime) -> datetime:
    if isinstance(moment, datetime):
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.combine(moment, time(0), UTC)


def _after(moment: date | datetime) -> datetime:
    if isinstance(moment, datetime):
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.combine(moment + timedelta(days=1), time(0), UTC)


def _naive_utc(moment: datetime) -> datetime:
    # clickhouse_driver sends a naive datetime as it is; the column is DateTime('UTC')
    return moment.astimezone(UTC).replace(tzinfo=None)
