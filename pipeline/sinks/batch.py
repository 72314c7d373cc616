"""A batch of cdr.rated payloads -> rows to insert, and the payloads that could not be rows.

Errors are data (bytewax's habit): the sink stage decides to log and count them, tests inspect them.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from pipeline.schemas import wire
from pipeline.sinks.rows import last_rating_per_call, row_from_record

SCHEMA = "rated_call.v1"


@dataclass(frozen=True)
class Refused:
    position: Hashable  # where the payload came from, e.g. (topic, partition, offset)
    error: str


def rows_from_payloads(payloads: Iterable[tuple[Hashable, bytes]]) -> tuple[list[tuple], list[Refused]]:
    rows, refused = [], []
    for position, payload in payloads:
        try:
            # JSON timestamps stay epoch ms, which is what the row wants
            rows.append(row_from_record(wire.decode(SCHEMA, payload, datetimes=False)))
        except Exception as exc:  # noqa: BLE001 - fastavro raises many types for a bad body
            refused.append(Refused(position, f"{type(exc).__name__}: {exc}"))
    return last_rating_per_call(rows), refused
