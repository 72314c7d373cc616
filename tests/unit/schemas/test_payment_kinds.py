"""Payments, refunds and corrections (pipeline/schemas/payment.py): each kind's amount rule, the
reason they need, and the signed `delta` the ledger adds, against a model written apart from the
code; and the payment stage's check agreeing with the model for any kind and text."""
from __future__ import annotations

import re
from decimal import Decimal
from types import SimpleNamespace

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pipeline.schemas.payment import PaymentIn
from pipeline.schemas.validation_errors import describe_validation_error
from pipeline.settings import Settings
from pipeline.stages.accept_payments import AcceptPayments
from tests.unit.cdr.sample_book import sample_book

PLAIN = re.compile(r"([0-9]*)(?:\.([0-9]*))?")


def magnitude(text: str) -> Decimal | None:
    """Plain ASCII digits with at most one point (one leading '+' allowed), > 0, at most 6
    decimals as written, below 10^12."""
    text = text.strip()
    if text.startswith("+"):
        text = text[1:]
    found = PLAIN.fullmatch(text)
    if not text.isascii() or found is None or not (found.group(1) or found.group(2)):
        return None
    whole, fraction = found.group(1) or "0", found.group(2) or ""
    if len(fraction) > 6:
        return None
    value = Decimal(f"{whole}.{fraction or '0'}")
    return value if 0 < value < Decimal(10) ** 12 else None


def model_delta(kind: str, text: str, reason: str) -> Decimal | None:
    """What the balance moves by, or None when the record is refused."""
    if kind != "payment" and not reason.strip():
        return None
    if kind == "correction" and text.strip().startswith("-"):
        found = magnitude(text.strip()[1:]) if not text.strip()[1:].startswith(("+", "-")) else None
        return None if found is None else -found
    found = magnitude(text)
    if found is None:
        return None
    return -found if kind == "refund" else found


def parsed(kind: str, amount: str, reason: str = "") -> PaymentIn:
    return PaymentIn.model_validate({"id": "p1", "account": "u1", "kind": kind, "amount": amount, "reason": reason})


@pytest.mark.parametrize("kind, amount, delta", [
    ("payment", "10", "10"), ("refund", "4", "-4"), ("correction", "-1.5", "-1.5"), ("correction", "0.25", "0.25"),
    ("refund", "0.000001", "-0.000001"), ("correction", "-999999999999.999999", "-999999999999.999999"),
])
def test_each_kind_moves_the_balance_by_its_signed_amount(kind, amount, delta):
    payment = parsed(kind, amount, "returned to the customer")
    assert payment.delta == Decimal(delta)
    assert payment.published()["amount"] == amount  # as written: the kind gives the sign


@pytest.mark.parametrize("kind, amount, reason, field, words", [
    ("payment", "-100", "", "amount", 'kind "refund"'),  # a stray minus sign: told what to send instead
    ("refund", "-5", "mistake", "amount", "must be a decimal number > 0"),
    ("refund", "5", "", "reason", "a refund needs a reason"),
    ("correction", "5", "  ", "reason", "a correction needs a reason"),
    ("correction", "0", "x", "amount", "other than 0"),
    ("correction", "-0.0", "x", "amount", "other than 0"),
    ("correction", "--5", "x", "amount", "at most one sign"),
    ("correction", "-1e3", "x", "amount", "no exponent"),
    ("refund", "5", "x" * 501, "reason", "at most 500"),
    ("chargeback", "5", "x", "kind", "'payment', 'refund' or 'correction'"),
])
def test_a_refused_record_names_the_field_and_the_rule(kind, amount, reason, field, words):
    with pytest.raises(ValidationError) as caught:
        parsed(kind, amount, reason)
    detail = describe_validation_error(caught.value)
    assert detail.startswith(f"{field}: ") and words in detail, detail


def test_a_record_without_kind_is_a_payment_as_before():
    payment = PaymentIn.model_validate({"id": "p", "account": "u1", "amount": "3"})
    assert (payment.kind, payment.reason, payment.delta) == ("payment", "", Decimal(3))


BOOK = sample_book()
TEXT = st.one_of(st.from_regex(r"\A[ +-]{0,2}[0-9]{0,14}(\.[0-9]{0,8})?\Z"), st.text(max_size=16))


def stage_delta(record: dict) -> Decimal | None:
    """The payment stage's own check on the raw message; None when it would reject it."""
    stage = AcceptPayments(Settings(topic_prefix=""), SimpleNamespace(book=BOOK))
    message = SimpleNamespace(key=b"u1", value=orjson.dumps(record), topic="balance.payments", partition=0,
                              offset=0, timestamp=0)
    payment, problem = stage._check(message)
    return None if problem is not None else payment.delta


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(["payment", "refund", "correction"]), text=TEXT, reason=st.sampled_from(["", " ", "why"]))
@example(kind="correction", text="-0", reason="why")
@example(kind="correction", text="-+5", reason="why")
@example(kind="refund", text="+5", reason="why")
@example(kind="payment", text="-5", reason="")
def test_the_stage_moves_the_balance_exactly_as_the_model_says(kind, text, reason):
    expected = model_delta(kind, text, reason)
    assert stage_delta({"id": "p", "account": "u1", "amount": text, "kind": kind, "reason": reason}) == expected
