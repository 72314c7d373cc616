"""Reference data records (CONTRACT.md "Reference data JSON") as frozen pydantic models.

Field rules come from `rules`, shared with the CSV reader. Validation errors are pydantic's own
ValidationError so the caller can name the file, the record and the field.
"""
from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator, ConfigDict, Field, TypeAdapter, model_validator
from pydantic import BaseModel

from pipeline.rating import rules

Money = Annotated[Decimal, BeforeValidator(rules.money)]
OptionalMoney = Annotated[Decimal | None, BeforeValidator(rules.optional_money)]
Digits = Annotated[str, BeforeValidator(rules.digits)]
Seconds = Annotated[int, BeforeValidator(rules.at_least_zero)]
Increment = Annotated[int, BeforeValidator(rules.at_least_one)]
Instant = Annotated[datetime, BeforeValidator(rules.instant)]
TimeOfDay = Annotated[time, BeforeValidator(rules.time_of_day)]
ZoneName = Annotated[str, BeforeValidator(rules.zone_name)]
Id = Annotated[str, Field(min_length=1)]

DEFAULT_EFFECTIVE_FROM = rules.EPOCH
DEFAULT_START = time(0, 0, 0)
DEFAULT_END = time(23, 59, 59)
ADMIN_ID = "admin"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RateIn(_Frozen):
    prefix: Digits  # "" is a catch-all that matches every destination
    rate: Money  # per minute
    connection_fee: Money = Decimal(0)
    increment: Increment = 1
    min_time: Seconds = 0
    grace_time: Seconds = 0
    effective_from: Instant = DEFAULT_EFFECTIVE_FROM
    day_type: Annotated[Literal["WD", "FD", "all"], BeforeValidator(rules.day_type)] = "all"
    start: TimeOfDay = DEFAULT_START
    end: TimeOfDay = DEFAULT_END

    @model_validator(mode="after")
    def _window_is_in_one_day(self) -> RateIn:
        rules.time_window(self.start, self.end)
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


class ProviderIn(_Frozen):
    kind: Literal["provider"] = "provider"
    id: Id
    owner: Id = ADMIN_ID
    tariff: Id


class DidIn(_Frozen):
    kind: Literal["did"] = "did"
    number: Annotated[Digits, Field(min_length=1)]
    reseller: str | None = None
    user: str | None = None
    tariff: str | None = None  # incoming rates, used by DID rating (after outgoing rating)

    @property
    def id(self) -> str:
        return self.number


class HolidaysIn(_Frozen):
    kind: Literal["holidays"] = "holidays"
    id: Literal["default"] = "default"
    dates: tuple[date, ...] = ()


ReferenceRecord = Annotated[
    Union[TariffIn, AccountIn, ProviderIn, DidIn, HolidaysIn], Field(discriminator="kind")
]
_record_adapter: TypeAdapter[ReferenceRecord] = TypeAdapter(ReferenceRecord)


def parse_reference_record(obj: Any) -> TariffIn | AccountIn | ProviderIn | DidIn | HolidaysIn:
    """One record from a decoded JSON object; raises pydantic.ValidationError."""
    return _record_adapter.validate_python(obj)
