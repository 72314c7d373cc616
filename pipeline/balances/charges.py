"""Which accounts a rated call debits, and by how much, read from its cdr.rated record."""
from __future__ import annotations

from decimal import Decimal

from pipeline.rating.rated_call import debits

_ZERO = Decimal(0)


def charges_for(record: dict) -> list[tuple[str, Decimal]]:
    """(account, amount to debit) for a cdr.rated record; free legs debit nothing."""
    owed = debits(record["account"], record["reseller"], record["own_provider"],
                  Decimal(record["user_price"]), Decimal(record["reseller_price"]))
    return [(account, amount) for account, amount in owed if amount != _ZERO]
