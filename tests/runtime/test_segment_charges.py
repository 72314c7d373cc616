"""A call in several records (docs/devices.md "A call in several records") through the charge stage on the
in-memory broker: each segment is charged once on its own key, and every segment settles the
authorization of the call as a whole (its key without the segment)."""
from __future__ import annotations

import orjson
from aiokafka import TopicPartition

from pipeline.stages.charge_calls import ChargeCalls
from tests.runtime.conftest import run_steps
from tests.runtime.test_money_stages import NOW, SETTINGS, _commit_every_step, charges, rated, topics  # noqa: F401


def segment(call_id: str, number: str, price: str) -> tuple[bytes, bytes]:
    key, value = rated(call_id, segment=number, user_price=price)
    return key + f"/{number}".encode(), value


async def test_two_segments_are_charged_each_once_and_both_name_the_calls_hold(topics, make_checkpointer):
    first, second = segment("c1", "1", "2.000000"), segment("c1", "2", "0.500000")
    for key, value in (first, second, second, first):  # the same records delivered again
        topics.append(TopicPartition("cdr.rated", 0), key, value)
    stage = make_checkpointer(ChargeCalls(SETTINGS, clock=lambda: NOW))
    await stage.start()
    await run_steps(stage, 3)
    await stage.stop()
    users = [c for c in charges(topics) if c["account"] == "u1"]
    assert [(c["origin_offset"], c["amount"]) for c in users] == [(0, "2.000000"), (1, "0.500000")]
    settled = [entry for r in topics.records("auth.settlements") for entry in orjson.loads(r.value)["calls"]]
    assert [(key, offset) for key, _, offset, _ in settled] == [("ast1/c1", 0), ("ast1/c1", 1)]
