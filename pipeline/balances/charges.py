"""Which accounts a rated call debits, and by how much (DOMAIN.md "Balances")."""
from __future__ import annotations

from decimal import Decimal

_ZERO = Decimal(0)


def charges_for(record: dict) -> list[tuple[str, Decimal]]:
    """(account, amount to debit) for a cdr.rated record; free legs debit nothing.

    The user pays his user price and his reseller pays the reseller price in the same step; a
    reseller PRO's call through his own provider does not touch his balance with the admin.
    """
    charges = []
    user_price = Decimal(record["user_price"])
    if user_price != _ZERO:
        charges.append((record["account"], user_price))
    if record["reseller"] and not record["own_provider"]:
        reseller_price = Decimal(record["reseller_price"])
        if reseller_price != _ZERO:
            charges.append((record["reseller"], reseller_price))
    return charges
