"""A call to a DID priced for each of its parties (docs/domain.md "DIDs"), with the pricing engine's own
billed-seconds rule and rounding (pricing.py), at 6 decimals half-up, the tariff defaults.

- incoming: the DID's `rates.incoming`, paid by the caller when he is one of ours (the CDR names an
  account); an outside caller (empty account) pays nothing here.
- owner: paid by whoever holds the DID, up his chain like an outgoing call: a user of a reseller pays
  the reseller's `owner_rate` (the admin's `rates.owner` when the reseller set none) and the reseller
  pays the admin `rates.owner`; a reseller holding the DID himself, or a direct user, pays the admin
  `rates.owner`. Nothing when the owner dialled his own DID, and no leg for an unassigned DID.
- provider: `rates.provider`, paid to the admin by the carrier that delivered the call.
Profits: admin = incoming + what reached him of the owner leg + provider; the reseller in the owner's
chain = what his user paid him - what he paid the admin. Every price may be negative (paid by the
admin to that party); who pays what is rated_call.did_debits.
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from pipeline.rating.chain_plan import RatingBook
from pipeline.rating.compiled_rate import ROUNDING_CODES, tiered_money_units
from pipeline.rating.pricing import ZERO_PRICE, charge
from pipeline.rating.rated_call import ZERO, CallToRate, DidLegs, Leg, NotRated, RatedCall, new_rated_call
from pipeline.rating.tiers import Step
from pipeline.schemas.reference import AccountIn, DidIn, DidRate

DID_DECIMALS = 6  # a DID's rates have no tariff around them: the tariff defaults
DID_ROUNDING = ROUNDING_CODES["half_up"]
DEFAULT_CURRENCY = "EUR"  # the contract's tariff default, for a call where nobody of ours has a tariff
NO_PRICE = ZERO_PRICE[DID_DECIMALS]


class _Units(NamedTuple):
    """What pricing.charge reads of a rate."""
    increment: int
    min_time: int
    grace_time: int
    rate_units: int
    fee_units: int
    denominator: int
    tiers: tuple[Step, ...] | None


@lru_cache(maxsize=4096)
def _units(rate: DidRate) -> _Units:
    return _Units(rate.increment, rate.min_time, rate.grace_time,
                  *tiered_money_units(rate.rate, rate.connection_fee, rate.increment, rate.tiers))


def did_price(rate: DidRate, billsec: int) -> Decimal:
    """One party's price for `billsec` answered seconds (0 for an unanswered call)."""
    return charge(_units(rate), billsec, DID_DECIMALS, DID_ROUNDING)[1]


class OwnerChain(NamedTuple):
    owner: str  # "" for an unassigned DID
    reseller: str  # the reseller above the owner, or the owner if he is a reseller; "" for a direct user
    owner_rate: DidRate | None  # what the owner pays (None: no owner leg)
    reseller_rate: DidRate | None  # what the reseller above a user pays the admin (None: no such reseller)
    reseller_allows_loss: bool


def owner_chain(did: DidIn, book: RatingBook) -> OwnerChain | NotRated:
    """Who pays for receiving calls on the DID, and at which rate."""
    owner_id = did.owner
    if owner_id is None:
        return OwnerChain("", "", None, None, False)
    owner = book.account(owner_id)
    if owner is None:
        return NotRated("unknown_account", f'owner "{owner_id}" of DID "{did.number}" is not in the reference data')
    if owner.type == "reseller":
        return OwnerChain(owner.id, owner.id, did.rates.owner, None, owner.allow_loss_calls)
    reseller = next((a for a in book.ancestors(owner.id) if a.type == "reseller"), None)
    if reseller is None or owner.type == "admin":
        return OwnerChain(owner.id, "", did.rates.owner, None, False)
    # only the DID's own reseller sets owner_rate (ownership.py); any other reseller above the
    # user passes the admin's rate on
    own_rate = did.owner_rate if did.owner_rate is not None and did.reseller == reseller.id else None
    return OwnerChain(owner.id, reseller.id, own_rate or did.rates.owner, did.rates.owner, reseller.allow_loss_calls)


def rate_did_call(call: CallToRate, number: str, book: RatingBook) -> RatedCall | NotRated:
    did = book.did(number)
    if did is None:
        return NotRated("unknown_did", f'DID "{number}" is not in the reference data')
    caller = book.account(call.account) if call.account else None
    if call.account and caller is None:
        return NotRated("unknown_account", f'account "{call.account}" calling DID "{number}" is not in the '
                        "reference data")
    if call.provider is not None and book.provider(call.provider) is None:
        return NotRated("unknown_provider", f'provider "{call.provider}" that delivered the call to DID "{number}" '
                        "is not in the reference data", "provider")
    chain = owner_chain(did, book)
    if isinstance(chain, NotRated):
        return chain
    billsec = call.billsec if call.answered and call.billsec > 0 else 0
    incoming = did_price(did.rates.incoming, billsec) if call.account else NO_PRICE
    provider = did_price(did.rates.provider, billsec) if call.provider is not None else NO_PRICE
    owner_price = reseller_price = NO_PRICE
    if chain.owner and call.account != chain.owner:  # the owner dialling his own DID pays no owner price
        assert chain.owner_rate is not None  # owner_chain gives an owner his rate
        owner_price = did_price(chain.owner_rate, billsec)
        if chain.reseller_rate is not None:
            reseller_price = did_price(chain.reseller_rate, billsec)
    if chain.reseller_rate is not None:  # a user of a reseller: the reseller keeps the margin
        to_admin, reseller_profit = reseller_price, owner_price - reseller_price
    elif chain.reseller:  # the reseller holds the DID: what he pays the admin is his cost
        to_admin, reseller_profit = owner_price, ZERO - owner_price
    else:
        to_admin, reseller_profit = owner_price, ZERO
    loss = reseller_price > owner_price and not chain.reseller_allows_loss
    free_leg = Leg("user", "", "", 0, ZERO, NO_PRICE)
    return new_rated_call(call, free_leg, None, None, chain.reseller, False, reseller_profit + NO_PRICE,
                          incoming + to_admin + provider, _currency(book, caller, chain.owner), loss,
                          DidLegs(did.number, chain.owner, incoming, owner_price, reseller_price, provider))


def _currency(book: RatingBook, caller: AccountIn | None, owner_id: str) -> str:
    """The caller's tariff currency, else the owner's, else the contract default."""
    for account in (caller, book.account(owner_id) if owner_id else None):
        tariff = None if account is None or account.tariff is None else book.tariff(account.tariff)
        if tariff is not None:
            return tariff.currency
    return DEFAULT_CURRENCY


__all__ = ["OwnerChain", "did_price", "owner_chain", "rate_did_call"]
