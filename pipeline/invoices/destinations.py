"""Destination names for invoice lines: each tariff's prefix -> the name its rates give (pure).

A rate may carry `destination` ("Italy mobile"). An invoice line groups the calls of one matched
prefix, priced by the invoiced account's own tariff, so the name comes from that tariff. Read from
the raw ref.tariffs values (orjson, no pydantic): a tariff of 100,000 rates costs milliseconds here
rather than the second its validation would.
"""
from __future__ import annotations

from collections.abc import Iterable

import orjson


def names_of_tariff(value: bytes) -> dict[str, str]:
    """prefix -> name from one ref.tariffs value; of several versions of a prefix, the newest
    (by effective_from) that names it. A value that is not a tariff with rates gives {}."""
    try:
        tariff = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}
    rates = tariff.get("rates") if isinstance(tariff, dict) else None
    if not isinstance(rates, list):
        return {}
    named = [rate for rate in rates if isinstance(rate, dict) and isinstance(rate.get("destination"), str)
             and rate["destination"].strip() and isinstance(rate.get("prefix"), str)]
    # ISO-8601 instants as the records store them (all UTC, one format) sort by time as text
    named.sort(key=lambda rate: str(rate.get("effective_from") or ""))
    return {rate["prefix"]: rate["destination"].strip() for rate in named}


def destination_names(messages: Iterable[tuple[bytes | None, bytes | None]]) -> dict[str, dict[str, str]]:
    """tariff id -> (prefix -> name), from the topic's (key, value) messages in order; a tombstone
    (empty value) forgets the tariff."""
    names: dict[str, dict[str, str]] = {}
    for key, value in messages:
        tariff_id = (key or b"").decode(errors="replace")
        if not value:
            names.pop(tariff_id, None)
            continue
        found = names_of_tariff(value)
        if found:
            names[tariff_id] = found
        else:
            names.pop(tariff_id, None)
    return names
