"""Refunds and corrections through the payment stage and the ledgers on the in-memory broker: the
balance moves by exactly their signed amounts, once per id; a negative "payment" is rejected with
the rule, never silently dropped."""
from __future__ import annotations

from decimal import Decimal

import orjson
from aiokafka import TopicPartition

from pipeline.stages.accept_payments import AcceptPayments
from pipeline.stages.apply_balances import ApplyBalances
from tests.runtime.conftest import run_steps
from tests.runtime.test_money_stages import NOW, SETTINGS, _commit_every_step, balances, feed, topics  # noqa: F401


def send(broker, pid: str, amount: str, kind: str | None = None, reason: str = "") -> None:
    record = {"id": pid, "account": "u1", "amount": amount}
    if kind is not None:
        record.update(kind=kind, reason=reason)
    broker.append(TopicPartition("balance.payments", 0), b"u1", orjson.dumps(record))


async def test_a_refund_and_corrections_move_the_balance_by_exactly_their_signed_amounts(topics, feed,
                                                                                      make_checkpointer):
    send(topics, "pay-1", "10.000001")
    send(topics, "ref-1", "4.5", "refund", "unused credit returned")
    send(topics, "ref-1", "4.5", "refund", "unused credit returned")  # delivered twice: counted once
    send(topics, "cor-1", "-1.25", "correction", "double booking")
    send(topics, "cor-2", "0.000002", "correction", "rounding")
    send(topics, "bad-1", "-3")  # a negative payment: rejected, with the kind to use
    send(topics, "bad-2", "3", "refund", "")  # a refund without a reason
    accept = make_checkpointer(AcceptPayments(SETTINGS, feed))
    await accept.start()
    await run_steps(accept, 3)
    await accept.stop()
    accepted = [orjson.loads(r.value) for r in topics.records("balance.payments.accepted")]
    assert [(a["id"], a["amount"], a["kind"]) for a in accepted] == [
        ("pay-1", "10.000001", "payment"), ("ref-1", "-4.5", "refund"), ("ref-1", "-4.5", "refund"),
        ("cor-1", "-1.25", "correction"), ("cor-2", "0.000002", "correction")]
    rejected = [orjson.loads(r.value) for r in topics.records("cdr.rejected")]
    assert [r["reason"] for r in rejected] == ["bad_payment", "bad_payment"]
    assert 'kind "refund"' in rejected[0]["detail"] and "needs a reason" in rejected[1]["detail"]

    apply = make_checkpointer(ApplyBalances(SETTINGS, clock=lambda: NOW))
    await apply.start()
    await run_steps(apply, 3)
    await apply.stop()
    # 10.000001 - 4.5 - 1.25 + 0.000002, in Decimal: not a cent lost or made
    assert balances(topics) == {"u1": Decimal("4.250003")}
