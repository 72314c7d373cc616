"""ASTPP's and A2Billing's billing, written out again from their PHP (astpp.cdr.php calc_cost,
Class.RateEngine.php rate_engine_calculcost) in exact Decimal, against the rate our reader makes of
the same deck line, for random lines and call lengths: the two systems' prices, to the last digit."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline.rating.compiled_rate import CompiledRate
from pipeline.rating.pricing import charge
from pipeline.reference.decks import DeckError, read_deck

SIX = Decimal("0.000001")
money = st.decimals(min_value=Decimal("0"), max_value=Decimal("2"), places=4)
seconds = st.integers(0, 200)
billsecs = st.integers(1, 1500)


def ours(layout: str, text: str, billsec: int) -> Decimal:
    rate = read_deck([("deck.csv", text.encode())], layout).rates[0]
    return charge(CompiledRate(rate), billsec, 6, 0)[1]


def ceil_to(value: int, block: int) -> int:
    return -(-value // block) * block


def astpp_cost(rate: Decimal, fee: Decimal, included: int, initial: int, increment: int, billsec: int) -> Decimal:
    """calc_cost: included seconds off, the initial block, then increments of what is left."""
    cost = fee
    duration = billsec - included
    if duration > 0:
        initial = initial if initial >= 1 else 0
        cost += rate / 60 * initial
        duration -= initial
        if duration > 0:
            increment = increment if increment >= 1 else 1
            cost += ceil_to(duration, increment) * rate / 60
    return cost.quantize(SIX, ROUND_HALF_UP)


@settings(max_examples=300, deadline=None)
@given(rate=money, fee=money, included=st.sampled_from([0, 0, 5, 30, 60]), initial=st.sampled_from([0, 1, 6, 30, 45, 60]),
       increment=st.sampled_from([0, 1, 6, 30, 60]), billsec=billsecs)
def test_astpp_line_prices_as_calc_cost(rate, fee, included, initial, increment, billsec):
    line = ("Code,Destination,Connection Cost (USD),Grace Time,Cost / Min (USD),Initial Increment,Increment\n"
            f"370,Lithuania,{fee},{included},{rate},{initial},{increment}\n")
    assert ours("astpp", line, billsec) == astpp_cost(rate, fee, included, initial, increment, billsec)


def a2billing_cost(values: dict, billsec: int) -> Decimal:
    """rate_engine_calculcost, the selling side, without the features the reader refuses."""
    cost = values["connectcharge"] + values["disconnectcharge"]
    duration = max(billsec, values["initblock"])
    if not (values["chargea"] and values["timechargea"]):
        if values["billingblock"] > 0 and duration > values["initblock"]:
            duration = ceil_to(duration, values["billingblock"])
        return (cost + Decimal(duration) / 60 * values["rateinitial"]).quantize(SIX, ROUND_HALF_UP)
    cost += values["stepchargea"]
    for cycle in "abc":
        charge_, time_, block = values[f"charge{cycle}"], values[f"timecharge{cycle}"], values[f"billingblock{cycle}"]
        rest = duration - time_ if duration > time_ else 0
        duration = min(duration, time_)
        if block > 0:
            duration = ceil_to(duration, block)
        cost += Decimal(duration) / 60 * charge_
        following = {"a": "b", "b": "c"}.get(cycle)
        if not rest or following is None or not (values[f"charge{following}"] and values[f"timecharge{following}"]):
            break
        duration = rest
    return cost.quantize(SIX, ROUND_HALF_UP)


@st.composite
def a2billing_lines(draw) -> dict:
    values = {"rateinitial": draw(money), "initblock": draw(st.sampled_from([0, 0, 10, 30, 60, 90])),
              "billingblock": draw(st.sampled_from([0, 1, 6, 30, 60])), "connectcharge": draw(money),
              "disconnectcharge": draw(st.sampled_from([Decimal(0), Decimal("0.05")])),
              "stepchargea": draw(st.sampled_from([Decimal(0), Decimal("0.12")]))}
    progressive = draw(st.booleans())
    for cycle in "abc":
        block = draw(st.sampled_from([0, 1, 10, 20, 30]))
        active = progressive and (cycle == "a" or draw(st.booleans()))
        values[f"charge{cycle}"] = draw(money.filter(bool)) if active else Decimal(0)
        values[f"timecharge{cycle}"] = (block or 1) * draw(st.integers(1, 12)) if active else 0
        values[f"billingblock{cycle}"] = block
        progressive = active
    return values


@settings(max_examples=300, deadline=None)
@given(values=a2billing_lines(), billsec=billsecs)
def test_a2billing_line_prices_as_its_rate_engine(values, billsec):
    header = ",".join(["dialprefix", "destination", *values])
    line = ",".join(["370", "Lithuania", *(str(value) for value in values.values())])
    assert ours("a2billing", f"{header}\n{line}\n", billsec) == a2billing_cost(values, billsec)


@given(block=st.sampled_from([20, 30, 60]), time_=st.integers(1, 600))
def test_a2billing_cycle_cut_inside_a_block_is_refused(block, time_):
    assume(time_ % block)
    line = f"dialprefix,rateinitial,chargea,timechargea,billingblocka\n370,1,1,{time_},{block}\n"
    try:
        read_deck([("deck.csv", line.encode())], "a2billing")
    except DeckError as error:
        assert str(error).startswith('deck.csv line 2, column "timechargea": timechargea')
    else:
        raise AssertionError("a cycle ending inside a block was read")
