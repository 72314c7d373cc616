"""What a switch asks (POST /v1/authorize) and what it is answered, and the refusal table.

The refusal reasons, SIP codes and MOR hangup causes are the contract's; a switch answers the
INVITE with `sip_code` and an operator who knows MOR reads `mor_code`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.schemas import dialled
from pipeline.schemas.device_keys import DeviceKeys, ip_text

# reason -> (SIP code the switch should answer, MOR's hangup cause)
REFUSALS: dict[str, tuple[int, int | None]] = {
    "unknown_account": (403, 200),
    "blocked": (403, 201),
    "reseller_blocked": (403, 202),
    "no_rate": (404, 203),
    "low_balance": (402, 210),
    "low_balance_owner": (402, 211),  # a DID's owner cannot pay for receiving the call
    "no_free_balance": (402, 212),
    "low_balance_reseller": (402, 215),
    "loss_call": (403, 218),
    "max_rate": (403, None),  # MOR has no cause of its own for it
    "call_limit": (486, 220),
    "reseller_call_limit": (486, 222),
    "bad_pin": (403, None),  # a calling card's wrong PIN (no PIN at all: MOR's 227, set on the answer)
    "card_expired": (403, None),
}
ALLOWED = "ok"
_NON_DIGITS = re.compile(r"\D")
# a switch's call id is its own business, but bounded: it is a state key and a Kafka key
CallId = Annotated[str, Field(min_length=1, max_length=256)]
Short = Annotated[str, Field(max_length=128)]


class AuthorizeRequest(BaseModel):
    """The body of POST /v1/authorize (CONTRACT v3 "Authorizing a call")."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    server_id: Annotated[str, Field(min_length=1, max_length=128)]
    call_id: CallId
    account: Short = ""
    dst: Annotated[str, Field(min_length=1, max_length=128)]
    src: Short = ""
    did: Short = ""
    device: Short = ""  # a device's id (docs/devices.md), when the switch knows it
    # what the switch knows of a caller without an account, matched against the devices as a CDR's
    # `device` is (pipeline/reference/devices.py)
    sip_user: Short = ""
    ip: Short = ""
    accountcode: Short = ""
    card: Short = ""
    pin: Annotated[str, Field(max_length=32)] = ""
    setup_time: datetime | None = None

    @field_validator("server_id", "call_id")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable() or "/" in value:
            raise ValueError("must be printable text without '/'")
        return value

    @field_validator("ip")
    @classmethod
    def _an_address(cls, value: str) -> str:
        return ip_text(value) if value.strip() else ""

    @field_validator("dst")
    @classmethod
    def _dialled(cls, value: str) -> str:
        dialled.dialled(value)  # refuses only what is nothing at all; the text is kept as asked
        return value

    @field_validator("setup_time")
    @classmethod
    def _bounded(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("needs a UTC offset")
        if not 2000 <= value.year <= 2100:
            raise ValueError("must lie between the years 2000 and 2100")
        return value.astimezone(timezone.utc)

    @property
    def call_key(self) -> str:
        return f"{self.server_id}/{self.call_id}"

    @property
    def dst_digits(self) -> str:
        return _NON_DIGITS.sub("", self.dst)

    @property
    def dst_dialled(self) -> str:
        """The destination as rating reads it: a number's digits, or a code as dialled, which only
        an explicit code rate prices (pipeline/schemas/dialled.py)."""
        return dialled.dialled(self.dst)

    @property
    def device_keys(self) -> DeviceKeys | None:
        """The caller's device keys, None when the request gives none."""
        if not (self.sip_user or self.ip or self.accountcode):
            return None
        return DeviceKeys(sip_user=self.sip_user or None, ip=self.ip or None, accountcode=self.accountcode or None)

    @property
    def names_a_device(self) -> bool:
        return bool(self.device or self.sip_user or self.ip or self.accountcode)

    @property
    def did_digits(self) -> str:
        return _NON_DIGITS.sub("", self.did)


@dataclass(frozen=True)
class Answer:
    """The decision for one call; `holds` are what it places (all of them, or none)."""

    allowed: bool
    max_seconds: int
    reason: str
    account: str
    currency: str
    holds: dict[str, Decimal]
    balance: Decimal | None  # the caller's free balance before this call's hold (None: unlimited)
    detail: str = ""
    mor_override: int | None = None  # a refusal whose MOR cause is not its reason's (no PIN: 227)
    device: str = ""  # the device the caller was found by (its calls count against its call_limit)

    @property
    def sip_code(self) -> int | None:
        return None if self.allowed else REFUSALS[self.reason][0]

    @property
    def mor_code(self) -> int | None:
        if self.allowed:
            return None
        return self.mor_override if self.mor_override is not None else REFUSALS[self.reason][1]

    def to_json(self) -> dict:
        return {
            "allowed": self.allowed, "max_seconds": self.max_seconds, "reason": self.reason,
            "sip_code": self.sip_code, "mor_code": self.mor_code, "account": self.account,
            "holds": {account: str(amount) for account, amount in self.holds.items()},
            "balance": None if self.balance is None else str(self.balance),
            "currency": self.currency, "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: dict) -> Answer:
        balance = data.get("balance")
        answer = cls(data["allowed"], data["max_seconds"], data["reason"], data["account"], data["currency"],
                     {a: Decimal(v) for a, v in data["holds"].items()},
                     None if balance is None else Decimal(balance), data.get("detail", ""))
        if answer.mor_code != data.get("mor_code"):
            answer = cls(**{**answer.__dict__, "mor_override": data.get("mor_code")})
        return answer


def refusal(reason: str, account: str, detail: str, currency: str = "", balance: Decimal | None = None) -> Answer:
    if reason not in REFUSALS:
        raise ValueError(f"unknown refusal reason {reason!r}")
    return Answer(False, 0, reason, account, currency, {}, balance, detail)
