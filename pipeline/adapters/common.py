"""What every switch adapter shares: the error value, time and number parsing, the final check.

An adapter is a pure function `record -> CDR dict | AdapterError`. The CDR dict is the contract's
CDR JSON (CONTRACT.md "CDR JSON") and always passes `CdrIn`; everything the switch wrote that has
no contract field travels on under `switch_fields` (kept as an unknown field, so it reaches the
rated call's `extra`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import orjson
from pydantic import ValidationError

from pipeline.schemas.cdr import CdrIn

# Epoch seconds, optionally with a fraction: Kamailio's "1795777233.586", FreeSWITCH's start_epoch.
_EPOCH = re.compile(r"^\d{1,11}(\.\d{1,9})?$")
# Asterisk and FreeSWITCH write "YYYY-MM-DD HH:MM:SS" in the switch's local time, no offset.
_WHOLE = re.compile(r"^-?[0-9]{1,12}$")
_LOCAL_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$")


@dataclass(frozen=True, slots=True)
class AdapterError:
    """Why a switch record cannot become a CDR: the switch's field and the rule it broke."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


class BadField(Exception):
    """Raised inside an adapter, turned into an AdapterError at its edge."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.error = AdapterError(field, rule)


@dataclass(frozen=True, slots=True)
class SwitchContext:
    """What a record does not say about itself: which switch wrote it, and its local time zone."""

    server_id: str
    local_tz: tzinfo = timezone.utc


def json_object(payload: str | bytes | dict) -> dict | AdapterError:
    """One switch record that must be a JSON object (already decoded, or its text)."""
    if isinstance(payload, dict):
        return payload
    try:
        record = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return AdapterError("record", f"is not JSON ({exc})")
    if not isinstance(record, dict):
        return AdapterError("record", f"must be a JSON object (got {type(record).__name__})")
    return record


def text(record: dict, field: str, required: bool = False) -> str:
    """A field as a stripped string ('' when absent); numbers are accepted as their text."""
    value = record.get(field)
    if value is None or value == "":
        if required:
            raise BadField(field, "missing or empty")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadField(field, f"must be a string (got {type(value).__name__})")
    result = str(value).strip()
    if required and not result:
        raise BadField(field, "missing or empty")
    return result


def seconds(record: dict, field: str, required: bool = True) -> int | None:
    """A whole, non-negative number of seconds (switches write it as text or as a number)."""
    value = record.get(field)
    if value is None or value == "":
        if required:
            raise BadField(field, "missing or empty")
        return None
    if isinstance(value, bool):
        raise BadField(field, "must be a whole number of seconds, not a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _WHOLE.match(value.strip()):
        number = int(value.strip())
    else:
        raise BadField(field, f"must be a whole number of seconds (got {value!r})")
    if number < 0:
        raise BadField(field, f"must be >= 0 (got {number})")
    return number


def timestamp(value: Any, field: str, local_tz: tzinfo) -> datetime | None:
    """A switch's time: epoch seconds (UTC by definition), ISO-8601 with an offset, or a local
    'YYYY-MM-DD HH:MM:SS' read in the switch's time zone. Empty means 'did not happen'."""
    if value is None or value == "" or value == 0 or value == "0":
        return None  # Asterisk leaves answer empty, FreeSWITCH writes answer_epoch 0, unanswered
    if isinstance(value, bool):
        raise BadField(field, "must be a time, not a boolean")
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        raise BadField(field, f"must be a time (got {type(value).__name__})")
    value = value.strip()
    if _EPOCH.match(value):
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=int(value.split(".")[0])) \
            + timedelta(microseconds=_fraction_micros(value))
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadField(field, f"is not a time (epoch seconds, ISO-8601, or YYYY-MM-DD HH:MM:SS; got {value!r})") from None
    if parsed.tzinfo is None:
        if not _LOCAL_STAMP.match(value):
            raise BadField(field, f"is not a time (got {value!r})")
        # fold=0: in the repeated hour of a DST change the first occurrence is taken
        parsed = parsed.replace(tzinfo=local_tz)
    if not 1970 <= parsed.year <= 9998:
        raise BadField(field, f"is out of range (got {value!r})")
    return parsed


def required(value, field: str):
    """A parsed value that the record must have (e.g. a call's start time)."""
    if value is None:
        raise BadField(field, "missing or empty")
    return value


def _fraction_micros(epoch: str) -> int:
    if "." not in epoch:
        return 0
    digits = (epoch.split(".")[1] + "000000")[:6]
    return int(digits)


def whole_seconds_between(start: datetime, end: datetime) -> int:
    """Seconds from start to end rounded half up (Asterisk's rounding of billsec), never < 0."""
    delta = end - start
    micros = Decimal(delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    if micros <= 0:
        return 0
    return int((micros / 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def finish(cdr: dict[str, Any], switch_fields: dict[str, Any], adapter: str,
           names: dict[str, str]) -> dict | AdapterError:
    """The contract CDR, checked by the same model the pipeline uses: a dict, or why not.

    `names` maps each contract field to the switch's field it came from, so that an error names
    the field the operator can find in the switch's record."""
    body = {key: value for key, value in cdr.items() if value is not None}
    body["adapter"] = adapter
    body["switch_fields"] = switch_fields
    try:
        CdrIn.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "record"
        return AdapterError(names.get(field, field), first["msg"])
    except (ValueError, OverflowError, InvalidOperation) as exc:
        return AdapterError("record", str(exc))
    return body
