"""Stage runtime tests on the in-memory broker (tests/support/memory_broker.py): seconds, no Kafka."""
from __future__ import annotations

import orjson
import pytest

from pipeline.runtime.checkpoint import Checkpointer, Stage
from pipeline.runtime.outputs import Record
from tests.support.memory_broker import MemoryBroker


class CountingStage(Stage):
    """Counts messages per key in its store and echoes each to `out` with the count so far.

    Idempotent like the ledgers: the count and the last offset counted are one state value, so
    a message read again after a crash is recognised and not counted twice."""

    name = "count"
    sources = ("in",)
    stores = ("counts",)
    batch_size = 100

    def __init__(self, poison: bytes | None = None) -> None:
        self.poison = poison  # a value this stage cannot handle (a bug, for the tests)

    async def handle(self, messages, ctx) -> None:
        for m in messages:
            if m.value == self.poison:
                raise ValueError("cannot handle this one")
            state = orjson.loads(ctx.get("counts", m.partition, m.key) or b'{"count": 0, "offset": -1}')
            if m.offset <= state["offset"]:
                continue  # a replay of what this state already counted
            state = {"count": state["count"] + 1, "offset": m.offset}
            ctx.put("counts", m.partition, m.key, orjson.dumps(state))
            ctx.send("out", m.key, orjson.dumps({"value": m.value.decode(), "count": state["count"]}))

    def dead_letter(self, message, reason, detail) -> Record:
        return Record("rejected", message.key, orjson.dumps({"reason": reason, "detail": detail,
                                                              "offset": message.offset}))


@pytest.fixture
def broker() -> MemoryBroker:
    broker = MemoryBroker(default_partitions=2)
    for topic in ("in", "out", "rejected", "state.counts"):
        broker.create_topic(topic)
    return broker


@pytest.fixture
def make_checkpointer(broker, tmp_path):
    made = []

    def make(stage: Stage, state_dir=None, max_bytes=None) -> Checkpointer:
        checkpointer = Checkpointer(stage, broker.clients(), state_dir=state_dir or tmp_path / "state",
                                    changelog_topic=lambda name: f"state.{name}", max_bytes=max_bytes or {})
        made.append(checkpointer)
        return checkpointer

    yield make
    for checkpointer in made:
        for store in checkpointer.stores.values():
            store.close()


async def run_steps(checkpointer: Checkpointer, steps: int = 5) -> None:
    for _ in range(steps):
        await checkpointer._step()
