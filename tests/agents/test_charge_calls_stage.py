"""charge_calls: one debit per party per call; a second delivery charges nothing; a replay re-sends."""
from __future__ import annotations

from decimal import Decimal

from pipeline.agents.charge_calls import CHARGES, ChargeCalls
from pipeline.schemas import wire
from tests.agents.conftest import FakeMessage, stage_with_stores
from tests.unit.sinks.rated_example import example_json

RATED = ChargeCalls.settings.topic("cdr.rated")


def rated(offset: int, partition: int = 3, **changes) -> FakeMessage:
    record = {**example_json(), **changes}
    key = f"{record['server_id']}/{record['call_id']}".encode()
    return FakeMessage(RATED, partition, offset, key, wire.encode("rated_call.v1", record))


def debits(sender) -> list[tuple[str, Decimal, int]]:
    out = []
    for _, _, key, value in sender.to(CHARGES):
        charge = wire.decode("balance_charge.v1", value)
        assert key == charge["account"].encode()  # keyed by account: the ledger's partition
        out.append((charge["account"], Decimal(charge["amount"]), charge["origin_offset"]))
    return out


async def test_a_call_debits_the_user_his_price_and_the_reseller_his(sender):
    stage = stage_with_stores(ChargeCalls)
    await stage.handle([rated(10)], sender)
    assert debits(sender) == [("u1", Decimal("2.000000"), 10), ("r1", Decimal("1.200000"), 10)]
    # the call is remembered in the changelog, in the partition it came from
    assert [(t, p) for t, p, *_ in sender.sent if t.endswith("state.charged_calls")] == [
        (ChargeCalls.settings.topic("state.charged_calls"), 3)]


async def test_a_second_delivery_of_the_same_call_charges_nothing(sender):
    stage = stage_with_stores(ChargeCalls)
    await stage.handle([rated(10), rated(11)], sender)  # same call, another position
    await stage.handle([rated(57)], sender)
    assert [offset for *_, offset in debits(sender)] == [10, 10]


async def test_a_replay_of_the_same_position_sends_the_debits_again(sender):
    stage = stage_with_stores(ChargeCalls)
    await stage.handle([rated(10)], sender)
    await stage.handle([rated(10)], sender)  # re-read after a crash: the ledger drops the repeat
    assert [offset for *_, offset in debits(sender)] == [10, 10, 10, 10]


async def test_own_provider_and_free_calls_do_not_debit_the_reseller(sender):
    stage = stage_with_stores(ChargeCalls)
    await stage.handle([rated(1, call_id="pro", own_provider=True),
                        rated(2, call_id="free", user_price="0", reseller_price="0")], sender)
    assert debits(sender) == [("u1", Decimal("2.000000"), 1)]
    stored = stage.stores_by_name["charged_calls"].partitions[3]
    assert b"ast1/free" not in stored  # nothing charged: nothing to remember
