"""rate_did_call against a plain Decimal model of docs/domain.md "DIDs": random signed rates, every kind
of assignment (unassigned, a reseller's own, a reseller's user with or without owner_rate, a
direct user), every kind of caller (outside, the owner, the reseller, another user) and billsec."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.rating.did import rate_did_call
from pipeline.rating.rated_call import CallToRate
from pipeline.schemas.reference import DidIn, DidRate
from tests.unit.cdr.sample_book import sample_book

BOOK = sample_book()  # r1 -> u1, u2; r2 -> u3; d1 direct; provider p1
START = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
ASSIGNMENTS = [dict(), dict(reseller="r1"), dict(reseller="r1", user="u1"), dict(user="d1"), dict(reseller="r2", user="u3")]
RESELLER_OF = {"u1": "r1", "u2": "r1", "u3": "r2"}

money = st.decimals(min_value=-50, max_value=50, places=4, allow_nan=False, allow_infinity=False).map(str)
rates = st.builds(DidRate, rate=money, connection_fee=st.sampled_from(["0", "0.05", "-0.0123457"]),
                  increment=st.sampled_from([1, 6, 30, 60]), min_time=st.sampled_from([0, 30, 60]),
                  grace_time=st.sampled_from([0, 3]))


def model_price(rate: DidRate, billsec: int) -> Decimal:
    if billsec <= 0 or billsec <= rate.grace_time:
        return Decimal("0.000000")
    billed = -(-billsec // rate.increment) * rate.increment
    billed = max(billed, rate.min_time)
    return (rate.rate * billed / 60 + rate.connection_fee).quantize(Decimal("0.000001"), ROUND_HALF_UP)


def model(did: DidIn, caller: str, billsec: int, provider: bool) -> dict:
    zero = Decimal(0)
    incoming = model_price(did.rates.incoming, billsec) if caller else zero
    provider_price = model_price(did.rates.provider, billsec) if provider else zero
    owner = did.user or did.reseller or ""
    reseller = did.reseller if owner == did.reseller else RESELLER_OF.get(owner, "")
    owner_price = reseller_price = zero
    if owner and owner != caller:
        if owner == reseller or not reseller:
            owner_price = model_price(did.rates.owner, billsec)
        else:
            owner_price = model_price(did.owner_rate or did.rates.owner, billsec)
            reseller_price = model_price(did.rates.owner, billsec)
    if owner and reseller and owner != reseller:
        to_admin, reseller_profit = reseller_price, owner_price - reseller_price
    elif owner and owner == reseller:
        to_admin, reseller_profit = owner_price, -owner_price
    else:
        to_admin, reseller_profit = owner_price, zero
    owed: dict[str, Decimal] = {}
    for account, amount in ((caller, incoming), (owner, owner_price),
                            (reseller if reseller != owner else "", reseller_price)):
        if account:
            owed[account] = owed.get(account, zero) + amount
    return {"prices": (incoming, owner_price, reseller_price, provider_price), "owner": owner,
            "reseller": reseller, "reseller_profit": reseller_profit,
            "admin_profit": incoming + to_admin + provider_price, "owed": owed}


@settings(max_examples=400, deadline=None)
@given(assignment=st.sampled_from(ASSIGNMENTS), incoming=rates, owner=rates, provider_rate=rates,
       owner_rate=st.none() | rates, caller=st.sampled_from(["", "u1", "u2", "u3", "d1", "r1"]),
       billsec=st.integers(0, 4000), answered=st.booleans(), provider=st.booleans())
def test_rate_did_call_matches_the_model(assignment, incoming, owner, provider_rate, owner_rate, caller, billsec,
                                         answered, provider):
    with_owner_rate = owner_rate if assignment.get("user") and assignment.get("reseller") else None
    did = DidIn(number="4400", rates={"incoming": incoming, "owner": owner, "provider": provider_rate},
                owner_rate=with_owner_rate, **assignment)
    BOOK.apply(did)
    call = CallToRate("s", "c", caller, "4400", START, billsec, answered and billsec > 0, "p1" if provider else None)
    result = rate_did_call(call, "4400", BOOK)
    expected = model(did, caller, billsec if answered else 0, provider)
    legs = result.did
    assert (legs.incoming_price, legs.owner_price, legs.reseller_owner_price, legs.provider_price) == expected["prices"]
    assert (legs.owner, result.reseller_id) == (expected["owner"], expected["reseller"])
    assert (result.reseller_profit, result.admin_profit) == (expected["reseller_profit"], expected["admin_profit"])
    assert dict(result.charges()) == expected["owed"]
    # every amount is exact at 6 places, whatever its sign
    assert all(price.as_tuple().exponent == -6 for price in expected["prices"] if price)
