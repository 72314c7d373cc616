"""One CDR from cdr.raw -> exactly one record for cdr.rated or for cdr.rejected (pure)."""
from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import datetime

import orjson

from pipeline.cdr.decode import CdrError, decode_cdr
from pipeline.cdr.rated_record import rated_record
from pipeline.rating.chain import CallToRate, NotRated, rate_call
from pipeline.schemas import wire
from pipeline.schemas.cdr import CdrIn

log = logging.getLogger(__name__)

# Every reason a CDR can be rejected with; documented in the README and CONTRACT additions.
REJECT_REASONS = (
    "empty", "bad_json", "bad_avro", "not_an_object", "schema",
    "unknown_account", "no_tariff", "unknown_tariff", "no_rate", "unknown_provider",
    "broken_chain", "currency_mismatch", "internal_error",
)


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
                wire_format: str = "json") -> Output:
    try:
        cdr = decode_cdr(payload)
        result = rate_call(_call_to_rate(cdr), book)
        if isinstance(result, NotRated):
            raise CdrError(result.reason, result.detail)
        record = rated_record(result, cdr, rated_at)
        return Output(True, cdr.call_key.encode(), wire.encode("rated_call.v1", record, wire_format))
    except CdrError as exc:
        return rejection(key, payload, source, exc.reason, exc.detail)
    except Exception as exc:  # a bug must not stop the worker nor lose the CDR
        log.exception("cannot process CDR at %s", source)
        return rejection(key, payload, source, "internal_error", repr(exc))


def rejection(key: bytes | None, payload: bytes | None, source: Source, reason: str, detail: str) -> Output:
    body = {
        "reason": reason,
        "detail": detail,
        "topic": source.topic,
        "partition": source.partition,
        "offset": source.offset,
        **_payload_fields(payload),
    }
    return Output(False, key, orjson.dumps(body), reason)


def _payload_fields(payload: bytes | None) -> dict[str, str]:
    """The original bytes, as text when they are UTF-8 (the common case), else base64."""
    if payload is None:
        return {"payload": "", "payload_encoding": "utf-8"}
    try:
        return {"payload": payload.decode("utf-8"), "payload_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"payload": base64.b64encode(payload).decode(), "payload_encoding": "base64"}


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
