"""The stages' `handle` with no broker: fake messages in, what they would send out.

A stage's loop (getmany -> handle -> flush -> commit) is exercised on the real broker by the
integration tests; here each stage's decisions are checked message by message.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from pipeline.state_store import ChangelogStore


@dataclass
class FakeMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = 0


class FakeSender:
    """Records what a stage sends, in order, as (topic, partition or None, key, value)."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []

    async def add(self, topic, key, value) -> None:
        self.sent.append((topic, None, key, value))

    async def add_to(self, topic, partition, key, value) -> None:
        self.sent.append((topic, partition, key, value))

    def to(self, topic: str) -> list[tuple]:
        return [s for s in self.sent if s[0] == topic]


def stage_with_stores(stage_class, partitions=range(8)):
    """A stage object with empty in-memory stores for these partitions, not started."""
    stage = stage_class.__new__(stage_class)
    stage.stores_by_name = {}
    for name in stage_class.stores:
        store = ChangelogStore(stage_class.settings, name)
        store.partitions = {p: {} for p in partitions}
        stage.stores_by_name[name] = store
    return stage


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()
