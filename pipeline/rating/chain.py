"""The billing chain: one call priced at every level at once, with both profits and the loss flag.

docs/domain.md "The billing chain". Every level prices the same call (same number, same start, same
billsec) with its own tariff; profits are differences of the already rounded prices. With no
provider on the CDR the provider leg is None and costs 0, so the admin profit is then the whole
reseller price (the whole user price for a direct user): the admin's cost is simply not known.
A provider owned by a reseller PRO other than the caller's is treated as an admin-level cost.

rate_call is the hot path (>= 100,000 calls/s at three levels on one core): the book resolves a
CallPlan once per (account, provider), and the rate lookup (TariffIndex.lookup_at) and the pricing
(pricing.charge) are inlined here, statement for statement; tests/unit/rating check the result
against those functions and against a plain-Decimal model of docs/domain.md.
"""
from __future__ import annotations

from typing import Any

from pipeline.rating.chain_plan import OWN_PROVIDER, VIA_RESELLER, RatingBook, code_plan
from pipeline.rating.rated_call import ZERO, CallToRate, Leg, NotRated, RatedCall
from pipeline.rating.tariff_index import MAX_NUMBER_LENGTH, local_clock
from pipeline.schemas import field_rules
from pipeline.schemas.dialled import EXACT, MIN_NUMBER_DIGITS, code_key, is_number

__all__ = ["CallToRate", "Leg", "NotRated", "RatedCall", "rate_call"]

_EPOCH = field_rules.EPOCH


# The defaults bind globals and builtins as locals (the hot path's lookups); typed Any, as are the plan
# (narrowed by `__class__ is`, which mypy does not follow and isinstance would slow) and the tuples
# built with tuple.__new__ (assigned to typed names before they are returned).
def rate_call(call: CallToRate, book: RatingBook, _new: Any = tuple.__new__, _Leg: Any = Leg, _RatedCall: Any = RatedCall,
              _NotRated: Any = NotRated, _divmod: Any = divmod, _len: Any = len) -> RatedCall | NotRated:
    plans = book._call_plans.get(call.account)
    plan: Any = None if plans is None else plans.get(call.provider)
    if plan is None:
        plan = book.call_plan(call.account, call.provider)
    if plan.__class__ is _NotRated:
        not_rated: NotRated = plan
        return not_rated
    dst = call.dst
    if _len(dst) < MIN_NUMBER_DIGITS or not (dst.isdigit() and dst.isascii()):
        # not a number (pipeline/schemas/dialled.py): each level walks its code rates only
        plan, dst = code_plan(plan, book), code_key(dst)
    levels, mode, reseller_id, reseller_allows_loss, admin_allows_loss, currency = plan

    since_epoch = call.start_time - _EPOCH  # whole seconds, floored: field_rules.epoch_seconds without the division
    epoch = since_epoch.days * 86400 + since_epoch.seconds
    billsec = call.billsec if call.answered and call.billsec > 0 else 0
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
        if billsec <= rate.flat_until:  # a flat rate, or a call in a tiered rate's first tier: one multiplication
            increment = rate.increment
            billed = -(-billsec // increment) * increment
            if billed < rate.min_time:
                billed = rate.min_time
            amount = billed * rate.rate_units
        else:  # tiers.tiered_billed and tiered_units, inlined: the steps run last tier first
            tiers = rate.tiers
            for step in tiers:
                if step[0] < billsec:
                    break
            start, increment, rate_units, units_before = step
            billed = start + -(-(billsec - start) // increment) * increment
            if billed < rate.min_time:  # the minimum may reach into a later tier
                billed = rate.min_time
                for step in tiers:
                    if step[0] < billed:
                        break
                start, increment, rate_units, units_before = step
            amount = units_before + (billed - start) * rate_units
        denominator = rate.denominator
        units, remainder = _divmod((amount + rate.fee_units) * scale, denominator)
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
        rated: RatedCall = _new(_RatedCall, (call, user, reseller, provider, reseller_id, False,
                                             user_price - reseller_price, reseller_price - provider_price,
                                             currency, loss, None))
        return rated
    if _len(legs) == 2:
        provider = legs[1]
        provider_price = provider.price
    else:
        provider, provider_price = None, ZERO
    if mode == OWN_PROVIDER:
        rated = _new(_RatedCall, (call, user, None, provider, reseller_id, True, user_price - provider_price, ZERO,
                                  currency, provider_price > user_price and not reseller_allows_loss, None))
    else:
        rated = _new(_RatedCall, (call, user, None, provider, reseller_id, False, ZERO, user_price - provider_price,
                                  currency, provider_price > user_price and not admin_allows_loss, None))
    return rated


def _no_rate(call: CallToRate, level: str, tariff_id: str, payer: str) -> NotRated:
    when = call.start_time.astimezone(field_rules.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not is_number(call.dst):
        return _not_a_number(call, level, tariff_id, payer, when)
    return NotRated("no_rate", f'no rate for dst {call.dst} at {when} in tariff "{tariff_id}" '
                    f"(level {level}, {'provider' if level == 'provider' else 'account'} {payer})",
                    level, tariff_id)


def _not_a_number(call: CallToRate, level: str, tariff_id: str, payer: str, when: str) -> NotRated:
    """A code or a menu key with no rate of its own: never priced as the number its digits spell."""
    if call.dst.isascii() and call.dst.isdigit():
        what = (f"dst {call.dst} has fewer than {MIN_NUMBER_DIGITS} digits (a menu key, not a phone number) and "
                f'tariff "{tariff_id}" has no exact rate "{call.dst}{EXACT}" for it')
    else:
        what = (f'dst "{call.dst}" is not a number and tariff "{tariff_id}" has no rate for that code (a prefix '
                f'with * or #, or the exact "{call.dst.replace(EXACT, "")}{EXACT}")')
    return NotRated("not_a_number", f"{what} at {when} (level {level}, "
                    f"{'provider' if level == 'provider' else 'account'} {payer})", level, tariff_id)
