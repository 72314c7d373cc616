"""PaymentIn, `{"id", "account", "amount"}` of balance.payments: exact money only."""
from decimal import Decimal

import pytest
from pydantic import ValidationError

from pipeline.schemas.payment import PaymentIn


def test_amount_is_the_exact_decimal_given():
    payment = PaymentIn.model_validate_json(b'{"id": "pay-1", "account": "u1", "amount": "10.10"}')
    assert payment.amount == Decimal("10.10") and str(payment.amount) == "10.10"


@pytest.mark.parametrize("raw", [
    b'{"id": "p", "account": "u1", "amount": 0.1}',  # a float is already inexact
    b'{"id": "p", "account": "u1", "amount": "0"}',
    b'{"id": "p", "account": "u1", "amount": "NaN"}',
    b'{"id": "p", "account": "u1", "amount": "Infinity"}',
    b'{"id": "p", "account": "u1", "amount": "ten"}',
    b'{"id": " ", "account": "u1", "amount": "1"}',
    b'{"id": "p", "account": "", "amount": "1"}',
    b'{"account": "u1", "amount": "1"}',
])
def test_bad_payment_is_refused(raw):
    with pytest.raises(ValidationError):
        PaymentIn.model_validate_json(raw)


def test_payment_is_frozen():
    payment = PaymentIn(id="p", account="u1", amount="1")
    with pytest.raises(ValidationError):
        payment.amount = Decimal(2)
