"""Turning the bytes a switch wrote into a validated CdrIn, or a reason why not."""
from __future__ import annotations

from pydantic import ValidationError

from pipeline.schemas import avro
from pipeline.schemas.cdr import CdrIn
from pipeline.schemas.validation_errors import MAX_ECHO_CHARS, cut, describe_validation_error


class CdrError(Exception):
    """A CDR that cannot be read; `reason` is the machine-readable code of cdr.rejected."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# the first byte of any JSON text but an object; a JSON object starts with "{", which no Avro
# CDR can: its first field is a string whose zigzag length byte is never 0x7b
_JSON_STARTS = frozenset(b'["-0123456789tfn')


def decode_cdr(payload: bytes | None) -> CdrIn:
    if not payload:
        raise CdrError("empty", "the message has no value")
    first = payload.lstrip()[:1]
    if first == b"{":
        return _from_json(payload)
    try:  # Avro wins when it reads the bytes exactly: a CDR whose call_id has 17 characters
        return _from_avro(payload)  # starts with the byte '"' in Avro
    except CdrError:
        if first and first[0] in _JSON_STARTS:
            return _from_json(payload)  # JSON that is not an object: say so, not "bad Avro"
        raise


def _from_json(payload: bytes) -> CdrIn:
    # one pass in pydantic's Rust core (JSON parse + validation): the hot path's biggest saving
    try:
        return CdrIn.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "json_invalid":
            raise CdrError("bad_json", f"not valid JSON: {cut(first['msg'], 4 * MAX_ECHO_CHARS)}") from None
        if first["type"] == "model_type" and not first["loc"]:
            got = type(first["input"]).__name__
            raise CdrError("not_an_object", f"a CDR is a JSON object, got {got}") from None
        raise CdrError("schema", describe_validation_error(exc)) from None


def _from_avro(payload: bytes) -> CdrIn:
    try:
        obj = avro.decode_framed("cdr.v1", payload, exact=True)
    except Exception as exc:  # fastavro raises many types for garbage input
        why = cut(repr(exc), 4 * MAX_ECHO_CHARS)
        raise CdrError("bad_avro", f"neither JSON nor Avro of cdr.v1.avsc: {why}") from None
    return _validate({k: v for k, v in obj.items() if v is not None})


def _validate(obj: dict) -> CdrIn:
    try:
        return CdrIn.model_validate(obj)
    except ValidationError as exc:
        raise CdrError("schema", describe_validation_error(exc)) from None
