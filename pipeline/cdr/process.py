"""One CDR from cdr.raw -> exactly one record for cdr.rated or for cdr.rejected (pure)."""
from __future__ import annotations

import base64
import codecs
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import orjson

from pipeline.cdr.decode import CdrError, decode_cdr
from pipeline.cdr.rated_record import rated_record
from pipeline.rating.chain import CallToRate, NotRated, RatedCall, rate_call
from pipeline.rating.did import rate_did_call
from pipeline.reference.devices import resolve_caller
from pipeline.schemas import limits, wire
from pipeline.schemas.cdr import CdrIn

log = logging.getLogger(__name__)
_NON_DIGITS = re.compile(r"[^0-9]")

# Every reason a CDR can be rejected with; listed in docs/contract.md "A CDR".
REJECT_REASONS = (
    "empty", "bad_json", "bad_avro", "not_an_object", "schema",
    "unknown_account", "no_tariff", "unknown_tariff", "no_rate", "unknown_provider",
    "broken_chain", "currency_mismatch", "too_old", "out_of_range", "internal_error", "unknown_did",
    "not_a_number",
)

# A rejection (or dead letter) must fit the topic whatever it copies: the broker refuses a record
# over its max.message.bytes (1 MB by default), and a refused record would stall the stage.
# Worst case: the copied payload as JSON text of control characters, 6 bytes each ("\u0000"),
# 6 * 64 KiB = 384 KiB; the detail 6 * 4,000; the key 16 KiB: well under 512 KiB in all.
MAX_COPIED_PAYLOAD = 64 * 1024  # bytes of the original payload a rejection copies
MAX_COPIED_KEY = 16 * 1024  # bytes of the original key kept as the rejection's key
MAX_DETAIL_CHARS = 4000  # of a rejection's detail (pydantic messages echo their input)
MAX_REASON_CHARS = 64
MAX_REJECTION_BYTES = 512 * 1024  # the bound above, which tests check for any input


@dataclass(frozen=True, slots=True)
class Source:
    """Where a CDR was read: carried on a rejection so it can be found and replayed."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Output:
    """A message to produce: `rated` tells the topic (cdr.rated, else cdr.rejected)."""

    rated: bool
    key: bytes | None
    value: bytes
    reason: str = ""


def process_cdr(key: bytes | None, payload: bytes | None, source: Source, book, rated_at: datetime,
                wire_format: str = "json", *, oldest_start: datetime | None = None,
                allow_old: bool = False) -> Output:
    """`oldest_start`: a CDR that started before it is rejected `too_old` (the stage passes now -
    RATING_DEDUP_DAYS: past the dedup window a second delivery could be charged twice), unless
    `allow_old` (an operator's explicit replay)."""
    try:
        cdr = decode_cdr(payload)
        if oldest_start is not None and not allow_old and cdr.start_time < oldest_start:
            raise CdrError("too_old", f"start_time {_utc(cdr.start_time)} is before {_utc(oldest_start)}, the "
                           "oldest start the call dedup window keeps (RATING_DEDUP_DAYS); replay it with the "
                           "explicit override to rate it")
        cdr = attributed(cdr, book)
        result = rate_cdr(cdr, book)
        if isinstance(result, NotRated):
            raise CdrError(result.reason, result.detail)
        problem = out_of_range(result)
        if problem is not None:
            raise CdrError("out_of_range", problem)
        record = rated_record(result, cdr, rated_at)
        return Output(True, cdr.call_key.encode(), wire.encode("rated_call.v1", record, wire_format))
    except CdrError as exc:
        return rejection(key, payload, source, exc.reason, exc.detail)
    except Exception as exc:  # a bug must not stop the worker nor lose the CDR
        log.exception("cannot process CDR at %s", source)
        return rejection(key, payload, source, "internal_error", repr(exc))


def attributed(cdr: CdrIn, book) -> CdrIn:
    """The CDR with its caller's account: as it came, or found through its device (README
    "Devices"); the device's id travels on in the record's `extra` as `device_id`. Raises
    CdrError unknown_account naming what was tried; a call to a DID whose device matches nothing
    is a caller from outside, as one with no account at all."""
    if cdr.account or cdr.device is None or cdr.device.empty:
        return cdr
    found = resolve_caller(book, cdr.server_id, cdr.device)
    if isinstance(found, str):
        if did_number(cdr) is not None:
            return cdr
        raise CdrError("unknown_account", found)
    return cdr.model_copy(update={"account": found.account, "device_id": found.device.id})


def rate_cdr(cdr: CdrIn, book) -> RatedCall | NotRated:
    """The CDR priced: a call to a DID by the DID's rates, any other by the caller's chain."""
    call = _call_to_rate(cdr)
    number = did_number(cdr)
    return rate_call(call, book) if number is None else rate_did_call(call, number, book)


def did_number(cdr: CdrIn) -> str | None:
    """The dialled DID, digits only, or None when the call is not to a DID."""
    if cdr.did is None or not cdr.did.strip():
        return None
    return _NON_DIGITS.sub("", cdr.did)  # no digits at all: "" is nobody's DID, rejected unknown_did


def out_of_range(rated: RatedCall) -> str | None:
    """What of a priced call the store cannot hold, or None. Rates (< 10^9 per minute, 9 places),
    billsec (< 2^32) and time are checked where they enter, but their product is not bounded
    there: a rate of 10^8 for 10^7 seconds is a price of 1.6 * 10^13, past Decimal(18, 6); and
    increment or min_time can lift billed seconds past UInt32. Prices are >= 0, so profits, which
    are differences of two of them, stay inside the range once the prices do."""
    if rated.did is not None:
        for party, price in zip(("incoming", "owner", "reseller owner", "provider"), rated.did[2:]):
            if abs(price) >= limits.MONEY_BELOW:
                return (f"DID {rated.did.number} {party} price {price} is not below {limits.MONEY_BELOW:,} in size, "
                        "the most rated_calls keeps (Decimal(18, 6))")
    for leg in (rated.user, rated.reseller, rated.provider):
        if leg is None:
            continue
        if leg.price >= limits.MONEY_BELOW:
            return (f"{leg.level} price {leg.price} (tariff \"{leg.tariff}\", {leg.billed_seconds} s at "
                    f"{leg.rate}/min) is not below {limits.MONEY_BELOW:,}, the most rated_calls keeps "
                    f"(Decimal(18, 6))")
        if leg.billed_seconds > limits.UINT32_MAX:
            return (f"{leg.level} billed seconds {leg.billed_seconds} (tariff \"{leg.tariff}\") are past "
                    f"{limits.UINT32_MAX}, the most rated_calls keeps (UInt32)")
    return None


def rejection(key: bytes | None, payload: bytes | None, source: Source, reason: str, detail: str) -> Output:
    """The record of cdr.rejected: reason, detail, where the CDR was read, and its bytes (cut to
    MAX_COPIED_PAYLOAD, with the size and sha256 of the whole). Never over MAX_REJECTION_BYTES."""
    return Output(False, _cut_key(key), orjson.dumps(_rejection_body(payload, source, reason, detail)), reason)


def dead_letter(key: bytes | None, payload: bytes | None, source: Source, reason: str, detail: str,
                stage: str) -> Output:
    """A message a stage cannot handle (it is the message's own fault, not the broker's nor
    ClickHouse's): the same record as a rejection, plus the stage that gave up on it."""
    body = _rejection_body(payload, source, reason, detail)
    body["stage"] = stage[:MAX_REASON_CHARS]
    return Output(False, _cut_key(key), orjson.dumps(body), body["reason"])


def _rejection_body(payload: bytes | None, source: Source, reason: str, detail: str) -> dict:
    if len(detail) > MAX_DETAIL_CHARS:
        detail = f"{detail[:MAX_DETAIL_CHARS - 60]}... (cut: {len(detail)} characters in all)"
    return {
        "reason": reason[:MAX_REASON_CHARS],
        "detail": detail,
        "topic": source.topic,
        "partition": source.partition,
        "offset": source.offset,
        **_payload_fields(payload),
    }


def _cut_key(key: bytes | None) -> bytes | None:
    return key if key is None or len(key) <= MAX_COPIED_KEY else key[:MAX_COPIED_KEY]


def _payload_fields(payload: bytes | None) -> dict:
    """The original bytes, as text when they are UTF-8 (the common case), else base64. Past
    MAX_COPIED_PAYLOAD only the start is copied, marked with `payload_truncated`, the size and the
    sha256 of the whole (such a record cannot be replayed; it says what arrived)."""
    if payload is None:
        return {"payload": "", "payload_encoding": "utf-8"}
    copied, marker = payload, {}
    if len(payload) > MAX_COPIED_PAYLOAD:
        copied = payload[:MAX_COPIED_PAYLOAD]
        marker = {"payload_truncated": True, "payload_size": len(payload),
                  "payload_sha256": hashlib.sha256(payload).hexdigest()}
    try:
        # not final when cut: a character split by the cut is dropped, not called "not text"
        text = codecs.getincrementaldecoder("utf-8")().decode(copied, final=not marker)
        return {"payload": text, "payload_encoding": "utf-8", **marker}
    except UnicodeDecodeError:
        return {"payload": base64.b64encode(copied).decode(), "payload_encoding": "base64", **marker}


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _call_to_rate(cdr: CdrIn) -> CallToRate:
    return CallToRate(
        server_id=cdr.server_id,
        call_id=cdr.call_id,
        account=cdr.account,
        dst=cdr.dst,
        start_time=cdr.start_time,
        billsec=cdr.billsec,
        answered=cdr.answered,
        provider=cdr.provider,
    )
