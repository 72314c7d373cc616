"""Tiered rates (docs/tiers.md): the integer engine against the per-second Decimal model, at one leg,
along the whole chain (rate_call) and for a DID's rates; the worked cases; the layout rules."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pipeline.rating.chain import CallToRate, rate_call
from pipeline.rating.compiled_rate import ROUNDING_CODES, CompiledRate, RateCompiler
from pipeline.rating.did import did_price
from pipeline.rating.pricing import charge, price_leg
from pipeline.reference.book import ReferenceBook
from pipeline.reference.csv_rates import RateFileError, load_rates_csv
from pipeline.reference.records import parse_reference_record
from pipeline.schemas.reference import DidRate, RateIn
from pipeline.schemas.tier_rules import format_tiers_cell
from tests.unit.rating.tiers_model import ROUNDINGS, model_price, tiered_rates

NOON = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
billsecs = st.one_of(st.integers(0, 400), st.integers(0, 4000))


@settings(max_examples=400, deadline=None)
@given(rate=tiered_rates(), billsec=billsecs, decimals=st.sampled_from([0, 2, 4, 6]),
       rounding=st.sampled_from(sorted(ROUNDINGS)))
def test_one_leg_equals_the_per_second_model(rate, billsec, decimals, rounding):
    compiled = CompiledRate(RateIn(prefix="3", **rate))
    assert charge(compiled, billsec, decimals, ROUNDING_CODES[rounding]) == model_price(rate, billsec, decimals, rounding)
    leg = price_leg(compiled, billsec, decimals, rounding)
    assert (leg.billed_seconds, leg.price) == model_price(rate, billsec, decimals, rounding)


def _book(rates: dict[str, dict], decimals: int, rounding: str) -> ReferenceBook:
    book = ReferenceBook()
    records = [
        {"kind": "tariff", "id": "t-p1", "decimals": decimals, "rounding": rounding,
         "rates": [{"prefix": "37", **rates["provider"]}]},
        {"kind": "tariff", "id": "t-r1", "decimals": decimals, "rounding": rounding,
         "rates": [{"prefix": "370", **rates["reseller"]}]},
        {"kind": "tariff", "id": "t-u1", "owner": "r1", "decimals": decimals, "rounding": rounding,
         "rates": [{"prefix": "3706", **rates["user"]}, {"prefix": "3", "rate": "9"}]},
        {"kind": "account", "id": "r1", "type": "reseller", "tariff": "t-r1"},
        {"kind": "account", "id": "u1", "type": "user", "parent": "r1", "tariff": "t-u1"},
        {"kind": "provider", "id": "p1", "tariff": "t-p1"},
    ]
    for record in records:
        book.apply(parse_reference_record(record))
    return book


@settings(max_examples=150, deadline=None)
@given(user=tiered_rates(), reseller=tiered_rates(), provider=tiered_rates(), billsec=billsecs,
       decimals=st.sampled_from([2, 6]), rounding=st.sampled_from(sorted(ROUNDINGS)))
def test_every_level_of_the_chain_equals_the_model(user, reseller, provider, billsec, decimals, rounding):
    book = _book({"user": user, "reseller": reseller, "provider": provider}, decimals, rounding)
    rated = rate_call(CallToRate("ast1", "c1", "u1", "37061234567", NOON, billsec, True, "p1"), book)
    for leg, rate in ((rated.user, user), (rated.reseller, reseller), (rated.provider, provider)):
        assert (leg.billed_seconds, leg.price) == model_price(rate, billsec, decimals, rounding), leg.level
    assert rated.reseller_profit == rated.user.price - rated.reseller.price
    assert rated.admin_profit == rated.reseller.price - rated.provider.price


signed_money = st.decimals(min_value=Decimal("-3"), max_value=Decimal("3"), places=4)


@st.composite
def did_rates(draw) -> dict:
    """A DID rate: all its tier rates of one sign (the layout rule for DIDs)."""
    sign = draw(st.sampled_from([1, -1]))
    rate = draw(tiered_rates(money=st.decimals(min_value=Decimal("0"), max_value=Decimal("3"), places=4)))
    flip = (lambda text: str(-Decimal(text))) if sign < 0 else str
    return {**rate, "rate": flip(rate["rate"]), "connection_fee": flip(rate["connection_fee"]),
            **({"tiers": [{**t, "rate": flip(t["rate"])} for t in rate["tiers"]]} if "tiers" in rate else {})}


@settings(max_examples=200, deadline=None)
@given(rate=did_rates(), billsec=billsecs)
def test_a_did_rate_with_tiers_equals_the_model_negative_or_not(rate, billsec):
    assert did_price(DidRate(**rate), billsec) == model_price(rate, billsec, 6, "half_up")[1]


# CGRateS' tutorial (data/tariffplans/tutorial/README.md): RT_10CNT has a connect fee of 0.2, 0.1 per
# minute for the first 60 s in 60 s increments, then 0.05 per minute in 1 s increments.
RT_10CNT = {"rate": "0.1", "connection_fee": "0.2", "increment": 60,
            "tiers": [{"from_seconds": 60, "rate": "0.05", "increment": 1}]}


@pytest.mark.parametrize("rate, billsec, billed, price", [
    (RT_10CNT, 1, 60, "0.300000"),  # the first block is billed whole
    (RT_10CNT, 60, 60, "0.300000"),  # exactly one tier: nothing of the next
    (RT_10CNT, 61, 61, "0.300833"),  # 0.2 + 0.1 + 0.05/60
    (RT_10CNT, 90, 90, "0.325000"),
    ({**RT_10CNT, "grace_time": 5}, 5, 0, "0"),  # within grace: free, fee included
    ({**RT_10CNT, "min_time": 90}, 10, 90, "0.325000"),  # min_time reaches into the second tier
    # ASTPP's "Initial Increment 30, Increment 60" as tiers: the first 30 s, then minutes
    ({"rate": "1", "increment": 30, "tiers": [{"from_seconds": 30, "rate": "1", "increment": 60}]}, 31, 90, "1.500000"),
    # a free first minute, then 0.6/min per second
    ({"rate": "0", "increment": 60, "connection_fee": "0.1", "tiers": [{"from_seconds": 60, "rate": "0.6"}]},
     30, 60, "0.100000"),
    ({"rate": "0", "increment": 60, "connection_fee": "0.1", "tiers": [{"from_seconds": 60, "rate": "0.6"}]},
     75, 75, "0.250000"),
])
def test_worked_cases(rate, billsec, billed, price):
    leg = price_leg(CompiledRate(RateIn(prefix="", **rate)), billsec, 6, "half_up")
    assert (leg.billed_seconds, leg.price) == (billed, Decimal(price))
    assert model_price(rate, billsec) == (billed, Decimal(price))


def test_a_flat_rate_compiles_without_tiers():
    """The chain's one-multiplication path is taken only when tiers is None."""
    assert CompiledRate(RateIn(prefix="1", rate="1")).tiers is None
    assert CompiledRate(RateIn(prefix="1", rate="1", tiers=[{"from_seconds": 60, "rate": "2"}])).tiers is not None


@pytest.mark.parametrize("tiers, words", [
    ([{"from_seconds": 0, "rate": "1"}], "must be a whole number >= 1"),
    ([{"from_seconds": 120, "rate": "1"}, {"from_seconds": 60, "rate": "1"}], "tiers[1].from_seconds 60 must be after 120"),
    ([{"from_seconds": 90, "rate": "1"}], "tiers[0].from_seconds 90 must be a whole number of the rate's own increment (60 s)"),
    ([{"from_seconds": 60, "rate": "1", "increment": 40}, {"from_seconds": 120, "rate": "1"}],
     "tiers[1].from_seconds 120 must be 60 plus a whole number of tiers[0].increment (40 s)"),
    ([{"from_seconds": 60, "rate": "-1"}], "must be a decimal number >= 0"),
    ([{"from_seconds": 60 * n, "rate": "1"} for n in range(1, 18)], "at most 16 tiers"),
])
def test_a_bad_tier_layout_is_refused_with_the_tier_named(tiers, words):
    with pytest.raises(ValidationError) as caught:
        RateIn(prefix="1", rate="1", increment=60, tiers=tiers)
    assert words in str(caught.value)


def test_equal_tiered_rates_share_one_compiled_rate_and_different_tiers_do_not():
    compiler = RateCompiler()
    a = compiler.compile(RateIn(prefix="1", **RT_10CNT))
    b = compiler.compile(RateIn(prefix="2", **RT_10CNT))
    c = compiler.compile(RateIn(prefix="3", **{**RT_10CNT, "tiers": [{"from_seconds": 60, "rate": "0.04"}]}))
    assert a is b and a is not c


def test_the_csv_tiers_cell_reads_back_what_format_writes_and_its_layout_is_checked(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(f"prefix,rate,increment,tiers\n370,0.1,60,{format_tiers_cell([(60, Decimal('0.05'), 1)])}\n371,0.1,1,\n")
    first, second = load_rates_csv(good)
    assert first == RateIn(prefix="370", rate="0.1", increment=60, tiers=[{"from_seconds": 60, "rate": "0.05"}])
    assert second.tiers == ()
    bad = tmp_path / "bad.csv"
    bad.write_text("prefix,rate,increment,tiers\n370,0.1,60,30:0.05\n")
    with pytest.raises(RateFileError) as caught:
        load_rates_csv(bad)
    assert str(caught.value).startswith('bad.csv line 2, column "tiers": tiers[0].from_seconds 30 must be')
