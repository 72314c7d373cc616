"""PaymentIn, `{"id", "account", "amount"}` of balance.payments: exact money only."""
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from pipeline.reference.book import ReferenceBook
from pipeline.schemas import limits
from pipeline.schemas.payment import PaymentIn, payment_problem
from tests.unit.cdr.sample_book import sample_book


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


@pytest.mark.parametrize("amount, rule", [
    ('"-5"', "must be a decimal number > 0"),
    ('"0.000"', "must be a decimal number > 0"),
    ('"1E+1000000"', "no exponent"),  # overflowed the ledger's Decimal and stalled its partition
    ('"1e3"', "no exponent"),
    ('"١٢"', "no exponent"),  # Arabic-Indic digits: Decimal() takes them
    ('"1_000"', "no exponent"),
    ('"-Infinity"', "must be a decimal number > 0"),
    ('"1.0000001"', "a payment has more than 6 decimal places"),
    ('"1000000000000"', "a payment must be below 1,000,000,000,000"),
    ('"12345678901234567890123.345678"', "more than 28 significant digits"),
    ("1e400", "not a JSON number"),
    ("100000000000000000000000000000", "more than 28 significant digits"),
])
def test_amounts_the_ledger_could_not_keep_exact_are_refused_with_the_rule(amount, rule):
    raw = f'{{"id": "p", "account": "u1", "amount": {amount}}}'.encode()
    with pytest.raises(ValidationError, match=rule):
        PaymentIn.model_validate_json(raw)


def test_a_payment_id_is_bounded():
    with pytest.raises(ValidationError, match="id"):
        PaymentIn(id="x" * 257, account="u1", amount="1")


@pytest.mark.parametrize("amount", ['"999999999999.999999"', '"0.000001"', "12", '" 5.5 "'])
def test_amounts_inside_the_limits_are_taken_exactly(amount):
    payment = PaymentIn.model_validate_json(f'{{"id": "p", "account": "u1", "amount": {amount}}}'.encode())
    assert payment.amount == Decimal(amount.strip('" '))


@given(st.decimals(allow_nan=True, allow_infinity=True).map(str) | st.text(max_size=30) | st.integers())
def test_any_amount_taken_is_positive_exact_and_a_billion_of_them_stay_exact(amount):
    try:
        payment = PaymentIn(id="p", account="u1", amount=amount)
    except ValidationError:
        return
    value = payment.amount
    assert 0 < value < limits.PAYMENT_BELOW and -value.as_tuple().exponent <= limits.MONEY_PLACES
    # a balance of a billion such payments is still exact in Decimal's 28 digits
    assert value * 10**9 - value * (10**9 - 1) == value and len((value * 10**9).as_tuple().digits) <= 28


def test_payment_problem_names_unknown_accounts_and_the_admin():
    book = sample_book()
    assert payment_problem(PaymentIn(id="p", account="u1", amount="5"), book) is None
    assert payment_problem(PaymentIn(id="p", account="nobody", amount="5"), book) == \
        'account "nobody" is not in the reference data'
    assert "admin, who has no balance" in payment_problem(PaymentIn(id="p", account="admin", amount="5"), book)
    assert "admin" in payment_problem(PaymentIn(id="p", account="admin", amount="5"), ReferenceBook())
