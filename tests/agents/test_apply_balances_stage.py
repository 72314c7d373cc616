"""apply_balances: debits and payments into ledgers, once each; snapshots for the guard; bad payments rejected."""
from __future__ import annotations

from decimal import Decimal

import orjson

from pipeline.agents.apply_balances import CHARGES, REJECTED, UPDATES, ApplyBalances
from pipeline.balances.ledger import Ledger
from pipeline.schemas import wire
from tests.agents.conftest import FakeMessage, stage_with_stores

PAYMENTS = ApplyBalances.settings.topic("balance.payments")


def charge(account: str, amount: str, origin_offset: int, partition: int = 1, offset: int = 0) -> FakeMessage:
    body = {"account": account, "call": f"ast1/c{origin_offset}", "amount": amount,
            "origin_partition": 5, "origin_offset": origin_offset}
    return FakeMessage(CHARGES, partition, offset, account.encode(), wire.encode("balance_charge.v1", body))


def payment(account: str, amount, payment_id: str, partition: int = 1, key: str | None = None) -> FakeMessage:
    body = orjson.dumps({"id": payment_id, "account": account, "amount": amount})
    return FakeMessage(PAYMENTS, partition, 0, (key or account).encode(), body)


def ledger_of(stage, account: str, partition: int = 1) -> Ledger:
    return Ledger.from_json(stage.stores_by_name["ledgers"].partitions[partition].get(account.encode()))


async def test_debits_and_payments_make_the_balance_once_each(sender):
    stage = stage_with_stores(ApplyBalances)
    batch = [payment("u1", "10", "p1"), charge("u1", "2.5", 7), charge("u1", "1.25", 8),
             charge("u1", "2.5", 7),  # a replayed debit
             payment("u1", "10", "p1")]  # the same payment again
    await stage.handle(batch, sender)
    assert ledger_of(stage, "u1").balance == Decimal("6.25")
    # one snapshot per account per batch, with the balance after the batch
    updates = [wire.decode("balance_update.v1", v) for _, _, _, v in sender.to(UPDATES)]
    assert updates == [{"account": "u1", "balance": "6.25", "seq": 3}]


async def test_a_later_batch_continues_from_the_stored_ledger(sender):
    stage = stage_with_stores(ApplyBalances)
    await stage.handle([charge("r1", "1.2", 7)], sender)
    await stage.handle([charge("r1", "1.2", 7), charge("r1", "1.2", 9)], sender)
    assert ledger_of(stage, "r1").balance == Decimal("-2.4")


async def test_a_bad_payment_is_rejected_with_its_reason_and_the_rest_applied(sender):
    stage = stage_with_stores(ApplyBalances)
    await stage.handle([payment("u1", 0.1, "float"), payment("u2", "5", "p9", key="u1"),
                        payment("u1", "3", "ok")], sender)
    rejected = [orjson.loads(v) for _, _, _, v in sender.to(REJECTED)]
    assert [r["reason"] for r in rejected] == ["bad_payment", "bad_payment"]
    assert "decimal string" in rejected[0]["detail"] and "not the payment's account" in rejected[1]["detail"]
    assert ledger_of(stage, "u1").balance == Decimal("3")
