"""An issuer's invoice details: the validated model (pure: no I/O)."""
from __future__ import annotations

import re
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

ADMIN_ISSUER = "admin"
NUMBER_PREFIX = re.compile(r"^[A-Z0-9-]{1,12}$")
# deliberately simple: a typo'd address is the issuer's business, a missing "@" is an input error
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_TAXES = 10  # MOR has four; a few more for places that stack several levies
MAX_PAYMENT_TERMS_DAYS = 365


class Tax(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=40)
    # "rate" is accepted for it too (MOR's and many tools' word); it is stored and shown as percent
    percent: Decimal = Field(ge=0, le=100, decimal_places=4, validation_alias=AliasChoices("percent", "rate"))


class IssuerDetails(BaseModel):
    """What an invoice says about its issuer. Validation errors name the field and the rule."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    account: str = Field(min_length=1, max_length=64)
    company: str = Field(min_length=1, max_length=200)
    address: str = Field("", max_length=1000)  # several lines, printed as given
    vat_id: str = Field("", max_length=40)
    bank: str = Field("", max_length=300)
    email: str = Field("", max_length=200)
    taxes: tuple[Tax, ...] = Field((), max_length=MAX_TAXES)
    # MOR's "compound tax": each tax is computed on the subtotal plus the taxes before it, instead
    # of each on the subtotal alone (pipeline/invoices/compute.py)
    compound_taxes: bool = False
    number_prefix: str
    timezone: str = "UTC"
    # the due date is the issue date (in `timezone`) plus this many days; None: no due date shown
    payment_terms_days: int | None = Field(None, ge=0, le=MAX_PAYMENT_TERMS_DAYS)

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str) -> str:
        if value and not EMAIL.match(value):
            raise ValueError(f"{value!r} is not an e-mail address (name@domain.tld)")
        return value

    @field_validator("number_prefix")
    @classmethod
    def _prefix_shape(cls, value: str) -> str:
        if not NUMBER_PREFIX.match(value):
            raise ValueError(f"{value!r} is not a number prefix: 1 to 12 of A-Z, 0-9 and '-'")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (like Europe/Rome or UTC)") from None
        return value

    @field_validator("taxes")
    @classmethod
    def _distinct_tax_names(cls, value: tuple[Tax, ...]) -> tuple[Tax, ...]:
        names = [tax.name for tax in value]
        if len(names) != len(set(names)):
            raise ValueError(f"tax names must be distinct, got {names}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
