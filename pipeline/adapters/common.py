"""What every switch adapter shares: the error value, time and number parsing, the final check.

An adapter is a pure function `record -> CDR dict | AdapterError`. The CDR dict is the contract's
CDR JSON (docs/contract.md "A CDR (`cdr.raw`)") and always passes `CdrIn`; everything the switch wrote that has
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
from pipeline.schemas.device_keys import ip_text, key_text

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
class Skipped:
    """A record understood and deliberately not billed (a FreeSWITCH B leg, a SIP transaction that
    is not a call): counted by its reason, never sent to cdr.raw nor cdr.rejected."""

    reason: str


@dataclass(frozen=True, slots=True)
class SwitchContext:
    """What a record does not say about itself: which switch wrote it, its local time zone, and
    the column names of a table the switch writes without a header (--columns, --cdr-columns)."""

    server_id: str
    local_tz: tzinfo = timezone.utc
    # Asterisk cdr_custom / cdr_adaptive_odbc, Kamailio flatstore acc / missed_calls rows
    columns: tuple[str, ...] = ()
    # Kamailio acc_cdrs rows (flatstore)
    cdr_columns: tuple[str, ...] = ()
    # Kamailio transactions: an answered INVITE whose BYE has not come after this long (in the
    # log's own time) is given up and rejected; the dialog module's default timeout is 12 h
    max_call_seconds: int = 43200


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
        local = parsed
        parsed = parsed.replace(tzinfo=local_tz)
        if _skipped_by_dst(local, parsed):
            raise BadField(field, f"{value!r} does not exist in {local_tz} (the hour skipped when daylight "
                                  "saving time starts): the switch's clock or --timezone is wrong")
    if not 1970 <= parsed.year <= 9998:
        raise BadField(field, f"is out of range (got {value!r})")
    return parsed


def _skipped_by_dst(local: datetime, aware: datetime) -> bool:
    """Whether a wall-clock time never happened in its zone (it does not come back the same from UTC)."""
    try:
        back = aware.astimezone(timezone.utc).astimezone(aware.tzinfo)
    except (OverflowError, ValueError):
        return False  # at the ends of the calendar; the range check refuses those
    return back.replace(tzinfo=None) != local


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


def device(sip_user: str = "", ip: str = "", accountcode: str = "") -> dict[str, str] | None:
    """What the switch knows of the caller's device (docs/devices.md), or None when it knows
    nothing. An IP that is not an address is left out (the raw field stays in switch_fields): it
    could match no device, and the SIP user may still."""
    found: dict[str, str] = {}
    for name, value in (("sip_user", sip_user), ("accountcode", accountcode)):
        try:
            key = key_text(value)
        except ValueError:
            key = None  # too long or unprintable: no device could have it
        if key:
            found[name] = key
    if ip and ip.strip():
        try:
            found["ip"] = ip_text(ip)
        except ValueError:
            pass
    return found or None


def caller(account: str, device_keys: dict | None, tried: str, field: str = "account") -> None:
    """A CDR must name its caller: an account the switch gave, or a device to find it by. `tried`
    says what the adapter looked at, for the operator who must fix the switch."""
    if not account and not device_keys:
        raise BadField(field, f"no account and no device to find it by: {tried}")


def billsec_within_duration(billsec: int, duration: int | None, billsec_field: str, duration_field: str) -> None:
    """A switch that bills longer than the call lasted wrote a broken record: refused, not trusted."""
    if duration is not None and billsec > duration:
        raise BadField(billsec_field, f"{billsec} s is longer than the call's {duration_field} {duration} s")


def text_line(line: str | bytes) -> tuple[str, bool]:
    """A switch's line as text, and whether bytes that are not UTF-8 had to be replaced. Asterisk
    writes a caller's name as the phone sent it (often Latin-1 or CP1251): one odd byte in a name
    must not lose a billable call; the fields that bill are checked on their own."""
    if isinstance(line, str):
        return line, False
    try:
        return line.decode("utf-8"), False
    except UnicodeDecodeError:
        return line.decode("utf-8", errors="replace"), True


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
