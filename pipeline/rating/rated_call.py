"""What goes into the billing chain and what comes out: a call, its legs, or why it was not rated."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


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


@dataclass(frozen=True, slots=True)
class Leg:
    """One level's price of the call."""
    level: str  # "user" | "reseller" | "provider"
    tariff: str
    prefix: str  # "" when an unpriced (unanswered) call matched no rate
    billed_seconds: int
    rate: Decimal  # per minute
    price: Decimal


@dataclass(frozen=True, slots=True)
class RatedCall:
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

    def charges(self) -> tuple[tuple[str, Decimal], ...]:
        """(account id, amount to debit), in one step: the user pays his price and his reseller pays
        the reseller price, except on the reseller's own provider, which he pays outside the
        installation. Zero amounts are kept so every rated call debits the same accounts."""
        if self.reseller is None:
            return ((self.call.account, self.user.price),)
        return ((self.call.account, self.user.price), (self.reseller_id, self.reseller.price))

    @property
    def provider_price(self) -> Decimal:
        return ZERO if self.provider is None else self.provider.price


ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class NotRated:
    """Why a call could not be priced; it goes to cdr.rejected and can be replayed later."""
    reason: str  # unknown_account, broken_chain, no_tariff, unknown_tariff, unknown_provider,
    #              currency_mismatch, no_rate
    detail: str
    level: str | None = None
    tariff: str | None = None


# Hot-path constructors. A frozen dataclass's __init__ routes every field through
# object.__setattr__ (~1.3 us for a Leg, three Legs and a RatedCall per call); setting the slots
# through their descriptors makes the same objects in less than half that. Field order is the
# dataclass's; a test compares the results with the regular constructors.
_new = object.__new__
_leg_slots = tuple(Leg.__dict__[name].__set__ for name in Leg.__slots__)
_rated_slots = tuple(RatedCall.__dict__[name].__set__ for name in RatedCall.__slots__)


def new_leg(level: str, tariff: str, prefix: str, billed_seconds: int, rate: Decimal, price: Decimal,
            _s=_leg_slots) -> Leg:
    leg = _new(Leg)
    _s[0](leg, level); _s[1](leg, tariff); _s[2](leg, prefix)  # noqa: E702
    _s[3](leg, billed_seconds); _s[4](leg, rate); _s[5](leg, price)  # noqa: E702
    return leg


def new_rated_call(call: CallToRate, user: Leg, reseller: Leg | None, provider: Leg | None, reseller_id: str,
                   own_provider: bool, reseller_profit: Decimal, admin_profit: Decimal, currency: str,
                   loss: bool, _s=_rated_slots) -> RatedCall:
    rated = _new(RatedCall)
    _s[0](rated, call); _s[1](rated, user); _s[2](rated, reseller); _s[3](rated, provider)  # noqa: E702
    _s[4](rated, reseller_id); _s[5](rated, own_provider); _s[6](rated, reseller_profit)  # noqa: E702
    _s[7](rated, admin_profit); _s[8](rated, currency); _s[9](rated, loss)  # noqa: E702
    return rated
