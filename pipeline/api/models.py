"""Request and response bodies of /v1, as they appear in /openapi.json.

Bodies are read loosely here (strings for money) and validated by the reference records' own rules
(pipeline/rating/reference.py) in service.py, so the API and `ref apply` accept exactly the same.
"""
from __future__ import annotations

from datetime import date

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field



class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str


class AccountBody(_Body):
    type: Literal["reseller", "user"]
    parent: str | None = None
    tariff: str | None = None
    billing: Literal["prepaid", "postpaid"] = "prepaid"
    credit_limit: str | None = None
    server: str | None = None
    pro: bool = False
    allow_loss_calls: bool = False
    blocked: bool = False
    name: str = ""


class Account(BaseModel):
    id: str
    type: Literal["admin", "reseller", "user"]
    parent: str | None
    tariff: str | None
    billing: Literal["prepaid", "postpaid"]
    credit_limit: str | None
    server: str | None
    pro: bool
    allow_loss_calls: bool
    blocked: bool
    name: str


class RateBody(_Body):
    prefix: str
    rate: str
    connection_fee: str | None = None
    increment: int | None = None
    min_time: int | None = None
    grace_time: int | None = None
    effective_from: str | None = None
    day_type: Literal["WD", "FD", "all"] | None = None
    start: str | None = None
    end: str | None = None


class TariffBody(_Body):
    owner: str | None = None
    currency: str = "EUR"
    timezone: str = "UTC"
    decimals: int = 6
    rounding: Literal["half_up", "up", "down"] = "half_up"
    rates: list[RateBody] = Field(default_factory=list, max_length=10_000)


class Tariff(BaseModel):
    id: str
    owner: str
    currency: str
    timezone: str
    decimals: int
    rounding: str
    rate_count: int


class ProviderBody(_Body):
    owner: str | None = None
    tariff: str


class Provider(BaseModel):
    id: str
    owner: str
    tariff: str


class DidBody(_Body):
    reseller: str | None = None
    user: str | None = None
    tariff: str | None = None


class Did(BaseModel):
    number: str
    reseller: str | None
    user: str | None
    tariff: str | None


class PaymentBody(_Body):
    id: str | None = Field(None, min_length=1, max_length=200)
    account: str = Field(min_length=1)
    amount: str


class Payment(BaseModel):
    id: str
    account: str
    amount: str


class Balance(BaseModel):
    account: str
    balance: str
    currency: str
    state: Literal["active", "blocked"]
    reason: str


class CallsPage(BaseModel):
    columns: list[str]
    rows: list[dict[str, Any]]
    next_offset: int | None


class StatsRow(BaseModel):
    day: str
    destination: str | None = None
    currency: str
    calls: int
    answered: int
    asr_percent: str
    acd_seconds: str
    revenue: str
    profit: str


class ProfitRow(BaseModel):
    reseller: str | None = None
    currency: str
    calls: int
    revenue: str
    cost: str
    profit: str


class RerateBody(_Body):
    """POST /v1/rerates (the admin's): the `rerate` command's options."""
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    first: date = Field(alias="from", description="first UTC day, included")
    last: date = Field(alias="to", description="last UTC day, included")
    account: str | None = Field(None, min_length=1, max_length=200)
    reseller: str | None = Field(None, min_length=1, max_length=200)
    dry_run: bool = False
    id: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$",
                           description="continue the run of this id (a new id when absent)")


class RerateAccount(BaseModel):
    account: str
    calls: int
    old: str
    new: str
    difference: str


class Rerate(BaseModel):
    id: str
    dry_run: bool
    calls: int
    changed: int
    not_repriced: dict[str, int]
    accounts: list[RerateAccount]


class InvoiceBody(_Body):
    account: str = Field(min_length=1)
    period: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM")


class Invoice(BaseModel):
    """CONTRACT.md "Invoices and re-rating"; `pdf` is this API's address of the PDF."""
    model_config = ConfigDict(extra="allow")

    number: str
    issuer: str
    account: str
    period: str
    currency: str
    subtotal: str
    taxes: list[dict[str, Any]]
    total: str
    lines: list[dict[str, Any]]
    pdf: str
