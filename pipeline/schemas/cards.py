"""Calling cards as reference records (CONTRACT v3 "Calling cards"), and their pure rules.

A card group (`kind: card_group`, on ref.card_groups) belongs to the admin or a reseller: what
its cards pay (its tariff), their face value, number and PIN lengths, fees and expiry. A card
(`kind: card`, on ref.cards, key its number) is one sold or unsold card: its group, its PIN as a
salted hash, its state. Each card is also an ordinary prepaid account (`kind: account`, id = the
card's number, parent = the group's owner, tariff = the group's tariff), so that rating, charging,
balances, blocking, invoices and reports treat a card call exactly like a user's call through the
owner's chain; these records only add what is a card's own.

PINs: a PIN of 4-8 digits has at most 10^8 values, so no hash makes a stolen hash safe; what
protects a PIN is that hashes are only on an internal topic and that guessing online locks the
card (three wrong PINs in ten minutes: an hour). The hash is PBKDF2-SHA256 with a per-card salt
and few iterations, so that checking a PIN costs the single authorizer well under a millisecond.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_MONEY_TEXT = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,6})?$")


def _money(value: object) -> Decimal:
    """A card's money: plain ASCII digits, at most 6 decimals, below 10^12 (the storage's limits)."""
    text = str(value).strip() if isinstance(value, (str, int, Decimal)) and not isinstance(value, bool) else None
    if text is None or not _MONEY_TEXT.match(text):
        raise ValueError("must be a decimal string >= 0 with at most 6 decimals, below 10^12")
    return Decimal(text)


Money = Annotated[Decimal, BeforeValidator(_money)]
PIN_ITERATIONS = 200
STATES = ("new", "sold", "blocked")  # `expired` is computed from the group's expiry, never stored
PIN_SPACE_SHARE = Decimal("0.2")  # at most this share of a group's PIN space in use


class Expiry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    mode: Literal["none", "date", "after_first_use", "after_creation"] = "none"
    date: dt.date | None = None
    days: Annotated[int | None, Field(ge=1, le=36_500)] = None

    @model_validator(mode="after")
    def _fields_of_the_mode(self) -> Expiry:
        if self.mode == "date" and self.date is None:
            raise ValueError('expiry mode "date" needs a date')
        if self.mode in ("after_first_use", "after_creation") and self.days is None:
            raise ValueError(f'expiry mode "{self.mode}" needs days')
        return self


class CardGroupIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["card_group"] = "card_group"
    id: Annotated[str, Field(min_length=1, max_length=64)]
    owner: Annotated[str, Field(min_length=1, max_length=64)]
    tariff: Annotated[str, Field(min_length=1, max_length=64)]
    currency: Annotated[str, Field(min_length=3, max_length=3)] = "EUR"
    face_value: Money = Decimal(0)
    number_length: Annotated[int, Field(ge=6, le=20)] = 10
    pin_length: Annotated[int, Field(ge=4, le=8)] = 4
    setup_fee: Money = Decimal(0)
    daily_charge: Money = Decimal(0)
    expiry: Expiry = Expiry()
    simultaneous: bool = False  # whether one card may be in two calls at once
    name: Annotated[str, Field(max_length=200)] = ""

    @property
    def pin_space(self) -> int:
        return 10 ** self.pin_length

    @property
    def most_cards(self) -> int:
        """How many cards the group may have: PIN_SPACE_SHARE of its PIN space."""
        return int(self.pin_space * PIN_SPACE_SHARE)


class CardIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["card"] = "card"
    number: Annotated[str, Field(min_length=6, max_length=20, pattern=r"^[0-9]+$")]
    group: Annotated[str, Field(min_length=1, max_length=64)]
    pin_hash: Annotated[str, Field(min_length=1, max_length=200)]  # "pbkdf2_sha256$ITER$SALT$HEX"
    state: Literal["new", "sold", "blocked"] = "new"
    created: datetime
    caller_ids: tuple[Annotated[str, Field(min_length=1, max_length=32, pattern=r"^\+?[0-9]+$")], ...] = ()

    @property
    def id(self) -> str:
        return self.number


def hash_pin(pin: str, salt: str | None = None, iterations: int = PIN_ITERATIONS) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt.encode(), iterations).hex()
    return f"pbkdf2_sha256${iterations}${salt}${digest}"


def pin_matches(pin: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256" or not iterations.isdigit() or not pin.isdigit() or len(pin) > 16:
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt.encode(), int(iterations)).hex()
    return hmac.compare_digest(candidate, digest)


def expires_at(group: CardGroupIn, card: CardIn, first_use: datetime | None) -> datetime | None:
    """When the card stops being usable; None: never (or not yet known: unused, after_first_use)."""
    expiry = group.expiry
    if expiry.mode == "date" and expiry.date is not None:  # the model requires it for the mode
        return datetime.combine(expiry.date, datetime.min.time(), timezone.utc) + timedelta(days=1)
    if expiry.mode == "after_creation" and expiry.days is not None:
        return card.created + timedelta(days=expiry.days)
    if expiry.mode == "after_first_use" and first_use is not None and expiry.days is not None:
        return first_use + timedelta(days=expiry.days)
    return None


def card_account(group: CardGroupIn, number: str) -> dict:
    """The prepaid account a card pays through (its id is the card's number)."""
    return {"kind": "account", "id": number, "type": "user", "parent": group.owner, "tariff": group.tariff,
            "billing": "prepaid", "call_limit": 0 if group.simultaneous else 1,
            "name": f"card {number} ({group.id})"}
