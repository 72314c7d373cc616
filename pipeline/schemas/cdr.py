"""The pipeline's own CDR form (docs/contract.md "A CDR (`cdr.raw`)") as a pydantic model."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from pipeline.schemas import dialled, limits
from pipeline.schemas.device_keys import DeviceKeys

ANSWERED = "ANSWERED"
MAX_SEGMENT_LENGTH = 256


class CdrIn(BaseModel):
    # unknown fields are kept (switches add their own) and travel on as `extra`
    model_config = ConfigDict(extra="allow", frozen=True)

    call_id: str
    server_id: str
    did: str | None = None  # before `account`: an empty account is valid only with a DID
    # a calling card's call (CONTRACT v3): the card pays through its own account, whose id is its
    # number, so an empty `account` becomes the card's (declared before `account`, like `did`)
    card: str | None = None
    # what the switch knows of the caller (docs/devices.md): a CDR with no account is attributed to
    # the account of the device these match, by the rate stage (also declared before `account`)
    device: DeviceKeys | None = None
    account: str = Field(default="", validate_default=True)
    dst: str
    start_time: datetime
    billsec: int
    src: str = ""
    answer_time: datetime | None = None
    end_time: datetime | None = None
    duration: int | None = None
    disposition: str | None = None
    provider: str | None = None
    # one record of a call the switch wrote in several (docs/devices.md "A call in several records"):
    # each segment is priced and charged on its own key, server_id/call_id/segment
    segment: str | None = None

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
        device = info.data.get("device")
        if device is not None and not device.empty:
            return ""  # the rate stage finds the account through the device
        if not (info.data.get("did") or "").strip():
            raise ValueError("must not be empty (a CDR names its caller by `account`, `device` or `card`; only "
                             "a call to a DID, with `did`, may come from outside with none)")
        return ""

    @field_validator("dst")
    @classmethod
    def _number_or_code(cls, value: str) -> str:
        """A number's digits, or a code as dialled (pipeline/schemas/dialled.py)."""
        return dialled.dialled(value)

    @field_validator("segment", mode="before")
    @classmethod
    def _segment_text(cls, value):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # Asterisk's `sequence` is a number
        if isinstance(value, str):
            value = value.strip() or None  # empty: a call in one record
            if value is not None and (len(value) > MAX_SEGMENT_LENGTH or not value.isprintable()):
                raise ValueError(f"must be printable text of at most {MAX_SEGMENT_LENGTH} characters")
        return value

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
    def _default_disposition(self) -> CdrIn:
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
        return call_key(self.server_id, self.call_id, self.segment)

    @property
    def hold_key(self) -> str:
        """The key of the call as a whole, whatever its segment: what its authorization held."""
        return call_key(self.server_id, self.call_id)

    def extra_fields(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


def call_key(server_id: str, call_id: str, segment: str | None = None) -> str:
    """The call's identity on cdr.rated (and in charged_calls): `server_id/call_id`, unchanged when
    server_id has neither "/" nor "%". Otherwise server_id is percent-encoded ("/" -> %2F, "%" ->
    %25), so the first "/" of a key always ends the server id and no two calls share a key
    ("ast1/x" + "y" is `ast1%2Fx/y`, "ast1" + "x/y" is `ast1/x/y`).

    A segment of a call written in several records is `server_id/call_id/segment`, with call_id and
    segment encoded the same way, so such a key always has exactly two "/" and no two segments
    share one. A server should write all its records with segments or none: a call id holding a
    "/" on an unsegmented record could otherwise spell a segmented key (`s/a/b`)."""
    if segment is None:
        return f"{_encoded(server_id)}/{call_id}"
    return f"{_encoded(server_id)}/{_encoded(call_id)}/{_encoded(segment)}"


def _encoded(part: str) -> str:
    if "/" in part or "%" in part:
        return part.replace("%", "%25").replace("/", "%2F")
    return part

