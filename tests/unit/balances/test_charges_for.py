"""charges_for: what a rated call debits (docs/domain.md "Balances")."""
from decimal import Decimal

from pipeline.balances.charges import charges_for


def record(**changes) -> dict:
    return {"account": "u1", "reseller": "r1", "own_provider": False,
            "user_price": "2.000000", "reseller_price": "1.200000", "provider_price": "0.300000", **changes}


def test_user_and_reseller_each_pay_their_own_price_in_one_step():
    assert charges_for(record()) == [("u1", Decimal("2")), ("r1", Decimal("1.2"))]


def test_direct_user_debits_only_himself():
    assert charges_for(record(reseller="", reseller_price="0")) == [("u1", Decimal("2"))]


def test_own_provider_call_does_not_touch_the_resellers_balance():
    assert charges_for(record(own_provider=True, reseller_price="0")) == [("u1", Decimal("2"))]
    assert charges_for(record(own_provider=True)) == [("u1", Decimal("2"))]


def test_free_legs_debit_nothing():
    assert charges_for(record(user_price="0.000000", reseller_price="0.000000")) == []
    assert charges_for(record(user_price="0", reseller_price="0.5")) == [("r1", Decimal("0.5"))]


def test_amounts_are_exact_decimals():
    [(_, amount)] = charges_for(record(user_price="0.100001", reseller=""))
    assert amount == Decimal("0.100001") and isinstance(amount, Decimal)
