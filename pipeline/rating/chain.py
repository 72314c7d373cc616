"""The billing chain: one call priced at every level at once, with both profits and the loss flag.

DOMAIN.md "The billing chain". Every level prices the same call (same number, same start, same
billsec) with its own tariff; profits are differences of the already rounded prices. With no
provider on the CDR the provider leg is None and costs 0, so the admin profit is then the whole
reseller price (the whole user price for a direct user): the admin's cost is simply not known.
A provider owned by a reseller PRO other than the caller's is treated as an admin-level cost.

rate_call is the hot path (>= 100,000 calls/s at three levels on one core): the book resolves a
CallPlan once per (account, provider), and the rate lookup (TariffIndex.lookup_at) and the pricing
(pricing.charge) are inlined here, statement for statement; tests/unit/rating check the result
against those functions and against a plain-Decimal model of DOMAIN.md.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.rating import rules
from pipeline.rating.chain_plan import OWN_PROVIDER, VIA_RESELLER
from pipeline.rating.rated_call import ZERO, CallToRate, Leg, NotRated, RatedCall
from pipeline.rating.tariff_index import MAX_NUMBER_LENGTH, local_clock

if TYPE_CHECKING:
    from pipeline.rating.book import ReferenceBook

__all__ = ["CallToRate", "Leg", "NotRated", "RatedCall", "rate_call"]

_EPOCH = rules.EPOCH


def rate_call(call: CallToRate, book: ReferenceBook, _new=tuple.__new__, _Leg=Leg, _RatedCall=RatedCall,
              _NotRated=NotRated, _divmod=divmod, _len=len) -> RatedCall | NotRated:
    plans = book._call_plans.get(call.account)
    plan = None if plans is None else plans.get(call.provider)
    if plan is None:
        plan = book.call_plan(call.account, call.provider)
    if plan.__class__ is _NotRated:
        return plan
    levels, mode, reseller_id, reseller_allows_loss, admin_allows_loss, currency = plan

    since_epoch = call.start_time - _EPOCH  # whole seconds, floored: rules.epoch_seconds without the division
    epoch = since_epoch.days * 86400 + since_epoch.seconds
    billsec = call.billsec if call.answered and call.billsec > 0 else 0
    dst = call.dst
    size = _len(dst)
    if size > MAX_NUMBER_LENGTH:
        size = MAX_NUMBER_LENGTH
    legs = []
    lead = -1  # the length of the user tariff's longest prefix of dst (-1: it has none)
    for (level, tariff_id, entries, probes, probes_upto, follows_user, zone, scale, quantum, zero_price, rounding_code,
         payer) in levels:
        # TariffIndex.lookup_at: longest prefix first, the first version of it that holds. A tariff
        # the user tariff covers has no longer prefix of dst than the user's: its walk starts there.
        get = entries.get
        longest = -1
        for length in (probes_upto[size][lead + 1] if follows_user else probes[size]):
            versions = get(key := dst[:length])
            if versions is not None:
                if longest < 0:
                    longest = length
                for rate in versions:
                    if rate.effective_epoch <= epoch and (
                            rate.any_time or rate.applies_at(*local_clock(zone, epoch, book.holiday_days))):
                        break
                else:
                    continue
                break
        else:
            if level == "user":
                lead = longest
            if billsec == 0:  # an unpriced call is stored with price 0 whether or not a rate exists
                legs.append(_new(_Leg, (level, tariff_id, "", 0, ZERO, zero_price)))
                continue
            return _no_rate(call, level, tariff_id, payer)
        if level == "user":
            lead = longest
        # pricing.charge
        if billsec <= rate.grace_time:  # billsec 0 included: grace_time >= 0
            legs.append(_new(_Leg, (level, tariff_id, key, 0, rate.rate, zero_price)))
            continue
        increment = rate.increment
        billed = -(-billsec // increment) * increment
        if billed < rate.min_time:
            billed = rate.min_time
        denominator = rate.denominator
        units, remainder = _divmod((billed * rate.rate_units + rate.fee_units) * scale, denominator)
        if remainder:
            if rounding_code == 0:
                if 2 * remainder >= denominator:
                    units += 1
            elif rounding_code == 1:
                units += 1
        legs.append(_new(_Leg, (level, tariff_id, key, billed, rate.rate, quantum * units)))

    user = legs[0]
    user_price = user.price
    if mode == VIA_RESELLER:
        reseller = legs[1]
        reseller_price = reseller.price
        if _len(legs) == 3:
            provider = legs[2]
            provider_price = provider.price
        else:
            provider, provider_price = None, ZERO
        loss = ((reseller_price > user_price and not reseller_allows_loss)
                or (provider_price > reseller_price and not admin_allows_loss))
        return _new(_RatedCall, (call, user, reseller, provider, reseller_id, False, user_price - reseller_price,
                                 reseller_price - provider_price, currency, loss, None))
    if _len(legs) == 2:
        provider = legs[1]
        provider_price = provider.price
    else:
        provider, provider_price = None, ZERO
    if mode == OWN_PROVIDER:
        return _new(_RatedCall, (call, user, None, provider, reseller_id, True, user_price - provider_price, ZERO,
                                 currency, provider_price > user_price and not reseller_allows_loss, None))
    return _new(_RatedCall, (call, user, None, provider, reseller_id, False, ZERO, user_price - provider_price,
                             currency, provider_price > user_price and not admin_allows_loss, None))


def _no_rate(call: CallToRate, level: str, tariff_id: str, payer: str) -> NotRated:
    when = call.start_time.astimezone(rules.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return NotRated("no_rate", f'no rate for dst {call.dst} at {when} in tariff "{tariff_id}" '
                    f"(level {level}, {'provider' if level == 'provider' else 'account'} {payer})",
                    level, tariff_id)
