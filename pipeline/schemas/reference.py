"""The reference records rating prices with (tariffs and their rates, accounts, providers, DIDs,
holidays) as frozen pydantic models; every kind of record, with alerts and cards, and the parser
are in pipeline/reference/records.py.

Field rules come from `field_rules`, shared with the CSV reader. Validation errors are pydantic's own
ValidationError so the caller can name the file, the record and the field.
"""
from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from pipeline.schemas import field_rules, limits, tier_rules

RateMoney = Annotated[Decimal, BeforeValidator(field_rules.rate_money)]  # Decimal(18, 9)
SignedRateMoney = Annotated[Decimal, BeforeValidator(field_rules.signed_rate_money)]  # a DID rate may be < 0
OptionalMoney = Annotated[Decimal | None, BeforeValidator(field_rules.optional_money)]  # Decimal(18, 6)
Digits = Annotated[str, BeforeValidator(field_rules.digits)]
Prefix = Annotated[str, BeforeValidator(field_rules.prefix)]
Seconds = Annotated[int, BeforeValidator(field_rules.at_least_zero)]
Increment = Annotated[int, BeforeValidator(field_rules.at_least_one)]
WholeSecond = Annotated[datetime, BeforeValidator(field_rules.whole_second_instant)]
TimeOfDay = Annotated[time, BeforeValidator(field_rules.time_of_day)]
Id = Annotated[str, Field(min_length=1)]

DEFAULT_EFFECTIVE_FROM = field_rules.EPOCH
DEFAULT_START = time(0, 0, 0)
DEFAULT_END = time(23, 59, 59)
ADMIN_ID = "admin"


def _zone_name(value: Any) -> str:
    """A zone name longer than any IANA name is refused before the lookup, which would raise
    OSError (file name too long) instead of a validation error. Stored tariffs all passed the
    lookup, so none is refused on reading."""
    if isinstance(value, str) and len(value) > limits.MAX_ZONE_LENGTH:
        raise ValueError(f"must be an IANA time zone such as Europe/Vilnius (got {len(value)} characters)")
    return field_rules.zone_name(value)


ZoneName = Annotated[str, BeforeValidator(_zone_name)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RateTier(_Frozen):
    """A tier after a rate's first (docs/tiers.md): from second `from_seconds` of the call on, its
    seconds cost `rate` per minute, billed in blocks of `increment`."""
    from_seconds: Annotated[int, BeforeValidator(tier_rules.tier_start)]
    rate: RateMoney  # per minute
    increment: Increment = 1


class DidRateTier(RateTier):
    rate: SignedRateMoney  # a DID's rates may be negative (paid by the admin)


def _tier_layout(increment: int, tiers: tuple[RateTier, ...]) -> None:
    if tiers:
        tier_rules.tier_layout(increment, [(tier.from_seconds, tier.increment) for tier in tiers])


class RateIn(_Frozen):
    prefix: Prefix  # "" is a catch-all that matches every destination
    rate: RateMoney  # per minute
    connection_fee: RateMoney = Decimal(0)
    increment: Increment = 1
    min_time: Seconds = 0
    grace_time: Seconds = 0
    effective_from: WholeSecond = DEFAULT_EFFECTIVE_FROM
    day_type: Annotated[Literal["WD", "FD", "all"], BeforeValidator(field_rules.day_type)] = "all"
    start: TimeOfDay = DEFAULT_START
    end: TimeOfDay = DEFAULT_END
    # the destination's name ("Italy mobile"): shown on invoice lines beside the prefix
    destination: Annotated[str, BeforeValidator(field_rules.destination_name)] = ""
    # the tiers after the first (the first is `rate` and `increment` from second 0), by from_seconds
    tiers: tuple[RateTier, ...] = ()

    @model_validator(mode="after")
    def _window_is_in_one_day(self) -> RateIn:
        field_rules.time_window(self.start, self.end)
        _tier_layout(self.increment, self.tiers)
        return self


# Two rates with the same key would tie on every rule of the lookup, so a tariff may hold one.
VERSION_KEY_FIELDS = ("prefix", "effective_from", "day_type", "start", "end")


def rate_version_key(rate: RateIn) -> tuple:
    return (rate.prefix, rate.effective_from, rate.day_type, rate.start, rate.end)


class TariffIn(_Frozen):
    kind: Literal["tariff"] = "tariff"
    id: Id
    owner: Id = ADMIN_ID
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
    timezone: ZoneName = "UTC"
    decimals: Annotated[int, Field(ge=0, le=6)] = 6
    rounding: Literal["half_up", "up", "down"] = "half_up"
    rates: tuple[RateIn, ...] = ()
    rates_csv: str | None = None
    # kept for the calls and invoices that name it, hidden from lists and given to nothing new
    # (pipeline/reference/archive_rules.py)
    archived: bool = False

    @model_validator(mode="after")
    def _rates_come_from_one_place(self) -> TariffIn:
        if self.rates and self.rates_csv is not None:
            raise ValueError("give either rates or rates_csv, not both")
        seen: set[tuple] = set()
        for position, rate in enumerate(self.rates):
            key = rate_version_key(rate)
            if key in seen:
                raise ValueError(f"rates[{position}] repeats prefix {rate.prefix!r} with the same "
                                 "effective_from, day_type and window")
            seen.add(key)
        return self

    def header(self) -> TariffIn:
        """The tariff without its rates: what the book keeps once the rates are compiled."""
        return self.model_copy(update={"rates": ()})


class AccountIn(_Frozen):
    kind: Literal["account"] = "account"
    id: Id
    type: Literal["admin", "reseller", "user"]
    parent: str | None = None  # filled with "admin" for resellers and users when absent
    tariff: str | None = None
    billing: Literal["prepaid", "postpaid"] = "prepaid"
    credit_limit: OptionalMoney = None
    server: str | None = None
    pro: bool = False
    allow_loss_calls: bool = False
    blocked: bool = False
    name: str = ""
    # authorization before the call (pipeline/authorize): simultaneous calls (0 = no limit), the
    # most a destination may cost per minute (None = any), the longest a call is held for
    # (None = the installation's RATING_HOLD_CAP_SECONDS)
    call_limit: Seconds = 0
    max_rate: OptionalMoney = None
    hold_cap_seconds: Annotated[int | None, Field(ge=1, le=86_400)] = None
    # what the account's invoices are addressed to and sent to (pipeline/invoices); the lengths are
    # checked on writes (write_limits), not here: stored records are read as they were written
    address: str = ""
    email: Annotated[str, BeforeValidator(field_rules.email_address)] = ""
    # kept for its calls and invoices, never deleted: cannot sign in, is blocked (reason
    # "archived"), and nothing new is given to it or put under it (pipeline/reference/archive_rules.py)
    archived: bool = False
    # a reseller the admin lets set his own portal domain (docs/api-and-portal.md "Portal domains")
    allow_own_domain: bool = False

    @model_validator(mode="before")
    @classmethod
    def _parent_defaults_to_admin(cls, data: Any) -> Any:
        if isinstance(data, dict) and "parent" not in data and data.get("type") in ("reseller", "user"):
            return {**data, "parent": ADMIN_ID}
        return data

    @model_validator(mode="after")
    def _admin_is_the_root(self) -> AccountIn:
        if self.type == "admin" and self.parent is not None:
            raise ValueError("the admin account has no parent")
        if self.type != "admin" and not self.parent:
            raise ValueError(f"a {self.type} needs a parent")
        if self.parent == self.id:
            raise ValueError("an account cannot be its own parent")
        return self


# The admin exists in every installation without a record (CONTRACT v2): files name it as a parent
# or an owner without creating it.
BUILT_IN_ADMIN = AccountIn(id=ADMIN_ID, type="admin", name="admin")


class ProviderIn(_Frozen):
    kind: Literal["provider"] = "provider"
    id: Id
    owner: Id = ADMIN_ID
    tariff: Id


class DidRate(_Frozen):
    """One of a DID's rates (CONTRACT v2 "DIDs and incoming calls"): a tariff rate without prefix,
    dates or window, priced by the same algorithm. Money may be negative: a negative price is paid
    by the admin to that party."""
    rate: SignedRateMoney = Decimal(0)  # per minute
    connection_fee: SignedRateMoney = Decimal(0)
    increment: Increment = 1
    min_time: Seconds = 0
    grace_time: Seconds = 0
    tiers: tuple[DidRateTier, ...] = ()  # as a tariff rate's; all of the rate's sign

    @model_validator(mode="after")
    def _tiers_fit(self) -> DidRate:
        _tier_layout(self.increment, self.tiers)
        if self.tiers:
            tier_rules.tier_signs(self.rate, [tier.rate for tier in self.tiers])
        return self

    @property
    def charges(self) -> bool:
        """Whether the rate makes its payer pay anything (docs/domain.md "DIDs": a rate above 0 makes its payer pay)."""
        return self.rate > 0 or self.connection_fee > 0 or any(tier.rate > 0 for tier in self.tiers)


FREE_DID_RATE = DidRate()


class DidRates(_Frozen):
    """The admin's three rates of a DID; a missing one is free."""
    incoming: DidRate = FREE_DID_RATE  # paid by a local caller
    owner: DidRate = FREE_DID_RATE  # paid to the admin by the DID's reseller, or by its direct owner
    provider: DidRate = FREE_DID_RATE  # paid by the carrier that delivered the call


class DidIn(_Frozen):
    kind: Literal["did"] = "did"
    number: Annotated[Digits, Field(min_length=1)]
    reseller: str | None = None
    user: str | None = None
    tariff: str | None = None  # kept for older files; DID calls are priced by `rates` and `owner_rate`
    rates: DidRates = DidRates()  # set by the admin only (ownership.py)
    owner_rate: DidRate | None = None  # set by the DID's reseller only: what his user pays him

    @property
    def owner(self) -> str | None:
        """Who holds the DID: its user, else its reseller; None when unassigned (no owner leg)."""
        return self.user or self.reseller

    @property
    def owner_pays(self) -> DidRate:
        """The rate its owner pays for receiving a call: his reseller's owner_rate (only a
        reseller's user has one), else the admin's owner rate."""
        return self.owner_rate if self.owner_rate is not None and self.user else self.rates.owner

    @property
    def id(self) -> str:
        return self.number


class HolidaysIn(_Frozen):
    kind: Literal["holidays"] = "holidays"
    id: Literal["default"] = "default"
    dates: tuple[date, ...] = ()
