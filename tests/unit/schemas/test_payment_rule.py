"""The one payment rule (payment.check_amount), against an independent model of it, and the payment
stage's own check (the code that decides `bad_payment`) agreeing with it for any text."""
from __future__ import annotations

import re
from decimal import Decimal
from types import SimpleNamespace

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.schemas import limits
from pipeline.schemas.payment import check_amount
from pipeline.settings import Settings
from pipeline.stages.accept_payments import AcceptPayments
from tests.unit.cdr.sample_book import sample_book

PLAIN = re.compile(r"\+?([0-9]*)(?:\.([0-9]*))?")


def model(text: str) -> Decimal | None:
    """The rule as pipeline/schemas/payment.py words it, written apart from the code: plain digits with at most one
    point, > 0, at most 6 decimals as written, below 10^12; nothing else."""
    found = PLAIN.fullmatch(text.strip())
    if found is None or not (found.group(1) or found.group(2)) or not text.strip().isascii():
        return None
    whole, fraction = found.group(1) or "0", found.group(2) or ""
    if len(fraction) > 6:
        return None
    value = Decimal(f"{whole}.{fraction or '0'}")
    return value if 0 < value < Decimal(10) ** 12 else None


def refusal(text: str) -> str | None:
    try:
        check_amount(text)
    except ValueError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("text, rule", [
    ("-100", "must be a decimal number > 0"),
    ("1e6", "no exponent"),
    ("1E+1000000", "no exponent"),
    ("10^20", "must be a decimal number > 0"),
    ("100000000000000000000", "a payment must be below 1,000,000,000,000"),
    ("NaN", "must be a decimal number > 0"),
    ("Infinity", "must be a decimal number > 0"),
    ("0.0000001", "more than 6 decimal places"),
])
def test_each_refusal_says_its_rule(text, rule):
    assert rule in refusal(text)


DECIMAL_LIKE = st.from_regex(r"\A[ +-]?[0-9]{0,14}(\.[0-9]{0,8})?([eE][+-]?[0-9]{1,3})?\Z")


@settings(max_examples=500)
@given(st.one_of(DECIMAL_LIKE, st.text(max_size=24), st.decimals(allow_nan=True).map(str)))
@example("999999999999.999999")
@example("1000000000000")
@example("0.000001")
@example(".5")
@example("5.")
@example("-0")
def test_check_amount_is_the_rule(text):
    expected = model(text)
    if expected is None:
        with pytest.raises(ValueError):
            check_amount(text)
    else:
        assert check_amount(text) == expected
        assert -check_amount(text).as_tuple().exponent <= limits.MONEY_PLACES


BOOK = sample_book()


def stage_accepts(amount: object) -> bool:
    stage = AcceptPayments(Settings(topic_prefix=""), SimpleNamespace(book=BOOK))
    message = SimpleNamespace(key=b"u1", value=orjson.dumps({"id": "p", "account": "u1", "amount": amount}),
                              topic="balance.payments", partition=0, offset=0, timestamp=0)
    payment, problem = stage._check(message)
    return problem is None


@settings(max_examples=300)
@given(st.one_of(DECIMAL_LIKE, st.text(max_size=24)))
def test_the_payment_stage_applies_exactly_what_check_amount_accepts(text):
    assert stage_accepts(text) == (refusal(text) is None)


@pytest.mark.parametrize("text", ["1_000", "١٢", "1e3", "-100", "0"])
def test_the_pay_command_refuses_what_the_stage_would_before_touching_kafka(text, monkeypatch):
    from click.testing import CliRunner

    from pipeline import cli, payments

    async def no_kafka(settings):
        raise AssertionError("a refused payment reached Kafka")

    monkeypatch.setattr(payments, "ensure_topics", no_kafka)
    result = CliRunner().invoke(cli.pay, ["--id", "p-1", "--", "u1", text])
    assert result.exit_code == 2, result.output
    assert refusal(text).split(" (got")[0] in result.output
