"""One switch record -> one message: a contract CDR for cdr.raw, or a rejection for cdr.rejected (pure).

A record an adapter understood and deliberately does not bill (Skipped: a B leg, a SIP transaction
that is not a call) gives no message; the runner counts it under its reason.
"""
from __future__ import annotations

import orjson

from pipeline.adapters import Adapter, SwitchContext
from pipeline.adapters.common import AdapterError, Skipped
from pipeline.adapters.stream import Converted, RecordStream
from pipeline.cdr.process import Output, Source, rejection
from pipeline.schemas.cdr import CdrIn

REJECT_REASON = "adapter"


def convert_record(adapter: Adapter, context: SwitchContext, payload: bytes, source: Source,
                   key: bytes | None = None) -> Output | Skipped:
    """`Output.rated` True means "a CDR for cdr.raw" here (keyed like cdr.rated: server_id/call_id,
    and /segment for one record of a call written in several)."""
    converted = RecordStream(adapter, context).feed(payload, source)[0]
    return output_of(adapter.name, converted, key)


def output_of(adapter_name: str, converted: Converted, key: bytes | None = None) -> Output | Skipped:
    result = converted.result
    if isinstance(result, Skipped):
        return result
    if isinstance(result, AdapterError):
        return rejection(key, converted.payload, converted.source, REJECT_REASON, f"{adapter_name}: {result}")
    call_key = CdrIn.model_construct(**result).call_key  # validated already; the key rule lives in CdrIn
    return Output(True, call_key.encode(), orjson.dumps(result))
