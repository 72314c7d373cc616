"""The billing chain: one call priced at every level at once, with both profits and the loss flag.

DOMAIN.md "The billing chain". Every level prices the same call (same number, same start, same
billsec) with its own tariff; profits are differences of the already rounded prices. With no
provider on the CDR the provider leg is None and costs 0, so the admin profit is then the whole
reseller price (the whole user price for a direct user): the admin's cost is simply not known.
A provider owned by a reseller PRO other than the caller's is treated as an admin-level cost.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.rating import rules
from pipeline.rating.pricing import ZERO_PRICE, charge
from pipeline.rating.rated_call import ZERO, CallToRate, Leg, NotRated, RatedCall, new_leg, new_rated_call
from pipeline.rating.tariff_index import TariffIndex

if TYPE_CHECKING:
    from pipeline.rating.book import ReferenceBook

__all__ = ["CallToRate", "Leg", "NotRated", "RatedCall", "rate_call"]


def rate_call(call: CallToRate, book: ReferenceBook) -> RatedCall | NotRated:
    plan = book.chain_plan(call.account)
    if plan.__class__ is NotRated:
        return plan
    provider_plan = None
    if call.provider is not None:
        provider_plan = book.provider_plan(call.provider)
        if provider_plan.__class__ is NotRated:
            return provider_plan
        if provider_plan.index.currency != plan.user_index.currency:
            return NotRated("currency_mismatch", f'provider tariff "{provider_plan.index.tariff_id}" is in '
                            f"{provider_plan.index.currency}, the user's in {plan.user_index.currency}",
                            "provider", provider_plan.index.tariff_id)
    epoch = rules.epoch_seconds(call.start_time)
    billsec = call.billsec if call.answered and call.billsec > 0 else 0
    holiday_days = book.holiday_days

    user = _price_level(call, "user", plan.user_index, epoch, billsec, holiday_days, call.account)
    if user.__class__ is NotRated:
        return user
    reseller_account = plan.reseller
    own_provider = (provider_plan is not None and reseller_account is not None
                    and provider_plan.provider.owner == reseller_account.id)
    reseller = None
    if reseller_account is not None and not own_provider:
        reseller = _price_level(call, "reseller", plan.reseller_index, epoch, billsec, holiday_days,
                                reseller_account.id)
        if reseller.__class__ is NotRated:
            return reseller
    provider = None
    if provider_plan is not None:
        provider = _price_level(call, "provider", provider_plan.index, epoch, billsec, holiday_days, call.provider)
        if provider.__class__ is NotRated:
            return provider

    provider_price = ZERO if provider is None else provider.price
    if own_provider:
        reseller_profit, admin_profit = user.price - provider_price, ZERO
        loss = provider_price > user.price and not reseller_account.allow_loss_calls
    elif reseller is not None:
        reseller_profit, admin_profit = user.price - reseller.price, reseller.price - provider_price
        loss = ((reseller.price > user.price and not reseller_account.allow_loss_calls)
                or (provider_price > reseller.price and not plan.admin_allows_loss))
    else:
        reseller_profit, admin_profit = ZERO, user.price - provider_price
        loss = provider_price > user.price and not plan.admin_allows_loss
    return new_rated_call(call, user, reseller, provider, "" if reseller_account is None else reseller_account.id,
                     own_provider, reseller_profit, admin_profit, plan.user_index.currency, loss)


def _price_level(call: CallToRate, level: str, index: TariffIndex, epoch: int, billsec: int,
                 holiday_days: frozenset[int], payer: str) -> Leg | NotRated:
    found = index.lookup_at(call.dst, epoch, holiday_days)
    if found is None:
        if billsec == 0:  # an unpriced call is stored with price 0 whether or not a rate exists
            return new_leg(level, index.tariff_id, "", 0, ZERO, ZERO_PRICE[index.decimals])
        when = call.start_time.astimezone(rules.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return NotRated("no_rate", f'no rate for dst {call.dst} at {when} in tariff "{index.tariff_id}" '
                        f"(level {level}, {'provider' if level == 'provider' else 'account'} {payer})",
                        level, index.tariff_id)
    prefix, rate = found
    billed, price = charge(rate, billsec, index.decimals, index.rounding_code)
    return new_leg(level, index.tariff_id, prefix, billed, rate.rate, price)
