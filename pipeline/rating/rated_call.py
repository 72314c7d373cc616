"""What goes into the billing chain and what comes out: a call, its legs, or why it was not rated."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class CallToRate:
    server_id: str
    call_id: str
    account: str
    dst: str  # digits only
    start_time: datetime  # aware, UTC
    billsec: int
    answered: bool
    provider: str | None


class Leg(NamedTuple):
    """One level's price of the call. A tuple subclass rather than a frozen dataclass: the chain
    makes three per call and `tuple.__new__(Leg, fields)` costs a third of a frozen dataclass's
    __init__ (which routes every field through object.__setattr__); the fields read as before."""
    level: str  # "user" | "reseller" | "provider"
    tariff: str
    prefix: str  # "" when an unpriced (unanswered) call matched no rate
    billed_seconds: int
    rate: Decimal  # per minute
    price: Decimal


class DidLegs(NamedTuple):
    """The prices of a call to a DID (docs/domain.md "DIDs"); each may be negative (paid by the admin)."""
    number: str
    owner: str  # "" for an unassigned DID
    incoming_price: Decimal  # paid by the caller when he is one of ours
    owner_price: Decimal  # paid by the owner (0 when he dialled his own DID, or no owner)
    reseller_owner_price: Decimal  # paid to the admin by the owner's reseller (0 if none)
    provider_price: Decimal  # paid by the delivering provider to the admin


class RatedCall(NamedTuple):
    """The call priced at every level (a tuple subclass for the same reason as Leg)."""
    call: CallToRate
    user: Leg
    reseller: Leg | None  # None for a direct user and for a reseller PRO's own provider
    provider: Leg | None  # None when the CDR names no provider
    reseller_id: str  # "" for a direct user
    own_provider: bool  # a reseller PRO's own provider: admin not in the call, reseller balance untouched
    reseller_profit: Decimal
    admin_profit: Decimal
    currency: str
    loss: bool
    did: DidLegs | None = None  # a call to a DID (pipeline/rating/did.py): its parties' prices

    def charges(self) -> tuple[tuple[str, Decimal], ...]:
        """(account id, amount to debit), in one step: the user pays his price and his reseller pays
        the reseller price, except on the reseller's own provider, which he pays outside the
        installation. Zero amounts are kept so every rated call debits the same accounts."""
        if self.did is not None:
            did = self.did
            return did_debits(self.call.account, did.owner, self.reseller_id, did.incoming_price, did.owner_price,
                              did.reseller_owner_price)
        reseller_price = ZERO if self.reseller is None else self.reseller.price
        return debits(self.call.account, self.reseller_id, self.own_provider, self.user.price, reseller_price)

    @property
    def provider_price(self) -> Decimal:
        return ZERO if self.provider is None else self.provider.price


ZERO = Decimal(0)


def debits(account: str, reseller: str, own_provider: bool, user_price: Decimal,
           reseller_price: Decimal) -> tuple[tuple[str, Decimal], ...]:
    """Who pays what for one call (docs/domain.md "Balances"), the one place this rule lives: the user
    his user price and, in the same step, his reseller the reseller price; a direct user only
    himself; a reseller PRO's call through his own provider leaves his balance untouched."""
    if not reseller or own_provider:
        return ((account, user_price),)
    return ((account, user_price), (reseller, reseller_price))


def did_debits(caller: str, owner: str, owner_reseller: str, incoming_price: Decimal, owner_price: Decimal,
               reseller_owner_price: Decimal) -> tuple[tuple[str, Decimal], ...]:
    """Who pays what for a call to a DID (docs/domain.md "DIDs"), the sibling of `debits`: a local caller
    his incoming price; the owner his owner price and, in the same step, the reseller above him what
    he pays the admin. A negative amount is a credit. One entry per account: the balance stage
    applies one debit per account and call (a reseller that both calls and resells the DID pays
    both in one)."""
    legs = [(caller, incoming_price), (owner, owner_price)]
    if owner_reseller != owner:  # a reseller who holds the DID himself is its owner: one leg
        legs.append((owner_reseller, reseller_owner_price))
    owed: dict[str, Decimal] = {}
    for account, amount in legs:
        if account:  # an outside caller, an unassigned DID, a direct owner: nobody of ours pays
            owed[account] = owed.get(account, ZERO) + amount
    return tuple(owed.items())


@dataclass(frozen=True, slots=True)
class NotRated:
    """Why a call could not be priced; it goes to cdr.rejected and can be replayed later."""
    reason: str  # unknown_account, broken_chain, no_tariff, unknown_tariff, unknown_provider,
    #              currency_mismatch, no_rate, unknown_did
    detail: str
    level: str | None = None
    tariff: str | None = None


# Hot-path constructors: one C call each, no Python frame (the chain inlines the same calls).
_tuple_new = tuple.__new__


def new_rated_call(call: CallToRate, user: Leg, reseller: Leg | None, provider: Leg | None, reseller_id: str,
                   own_provider: bool, reseller_profit: Decimal, admin_profit: Decimal, currency: str,
                   loss: bool, did: DidLegs | None = None) -> RatedCall:
    return _tuple_new(RatedCall, (call, user, reseller, provider, reseller_id, own_provider, reseller_profit,
                                  admin_profit, currency, loss, did))
