"""The two small interfaces the routes use for I/O, beside LiveData (live.py), which they read.

kafka_backend.py and clickhouse_store.py implement them on the real broker and ClickHouse; the
unit tests implement them in memory (tests/api/fakes.py), so routes are tested without a broker.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pipeline.api.config import ApiConfig
from pipeline.api.live import LiveData
from pipeline.api.queries import CallFilter, Period
from pipeline.api.visibility import Scope
from pipeline.reference.records import Record
from pipeline.reports.run import Table


class Writer(Protocol):
    async def publish_reference(self, records: list[Record]) -> None:
        """All records in one transaction, or none; returns once LiveData shows them."""

    async def publish_payment(self, payment: dict[str, str]) -> None:
        """Onto balance.payments keyed by account."""

    async def publish_credential(self, key: str, value: bytes | None) -> None:
        """Onto ref.credentials; returns once LiveData shows it."""

    async def publish_issuer(self, details) -> None:
        """An account's invoice details (pipeline.invoices.issuer.IssuerDetails) onto ref.issuers."""

    async def publish_logo(self, account: str, data: bytes, content_type: str) -> None:
        """A checked logo onto ref.logos."""

    async def audit(self, entry: dict[str, Any]) -> None:
        """Who changed what and when, onto the audit topic."""


class CallStore(Protocol):
    """Reads of rated calls, always within a Scope (the tenant filter)."""

    def calls(self, scope: Scope, period: Period, limit: int, offset: int, dst_prefix: str | None,
              filters: CallFilter | None = None) -> Table: ...

    def totals(self, scope: Scope, period: Period, dst_prefix: str | None,
               filters: CallFilter | None = None) -> Table:
        """queries.call_totals: per currency, the filtered calls' counts and price sums."""

    def latest(self, scope: Scope, within: Period) -> Any:
        """The newest call's start (an aware datetime) in the scope within the period, or None."""

    def user_stats(self, scope: Scope, period: Period) -> Table:
        """queries.user_stats: per account (the admin: per reseller and account) and currency."""

    def stats(self, scope: Scope, period: Period, by_destination: bool) -> Table: ...

    def profit(self, scope: Scope, period: Period) -> Table: ...

    def usage(self, accounts: list[str]) -> dict[str, dict]:
        """Accounts' (cards') calls: account -> `first_use`, `last_use` (datetime), `calls`; an
        account without calls is absent."""


class InvoiceStore(Protocol):
    """Issued invoices (pipeline/invoices): read, issued (idempotent per account and period), PDF."""

    async def invoices(self, account: str | None = None, number: str | None = None) -> list[Any]: ...

    async def issue(self, account: str, period: str) -> Any:
        """The account's invoice of the period (YYYY-MM); ValueError saying why it cannot be."""

    async def pdf(self, invoice: Any) -> bytes: ...


class Rerater(Protocol):
    async def rerate(self, first: Any, last: Any, account: str | None, reseller: str | None,
                     dry_run: bool, run_id: str | None) -> dict:
        """pipeline.rerate.service.run_rerate: the run's id and per-account table."""


@dataclass
class Backend:
    config: ApiConfig
    live: LiveData
    writer: Writer
    calls: CallStore
    invoices: InvoiceStore | None = None  # None: this installation issues no invoices
    rerater: Rerater | None = None  # None: re-rating is not offered here
    # POST /v1/authorize (pipeline/api/authorizer.py); None: not offered here (the in-memory tests)
    authorizer: Any = None
