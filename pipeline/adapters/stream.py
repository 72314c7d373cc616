"""How records become results: one at a time (most switches), or through a stream that keeps what
a result needs from several records (Kamailio's transactions: an INVITE waits for its BYE).

A stream's `feed` takes one switch record and returns the results it completes: none (the record
is held, e.g. an INVITE), one, or several (a record that completes a held one and gives up an
expired one). A stateful stream's `state()` is saved with the input's position, after the broker
acknowledged the batch, so a restart neither loses a held record nor reads one twice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.adapters.common import AdapterError, Skipped, SwitchContext
from pipeline.cdr.process import Source

if TYPE_CHECKING:
    from pipeline.adapters import Adapter

log = logging.getLogger(__name__)
Result = dict | AdapterError | Skipped


@dataclass(frozen=True, slots=True)
class Converted:
    """A result with the switch record it came from (a rejection shows that record and its place)."""

    result: Result
    payload: bytes
    source: Source


class RecordStream:
    """Each record converts on its own; nothing is held between records."""

    stateful = False

    def __init__(self, adapter: Adapter, context: SwitchContext) -> None:
        self.adapter = adapter
        self.context = context

    def feed(self, payload: bytes, source: Source) -> list[Converted]:
        return [Converted(guarded(self.adapter.name, self.adapter.convert, payload, self.context, source),
                          payload, source)]

    def open_calls(self) -> int:
        """Records held for a later one (a call still in progress)."""
        return 0

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        pass


def guarded(name: str, convert, payload, context: SwitchContext, source: Source) -> Result:
    """A bug must not stop the adapter nor lose the record: it becomes a rejection that says so."""
    try:
        return convert(payload, context)
    except Exception as exc:
        log.exception("adapter %s failed on %s", name, source)
        return AdapterError("record", f"internal error {exc!r}")
