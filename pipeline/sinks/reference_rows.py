"""ref.* messages (docs/contract.md "Reference data") -> rows of the mirror tables.

Pure, like rows.py. `version` is the message's offset (one partition per ref topic, so it orders
every change of a key) and an empty value is a delete, stored as a tombstone row.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import orjson

from pipeline.kafka.topics import REF_ACCOUNTS, REF_PROVIDERS, REF_TARIFFS
from pipeline.sinks.rows import MONEY_PLACES, RowError, _decimal

ADMIN = "admin"

ACCOUNT_COLUMNS = ("id", "name", "type", "parent", "reseller", "tariff", "billing", "credit_limit",
                   "server", "pro", "allow_loss_calls", "blocked", "deleted", "updated_at", "version")
TARIFF_COLUMNS = ("id", "owner", "currency", "timezone", "decimals", "rounding", "rates", "rates_csv",
                  "deleted", "updated_at", "version")
PROVIDER_COLUMNS = ("id", "name", "owner", "tariff", "deleted", "updated_at", "version")


def account_fields(value: dict[str, Any]) -> tuple:
    account_type = _text(value.get("type"))
    parent = _text(value.get("parent")) or (ADMIN if account_type in ("reseller", "user") else "")
    # the reseller whose world the account is in: what reseller-scoped queries filter on
    if account_type == "reseller":
        reseller = _text(value.get("id"))
    elif account_type == "user" and parent != ADMIN:
        reseller = parent
    else:
        reseller = ""
    credit_limit = value.get("credit_limit")
    if credit_limit is not None:
        credit_limit = _decimal("credit_limit", credit_limit, MONEY_PLACES)
    return (
        _text(value.get("name")), account_type, parent, reseller, _text(value.get("tariff")),
        _text(value.get("billing")) or "prepaid", credit_limit, _text(value.get("server")),
        int(bool(value.get("pro"))), int(bool(value.get("allow_loss_calls"))),
        int(bool(value.get("blocked"))),
    )


def tariff_fields(value: dict[str, Any]) -> tuple:
    rates = value.get("rates")
    decimals = value.get("decimals", 6)
    if not isinstance(decimals, int) or not 0 <= decimals <= 255:
        raise RowError(f"decimals: {decimals!r} is not a UInt8")
    return (
        _text(value.get("owner")) or ADMIN, _text(value.get("currency")) or "EUR",
        _text(value.get("timezone")) or "UTC", decimals, _text(value.get("rounding")) or "half_up",
        len(rates) if isinstance(rates, list) else 0, _text(value.get("rates_csv")),
    )


def provider_fields(value: dict[str, Any]) -> tuple:
    return (_text(value.get("name")), _text(value.get("owner")) or ADMIN, _text(value.get("tariff")))


MIRRORS: dict[str, tuple[str, tuple[str, ...], Callable[[dict], tuple]]] = {
    # topic -> (table, columns, fields of a live record between id and the trailer)
    REF_ACCOUNTS: ("accounts", ACCOUNT_COLUMNS, account_fields),
    REF_TARIFFS: ("tariffs", TARIFF_COLUMNS, tariff_fields),
    REF_PROVIDERS: ("providers", PROVIDER_COLUMNS, provider_fields),
}


def mirror_row(topic: str, key: bytes | None, value: bytes | None, offset: int, timestamp: float) -> tuple:
    """One row of the topic's mirror table; raises RowError (or a JSON error) for a bad message."""
    fields = MIRRORS[topic][2]
    updated_at = datetime.fromtimestamp(int(timestamp), tz=timezone.utc)
    if not value:  # a tombstone: the key is the id
        if not key:
            raise RowError("a delete without a key")
        # the fields of an empty record: each of the right type, so the insert cannot fail on them
        return (key.decode(), *fields({}), 1, updated_at, offset)
    record = orjson.loads(value)
    if not isinstance(record, dict):
        raise RowError("a reference value must be a JSON object")
    record_id = _text(record.get("id")) or (key.decode() if key else "")
    if not record_id:
        raise RowError("id: missing")
    return (record_id, *fields(record), 0, updated_at, offset)


def _text(value: Any) -> str:
    return "" if value is None else str(value)
