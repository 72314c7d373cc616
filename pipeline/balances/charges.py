"""Which accounts a rated call debits, and by how much, read from its cdr.rated record."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.rating.rated_call import debits, did_debits

_ZERO = Decimal(0)


def charges_for(record: dict[str, Any]) -> list[tuple[str, Decimal]]:
    """(account, amount to debit) for a cdr.rated record; free legs debit nothing, a negative
    amount is a credit (a DID rate the admin pays). Rules: pipeline/rating/rated_call.py."""
    return [(account, amount) for account, amount in owed_by(record) if amount != _ZERO]


def owed_by(record: dict[str, Any]) -> tuple[tuple[str, Decimal], ...]:
    """Every account the call involves with what it owes, zeros kept (re-rating compares two
    ratings of one call account by account)."""
    if is_did_call(record):
        return did_debits(record["account"], record["did_owner"], record["reseller"],
                          Decimal(record["did_incoming_price"]), Decimal(record["did_owner_price"]),
                          Decimal(record["did_reseller_owner_price"]))
    return debits(record["account"], record["reseller"], record["own_provider"],
                  Decimal(record["user_price"]), Decimal(record["reseller_price"]))


def is_did_call(record: dict[str, Any]) -> bool:
    """Priced by a DID's rates (pipeline/rating/did.py): it names the DID and has no user tariff.
    Every call priced by a chain has one; a call with `did` rated before DID pricing existed was
    priced by its caller's chain and keeps being read that way (whatever the wire format's
    defaults put into its DID prices)."""
    return bool(record.get("did")) and not record.get("user_tariff")
