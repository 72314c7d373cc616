"""The pipeline's own CDR form (CONTRACT.md "CDR JSON") as a pydantic model."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

_NON_DIGITS = re.compile(r"[^0-9]")  # \D would keep Arabic-Indic and fullwidth digits
ANSWERED = "ANSWERED"


class CdrIn(BaseModel):
    # unknown fields are kept (switches add their own) and travel on as `extra`
    model_config = ConfigDict(extra="allow", frozen=True)

    call_id: str
    server_id: str
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
    did: str | None = None

    @field_validator("call_id", "server_id", "account")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

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
        return f"{self.server_id}/{self.call_id}"

    def extra_fields(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})
