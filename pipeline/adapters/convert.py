"""One switch record -> one message: a contract CDR for cdr.raw, or a rejection for cdr.rejected (pure)."""
from __future__ import annotations

import logging

import orjson

from pipeline.adapters import Adapter, AdapterError, SwitchContext
from pipeline.cdr.process import Output, Source, rejection
from pipeline.schemas.cdr import CdrIn

log = logging.getLogger(__name__)
REJECT_REASON = "adapter"


def convert_record(adapter: Adapter, context: SwitchContext, payload: bytes, source: Source,
                   key: bytes | None = None) -> Output:
    """`Output.rated` True means "a CDR for cdr.raw" here (keyed server_id/call_id like cdr.rated)."""
    try:
        result = adapter.convert(payload, context)
    except Exception as exc:  # a bug must not stop the adapter nor lose the record
        log.exception("adapter %s failed on %s", adapter.name, source)
        result = AdapterError("record", f"internal error {exc!r}")
    if isinstance(result, AdapterError):
        return rejection(key, payload, source, REJECT_REASON, f"{adapter.name}: {result}")
    call_key = CdrIn.model_construct(**result).call_key  # validated already; the key rule lives in CdrIn
    return Output(True, call_key.encode(), orjson.dumps(result))
