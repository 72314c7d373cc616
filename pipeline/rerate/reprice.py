"""One stored call priced again from its stored fields with the book as it is now (pure).

The stored row is turned back into the CDR it came from (the fields rated_calls keeps of it, its
unknown fields from `extra`) and priced by the same function the rate stage uses
(cdr.process.rate_cdr); who pays what, before and after, by the same function the charge stage
uses (balances.charges.owed_by). The difference per account is what moves the balance.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

import orjson

from pipeline.balances.charges import owed_by
from pipeline.cdr.process import out_of_range, rate_cdr
from pipeline.cdr.rated_record import rated_record
from pipeline.rating.rated_call import NotRated
from pipeline.schemas.cdr import CdrIn, call_key

ZERO = Decimal(0)
# what makes two ratings of a call different: a changed one gets a new version
PRICED_FIELDS = ("reseller", "own_provider", "user_tariff", "user_prefix", "user_price", "reseller_tariff",
                 "reseller_prefix", "reseller_price", "provider_tariff", "provider_prefix", "provider_price",
                 "reseller_profit", "admin_profit", "currency", "loss", "did_owner", "did_incoming_price",
                 "did_owner_price", "did_reseller_owner_price", "did_provider_price")
MONEY_FIELDS = frozenset({"user_price", "reseller_price", "provider_price", "reseller_profit", "admin_profit",
                          "did_incoming_price", "did_owner_price", "did_reseller_owner_price", "did_provider_price"})


@dataclass(frozen=True)
class Repriced:
    key: str  # the call's key on cdr.rated (server_id/call_id, /segment for a segment)
    old_owed: dict[str, Decimal]  # account -> what it was charged for the call
    new_owed: dict[str, Decimal]  # account -> what it owes with today's prices
    record: dict | None  # the new cdr.rated record, None when nothing changed

    @property
    def differences(self) -> dict[str, Decimal]:
        """account -> what to debit now (new - old); zero differences left out."""
        out = {}
        for account in {**self.old_owed, **self.new_owed}:
            amount = self.new_owed.get(account, ZERO) - self.old_owed.get(account, ZERO)
            if amount != ZERO:
                out[account] = amount
        return out


@dataclass(frozen=True)
class NotRepriced:
    key: str
    reason: str
    detail: str


def stored_cdr(row: dict) -> CdrIn:
    """The CDR a rated_calls row was priced from."""
    extra = orjson.loads(row.get("extra") or "{}")
    fields = {
        **(extra if isinstance(extra, dict) else {}),
        "call_id": row["call_id"], "server_id": row["server_id"], "account": row["account"], "dst": row["dst"],
        "start_time": _aware(row["start_time"]), "billsec": row["billsec"], "src": row.get("src") or "",
        "disposition": row["disposition"], "provider": row.get("provider") or None, "did": row.get("did") or None,
        "segment": row.get("segment") or None,
    }
    return CdrIn.model_validate(fields)


def reprice(row: dict, book, rated_at: datetime, rerate_id: str) -> Repriced | NotRepriced:
    """`row`: a rated_calls row (scope.SELECTED) as a dict."""
    key = call_key(row["server_id"], row["call_id"], row.get("segment") or None)
    try:
        cdr = stored_cdr(row)
    except ValueError as exc:  # pydantic's ValidationError too: a row no CDR could have made
        return NotRepriced(key, "schema", str(exc)[:500])
    result = rate_cdr(cdr, book)
    if isinstance(result, NotRated):
        return NotRepriced(key, result.reason, result.detail)
    problem = out_of_range(result)
    if problem is not None:
        return NotRepriced(key, "out_of_range", problem)
    record = rated_record(result, cdr, rated_at, version=int(row.get("rating_version") or 1) + 1,
                          rerate_id=rerate_id)
    old_owed, new_owed = dict(owed_by(_as_record(row))), dict(owed_by(record))
    return Repriced(key, old_owed, new_owed, record if changed(row, record) else None)


def changed(row: dict, record: dict) -> bool:
    for name in PRICED_FIELDS:
        old, new = row.get(name), record[name]
        if name in MONEY_FIELDS:
            if Decimal(old if old is not None else 0) != Decimal(new):
                return True
        elif (bool(old) if isinstance(new, bool) else (old or "")) != new:
            return True
    return False


def _as_record(row: dict) -> dict:
    """A row read back as the record charges.owed_by reads (flags as booleans)."""
    return {**row, "own_provider": bool(row.get("own_provider"))}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
