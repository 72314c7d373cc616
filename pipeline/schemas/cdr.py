"""The pipeline's own CDR form (CONTRACT.md "CDR JSON") as a pydantic model."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from pipeline.schemas import limits

_NON_DIGITS = re.compile(r"[^0-9]")  # \D would keep Arabic-Indic and fullwidth digits
ANSWERED = "ANSWERED"


class CdrIn(BaseModel):
    # unknown fields are kept (switches add their own) and travel on as `extra`
    model_config = ConfigDict(extra="allow", frozen=True)

    call_id: str
    server_id: str
    did: str | None = None  # before `account`: an empty account is valid only with a DID
    # a calling card's call (CONTRACT v3): the card pays through its own account, whose id is its
    # number, so an empty `account` becomes the card's (declared before `account`, like `did`)
    card: str | None = None
    account: str
    dst: str
    start_time: datetime
    billsec: int
    src: str = ""
    answer_time: datetime | None = None
    end_time: datetime | None = None
    duration: int | None = None
    disposition: str | None = None
    provider: str | None = None

    @field_validator("call_id", "server_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("account")
    @classmethod
    def _caller_named_unless_outside(cls, value: str, info: ValidationInfo) -> str:
        """A call to a DID may come from outside (CONTRACT v2): its account may be empty (`did` is
        declared before `account` so that it is known here); any other call names its caller."""
        if value.strip():
            return value
        card = (info.data.get("card") or "").strip()
        if card:
            return card
        if not (info.data.get("did") or "").strip():
            raise ValueError("must not be empty (only a call to a DID, with `did`, may come from outside "
                             "with no account)")
        return ""

    @field_validator("dst")
    @classmethod
    def _digits_only(cls, value: str) -> str:
        digits = _NON_DIGITS.sub("", value)
        if not digits:
            raise ValueError(f"has no digits (got {value!r})")
        return digits

    @field_validator("start_time", "answer_time", "end_time")
    @classmethod
    def _aware_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # epoch seconds arrive aware; a bare local time is read as UTC
            value = value.replace(tzinfo=timezone.utc)
        # compared before converting: year 9999 with a negative offset has no UTC datetime
        if not limits.DATETIME_MIN <= value < limits.DATETIME_END:
            raise ValueError(f"must be from {limits.DATETIME_MIN:%Y-%m-%d} to the end of "
                             f"{limits.DATETIME_END.year - 1} UTC, what the stored DateTime holds")
        return value.astimezone(timezone.utc)

    @field_validator("billsec", "duration", mode="before")
    @classmethod
    def _not_boolean(cls, value):
        if isinstance(value, bool):  # lax int would read true as 1 second
            raise ValueError("must be a whole number of seconds, not a boolean")
        return value

    @field_validator("billsec", "duration")
    @classmethod
    def _not_negative(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError("must be >= 0")
        if value is not None and value > limits.UINT32_MAX:
            raise ValueError(f"must be < 2^32 ({limits.UINT32_MAX + 1}), what the stored UInt32 holds")
        return value

    @model_validator(mode="after")
    def _default_disposition(self) -> "CdrIn":
        if self.disposition is None:
            object.__setattr__(self, "disposition", ANSWERED if self.billsec > 0 else "NO ANSWER")
        else:
            object.__setattr__(self, "disposition", self.disposition.upper())
        return self

    @property
    def answered(self) -> bool:
        return self.disposition == ANSWERED and self.billsec > 0

    @property
    def call_key(self) -> str:
        return call_key(self.server_id, self.call_id)

    def extra_fields(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


def call_key(server_id: str, call_id: str) -> str:
    """The call's identity on cdr.rated (and in charged_calls): `server_id/call_id`, unchanged when
    server_id has neither "/" nor "%". Otherwise server_id is percent-encoded ("/" -> %2F, "%" ->
    %25), so the first "/" of a key always ends the server id and no two calls share a key
    ("ast1/x" + "y" is `ast1%2Fx/y`, "ast1" + "x/y" is `ast1/x/y`)."""
    if "/" in server_id or "%" in server_id:
        server_id = server_id.replace("%", "%25").replace("/", "%2F")
    return f"{server_id}/{call_id}"

