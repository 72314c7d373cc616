"""Pricing one leg (docs/domain.md "Pricing one call at one level", billed seconds and price rules)."""
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.rating.compiled_rate import CompiledRate
from pipeline.rating.pricing import billed_seconds, price_leg
from pipeline.schemas.reference import RateIn

DECIMAL_ROUNDING = {"half_up": ROUND_HALF_UP, "up": ROUND_UP, "down": ROUND_DOWN}


def compiled(rate="1", fee="0", increment=1, min_time=0, grace_time=0) -> CompiledRate:
    return CompiledRate(RateIn(prefix="", rate=rate, connection_fee=fee, increment=increment,
                               min_time=min_time, grace_time=grace_time))


def decimal_reference_price(rate: RateIn, billsec: int, decimals: int, rounding: str) -> Decimal:
    """The formula of docs/domain.md in plain Decimal arithmetic, at a precision no price can exhaust."""
    billed = billed_seconds(billsec, rate.increment, rate.min_time, rate.grace_time)
    quantum = Decimal(1).scaleb(-decimals)
    if billed == 0:
        return Decimal(0).quantize(quantum)
    with localcontext() as context:
        context.prec = 200
        exact = rate.rate * billed / 60 + rate.connection_fee
        return exact.quantize(quantum, rounding=DECIMAL_ROUNDING[rounding])


@pytest.mark.parametrize(
    "rate, fee, increment, min_time, grace, billsec, billed, price",
    [
        ("2", "0", 60, 0, 0, 65, 120, "4.000000"),
        ("1", "0", 6, 30, 0, 5, 30, "0.500000"),
        ("1", "0", 6, 30, 0, 31, 36, "0.600000"),
        ("0.3", "0.05", 1, 0, 0, 60, 60, "0.350000"),
        ("1.2", "0", 1, 0, 5, 4, 0, "0"),
    ],
)
def test_domain_worked_cases(rate, fee, increment, min_time, grace, billsec, billed, price):
    leg = price_leg(compiled(rate, fee, increment, min_time, grace), billsec, 6, "half_up")
    assert leg.billed_seconds == billed
    assert leg.price == Decimal(price)
    if price != "0":
        assert str(leg.price) == price  # six decimals written out, as the contract shows them


@pytest.mark.parametrize(
    "billsec, increment, min_time, grace, billed",
    [
        (5, 1, 0, 5, 0),  # billsec equal to grace is still free
        (6, 1, 0, 5, 6),  # one second past grace bills everything, not just the excess
        (30, 6, 30, 0, 30),  # equal to min time
        (36, 6, 30, 0, 36),  # exactly on an increment: not rounded further
        (60, 60, 0, 0, 60),
        (61, 60, 0, 0, 120),
        (0, 1, 30, 0, 0),  # unanswered: min time does not apply
    ],
)
def test_billed_seconds_boundaries(billsec, increment, min_time, grace, billed):
    assert billed_seconds(billsec, increment, min_time, grace) == billed


def test_grace_waives_the_connection_fee_too():
    assert price_leg(compiled("1", "0.5", grace_time=3), 3, 6, "half_up").price == 0
    assert price_leg(compiled("1", "0.5", grace_time=3), 4, 6, "half_up").price == Decimal("0.566667")


@pytest.mark.parametrize(
    "rounding, decimals, expected",
    [("half_up", 4, "0.0167"), ("up", 4, "0.0167"), ("down", 4, "0.0166"),
     ("half_up", 2, "0.02"), ("down", 2, "0.01"), ("half_up", 0, "0"), ("up", 0, "1")],
)
def test_rounding_modes_on_one_second_at_one_per_minute(rounding, decimals, expected):
    # 1/60 = 0.016666...: the three modes disagree here.
    price = price_leg(compiled("1"), 1, decimals, rounding).price
    assert str(price) == expected


def test_half_up_rounds_an_exact_half_away_from_zero():
    # 0.3 per minute for 1 s = 0.005 exactly: half-up gives 0.01, banker's rounding would give 0.00.
    assert str(price_leg(compiled("0.3"), 1, 2, "half_up").price) == "0.01"
    assert str(price_leg(compiled("0.3"), 1, 2, "down").price) == "0.00"


money = st.decimals(min_value=0, max_value=100, places=6, allow_nan=False, allow_infinity=False)
rates = st.builds(lambda rate, fee, increment, min_time, grace: RateIn(
    prefix="", rate=rate, connection_fee=fee, increment=increment, min_time=min_time, grace_time=grace),
    money, money, st.integers(1, 120), st.integers(0, 300), st.integers(0, 30))
billsecs = st.integers(0, 20_000)


@given(rates, billsecs, st.integers(0, 6), st.sampled_from(["half_up", "up", "down"]))
def test_integer_path_equals_decimal_reference(rate, billsec, decimals, rounding):
    assert price_leg(CompiledRate(rate), billsec, decimals, rounding).price == \
        decimal_reference_price(rate, billsec, decimals, rounding)


@given(rates, billsecs)
def test_billed_seconds_never_below_billsec_outside_grace(rate, billsec):
    billed = billed_seconds(billsec, rate.increment, rate.min_time, rate.grace_time)
    if billsec > rate.grace_time:
        assert billed >= billsec
    else:
        assert billed == 0


@given(rates, st.integers(1, 20_000))
def test_billed_seconds_is_a_multiple_of_increment_or_the_min_time(rate, billsec):
    billed = billed_seconds(billsec, rate.increment, rate.min_time, rate.grace_time)
    assert billed == 0 or billed % rate.increment == 0 or billed == rate.min_time


@given(rates, billsecs, st.sampled_from(["half_up", "up", "down"]))
def test_price_never_decreases_as_billsec_grows(rate, billsec, rounding):
    compiled_rate = CompiledRate(rate)
    assert price_leg(compiled_rate, billsec + 1, 6, rounding).price >= \
        price_leg(compiled_rate, billsec, 6, rounding).price
