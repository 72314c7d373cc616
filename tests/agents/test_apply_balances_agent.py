"""apply_balances: charges and payments change the balances table once each and announce the result."""
from decimal import Decimal

import orjson
import pytest

import pipeline.agents.apply_balances as module
from pipeline.app import app
from pipeline.balances.ledger import Ledger
from pipeline.schemas import wire
from tests.agents.conftest import put, until

PAYMENTS = module.topics.payments.get_topic_name()


@pytest.fixture
def agent():
    module.balances.data.clear()
    return app.agents["apply_balances"]


def charge(account: str, amount: str, partition: int, offset: int) -> bytes:
    return wire.encode("balance_charge.v1", {"account": account, "call": f"ast1/{offset}", "amount": amount,
                                             "origin_partition": partition, "origin_offset": offset})


def payment(pay_id: str, account: str, amount: str) -> bytes:
    return orjson.dumps({"id": pay_id, "account": account, "amount": amount})


def updates(sent) -> list[dict]:
    return [wire.decode("balance_update.v1", value) for topic, _, value in sent if topic == module.UPDATES]


def ledger(account: bytes) -> Ledger:
    return Ledger.from_json(module.balances.get(account))


async def test_payment_then_charges_give_the_balance(agent, sent):
    async with agent.test_context() as ctx:
        await put(ctx, PAYMENTS, b"u1", payment("pay-1", "u1", "10"), 0, 0)
        await until(lambda: updates(sent))
        await put(ctx, module.CHARGES, b"u1", charge("u1", "2.000000", 3, 100), 0, 0)
        await put(ctx, module.CHARGES, b"u1", charge("u1", "0.350000", 5, 7), 0, 1)
        await until(lambda: ledger(b"u1").seq == 3)
    assert ledger(b"u1").balance == Decimal("7.65")
    assert updates(sent)[-1] == {"account": "u1", "balance": "7.650000", "seq": 3}


async def test_redelivered_charges_and_payments_apply_once(agent, sent):
    async with agent.test_context() as ctx:
        for offset in range(3):  # the same charge and payment delivered three times
            await put(ctx, module.CHARGES, b"r1", charge("r1", "1.2", 2, 40), 0, offset)
            await put(ctx, PAYMENTS, b"r1", payment("pay-7", "r1", "5"), 0, offset)
        await put(ctx, module.CHARGES, b"r1", charge("r1", "1.2", 2, 39), 0, 9)  # older position: a replay
        await put(ctx, module.CHARGES, b"r1", charge("r1", "1.2", 2, 41), 0, 10)  # the next call
        await until(lambda: ledger(b"r1").seq == 3)
        await put(ctx, module.CHARGES, b"r1", charge("r1", "1.2", 2, 41), 0, 11)
        await put(ctx, PAYMENTS, b"r1", payment("pay-7", "r1", "5"), 0, 12)
        await put(ctx, PAYMENTS, b"r1", payment("pay-8", "r1", "1"), 0, 13)  # marks the end
        await until(lambda: ledger(b"r1").seq == 4)
    state = ledger(b"r1")
    assert (state.balance, state.seq, state.watermarks, state.payments) == \
        (Decimal("3.6"), 4, {2: 41}, {"pay-7", "pay-8"})
    assert [u["seq"] for u in updates(sent)] == sorted({u["seq"] for u in updates(sent)})  # never twice the same


async def test_accounts_have_separate_balances(agent, sent):
    async with agent.test_context() as ctx:
        await put(ctx, module.CHARGES, b"u1", charge("u1", "2", 0, 1), 0, 0)
        await put(ctx, module.CHARGES, b"r1", charge("r1", "1.2", 0, 1), 0, 1)  # same origin, other account
        await until(lambda: ledger(b"r1").seq == 1 and ledger(b"u1").seq == 1)
    assert (ledger(b"u1").balance, ledger(b"r1").balance) == (Decimal("-2"), Decimal("-1.2"))
    assert {u["account"] for u in updates(sent)} == {"u1", "r1"}


@pytest.mark.parametrize("key, value, words", [
    (b"u1", b'{"id": "p", "account": "u1", "amount": 0.1}', "amount"),
    (b"u1", b"not json", "JSON"),
    (b"u2", payment("p", "u1", "5"), "key"),
])
async def test_unreadable_payment_is_rejected_with_reason_and_changes_nothing(agent, sent, key, value, words):
    async with agent.test_context() as ctx:
        await put(ctx, PAYMENTS, key, value, 4, 17)
        await until(lambda: sent)
    [(topic, sent_key, body)] = sent
    rejection = orjson.loads(body)
    assert (topic, sent_key) == (module.REJECTED, key)
    assert (rejection["reason"], rejection["topic"], rejection["partition"], rejection["offset"]) == \
        ("bad_payment", PAYMENTS, 4, 17)
    assert words in rejection["detail"] and rejection["payload"] == value.decode()
    assert module.balances.get(b"u1") is None and module.balances.get(b"u2") is None
