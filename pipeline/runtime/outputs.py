"""What handling one batch produced: records to send and state writes, held until they are sent.

A batch's writes are an overlay over the store: the stage reads its own writes, then those of
batches still waiting for the broker's acknowledgement, then RocksDB. Nothing reaches RocksDB
or the source offsets before the broker acknowledged the batch's records and changelog writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.runtime.state import PartitionState, Store


class OutputTooLarge(Exception):
    """A record the topic would refuse; it belongs to the message being handled."""


@dataclass(slots=True)
class Record:
    topic: str  # full name
    key: bytes | None
    value: bytes | None
    partition: int | None = None  # None: chosen from the key, as the Java client would
    headers: list[tuple[str, bytes]] | None = None


@dataclass
class BatchOutputs:
    records: list[Record] = field(default_factory=list)
    # (store, partition) -> key -> value (None deletes)
    writes: dict[tuple[str, int], dict[bytes, bytes | None]] = field(default_factory=dict)
    # what the stage writes elsewhere once the batch is acknowledged (the sink's rows): handed
    # to its `flush`, and dropped with the batch if the batch is dropped
    stash: list[Any] = field(default_factory=list)

    def merge(self, other: BatchOutputs) -> None:
        self.records.extend(other.records)
        self.stash.extend(other.stash)
        for where, writes in other.writes.items():
            self.writes.setdefault(where, {}).update(writes)

    def find(self, store: str, partition: int, key: bytes) -> tuple[bool, bytes | None]:
        writes = self.writes.get((store, partition))
        if writes is not None and key in writes:
            return True, writes[key]
        return False, None


class Context:
    """What a stage's `handle` works with: send records, read and write its state."""

    def __init__(self, outputs: BatchOutputs, layers: list[BatchOutputs], stores: dict[str, Store],
                 max_bytes: dict[str, int]) -> None:
        self.outputs = outputs
        self._layers = layers  # newest first: other overlays of this batch, then batches in flight
        self._stores = stores
        self._max_bytes = max_bytes

    def send(self, topic: str, key: bytes | None, value: bytes, *, partition: int | None = None,
             headers: list[tuple[str, bytes]] | None = None) -> None:
        self._check_size(topic, key, value)
        self.outputs.records.append(Record(topic, key, value, partition, headers))

    def stash(self, item: Any) -> None:
        """Keep `item` for the stage's `flush`, after this batch's records are acknowledged."""
        self.outputs.stash.append(item)

    def get(self, store: str, partition: int, key: bytes) -> bytes | None:
        for layer in (self.outputs, *self._layers):
            found, value = layer.find(store, partition, key)
            if found:
                return value
        return self._stores[store].partition(partition).get(key)

    def put(self, store: str, partition: int, key: bytes, value: bytes | None) -> None:
        if value is not None:
            self._check_size(self._stores[store].topic, key, value)
        self.outputs.writes.setdefault((store, partition), {})[key] = value

    def partition_state(self, store: str, partition: int) -> PartitionState:
        """The store's partition on disk (acknowledged writes only), to scan ranges of keys."""
        return self._stores[store].partition(partition)

    def delete(self, store: str, partition: int, key: bytes) -> None:
        self.put(store, partition, key, None)

    def _check_size(self, topic: str, key: bytes | None, value: bytes) -> None:
        limit = self._max_bytes.get(topic)
        size = len(value) + len(key or b"")
        if limit is not None and size > limit:
            raise OutputTooLarge(f"a record of {size} bytes for {topic} (its limit is {limit} bytes)")
