"""Request and response bodies of /v1, as they appear in /openapi.json.

Bodies are read loosely here (strings for money) and validated by the reference records' own rules
(pipeline/rating/reference.py) in service.py, so the API and `ref apply` accept exactly the same.
Every string of a request body has a maximum length here, at the door (a 50 MB account name was
once accepted and published); a new record's id is checked where the book tells a create from an
update (pipeline/rating/write_limits.py). Answers carry no limits: they show what is stored.
"""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from pipeline.schemas import limits

# a field naming another record: records made before the id rule may have ids longer than 64
Ref = Annotated[str, Field(min_length=1, max_length=limits.MAX_REFERENCE_LENGTH)]
Name = Annotated[str, Field(max_length=limits.MAX_NAME_LENGTH)]
DecimalText = Annotated[str, Field(max_length=limits.MAX_DECIMAL_TEXT)]
Moment = Annotated[str, Field(max_length=64)]  # an ISO-8601 date-time or time of day, checked by the rules


def check_day(day: date) -> date:
    """A day the API answers for: ClickHouse's DateTime ends in 2106, and a day far outside the data
    made the calls, stats, profit and re-rate queries fail with 500."""
    if not limits.EARLIEST_DAY <= day <= limits.LATEST_DAY:
        raise ValueError(f"must be a day from {limits.EARLIEST_DAY} to {limits.LATEST_DAY} (got {day})")
    return day


Day = Annotated[date, AfterValidator(check_day)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str


class AccountBody(_Body):
    type: Literal["reseller", "user"]
    parent: Ref | None = None
    tariff: Ref | None = None
    billing: Literal["prepaid", "postpaid"] = "prepaid"
    credit_limit: DecimalText | None = None
    server: Ref | None = None
    pro: bool = False
    allow_loss_calls: bool = False
    blocked: bool = False
    name: Name = ""
    # authorization before the call: simultaneous calls (0: no limit), the most a destination may
    # cost per minute, the longest a call is allowed and held for (none: the installation's)
    call_limit: Annotated[int, Field(ge=0, le=100_000)] = 0
    max_rate: DecimalText | None = None
    hold_cap_seconds: Annotated[int | None, Field(ge=1, le=86_400)] = None
    # what the account's invoices are addressed and e-mailed to
    address: Annotated[str, Field(max_length=limits.MAX_ADDRESS_LENGTH)] = ""
    email: Annotated[str, Field(max_length=254)] = ""
    # kept when left out (POST /v1/accounts/{id}/archive is the usual way to set it)
    archived: bool | None = None
    # a reseller may set his own portal domain (the admin's to say); kept when left out
    allow_own_domain: bool | None = None
    # write-only: the account's portal password (never shown); setting it signs the account out
    password: Annotated[str, Field(min_length=8, max_length=256)] | None = None


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
    call_limit: int = 0
    max_rate: str | None = None
    hold_cap_seconds: int | None = None
    address: str = ""
    email: str = ""
    archived: bool = False
    allow_own_domain: bool = False


class TierBody(_Body):
    """A tier after a rate's first (docs/tiers.md): its price from `from_seconds` of the call on."""
    from_seconds: int
    rate: DecimalText
    increment: int | None = None


class RateBody(_Body):
    prefix: Annotated[str, Field(max_length=limits.MAX_PREFIX_LENGTH)]
    rate: DecimalText
    connection_fee: DecimalText | None = None
    increment: int | None = None
    min_time: int | None = None
    grace_time: int | None = None
    effective_from: Moment | None = None
    day_type: Literal["WD", "FD", "all"] | None = None
    start: Moment | None = None
    end: Moment | None = None
    destination: Annotated[str, Field(max_length=limits.MAX_DESTINATION_LENGTH)] | None = None
    tiers: list[TierBody] | None = Field(None, max_length=16)


class TariffBody(_Body):
    owner: Ref | None = None
    currency: Annotated[str, Field(max_length=3)] = "EUR"
    timezone: Annotated[str, Field(max_length=limits.MAX_ZONE_LENGTH)] = "UTC"
    decimals: int = 6
    rounding: Literal["half_up", "up", "down"] = "half_up"
    rates: list[RateBody] = Field(default_factory=list, max_length=10_000)
    archived: bool | None = None  # kept when left out (POST /v1/tariffs/{id}/archive)


class Tariff(BaseModel):
    id: str
    owner: str
    currency: str
    timezone: str
    decimals: int
    rounding: str
    rate_count: int
    archived: bool = False


class ProviderBody(_Body):
    owner: Ref | None = None
    tariff: Ref


class Provider(BaseModel):
    id: str
    owner: str
    tariff: str


class DidRateTierBody(_Body):
    from_seconds: int
    rate: DecimalText
    increment: int | None = None


class DidRateBody(_Body):
    """A DID rate (CONTRACT v2): money may be negative (the admin pays that party)."""
    rate: DecimalText = "0"
    connection_fee: DecimalText | None = None
    increment: int | None = None
    min_time: int | None = None
    grace_time: int | None = None
    tiers: list[DidRateTierBody] = Field(default_factory=list, max_length=100)


class DidRatesBody(_Body):
    incoming: DidRateBody | None = None
    owner: DidRateBody | None = None
    provider: DidRateBody | None = None


class DidBody(_Body):
    reseller: Ref | None = None
    user: Ref | None = None
    tariff: Ref | None = None
    rates: DidRatesBody | None = Field(None, description="the admin's: incoming, owner, provider (kept when absent)")
    owner_rate: DidRateBody | None = Field(
        None, description="what the reseller's user pays him for the DID (the reseller's, or the admin's); "
                          "kept when absent, dropped by null")


class DidRateView(BaseModel):
    rate: str
    connection_fee: str
    increment: int
    min_time: int
    grace_time: int
    tiers: list[dict[str, Any]] = []


class DidRatesView(BaseModel):
    incoming: DidRateView
    owner: DidRateView
    provider: DidRateView | None = None  # the admin's business with his carriers: not shown to a reseller


class Did(BaseModel):
    number: str
    reseller: str | None
    user: str | None
    tariff: str | None
    rates: DidRatesView | None = None
    owner_rate: DidRateView | None = None


class PaymentBody(_Body):
    id: str | None = Field(None, min_length=1, max_length=200)
    account: str = Field(min_length=1)
    amount: str
    kind: Literal["payment", "refund", "correction"] = Field(
        "payment", description="payment: amount > 0 added; refund: amount > 0 taken back (at most the balance); "
                               "correction: amount signed, not 0")
    reason: str = Field("", max_length=500, description="required for a refund or a correction")


class Payment(BaseModel):
    id: str
    account: str
    amount: str
    kind: str = "payment"
    reason: str = ""


class Balance(BaseModel):
    account: str
    balance: str
    currency: str
    state: Literal["active", "blocked"]
    reason: str  # why, as true now (the guard's signal keeps the reason of the flip)
    reason_text: str = ""  # the reason in words: for a reseller_blocked account, which account and why
    held: str = "0"  # held for running calls (POST /v1/authorize)
    free: str | None = None  # what is left to start calls with; null: unlimited (postpaid, no limit)


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
    first: Day = Field(alias="from", description="first UTC day, included")
    last: Day = Field(alias="to", description="last UTC day, included")
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
    account: Ref
    period: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM")


class Invoice(BaseModel):
    """docs/contract.md "The HTTP API" and "Other commands"; `pdf` is this API's address of the PDF."""
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
