"""Keyed state on disk: RocksDB per (store, partition), restored from a compacted changelog.

The way Faust's and quix-streams' tables keep state: partition p of a store holds the keys of
partition p of the stage's sources and is written to partition p of the changelog topic
`state.<store>`. Each RocksDB keeps, in the same write batch as the data, the offset of the last
changelog record it contains; a restart restores only the changelog's tail after that offset.

Writes reach RocksDB only after the broker acknowledged them on the changelog (the checkpoint
loop calls `apply` then), so the local copy is never ahead of the changelog: whoever owns the
partition next, here or on another worker, rebuilds exactly the same state from it.
"""
from __future__ import annotations

import fcntl
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from aiokafka import TopicPartition
from rocksdict import BlockBasedOptions, Cache, Options, Rdict, WriteBatch

from pipeline.kafka.message import Client, Message
from pipeline.kafka.topic_read import read_to_end

log = logging.getLogger(__name__)
# the empty key never names state (accounts, calls and payment ids are never empty): it holds
# the changelog offset this copy contains, written in the same batch as the data
OFFSET_KEY = b""


# One block cache for every partition's DB of this process, and small memtables: RocksDB's
# defaults (64 MB write buffers per DB) would put a worker holding 8 partitions of 3 stores past
# a gigabyte before it stored anything.
_BLOCK_CACHE_BYTES = 32 * 1024 * 1024
_WRITE_BUFFER_BYTES = 4 * 1024 * 1024
_cache: Cache | None = None


def _options() -> Options:
    global _cache
    if _cache is None:
        _cache = Cache(_BLOCK_CACHE_BYTES)
    table = BlockBasedOptions()
    table.set_block_cache(_cache)
    table.set_bloom_filter(10, False)  # a dedup lookup of a call never seen is the common case
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_write_buffer_size(_WRITE_BUFFER_BYTES)
    options.set_max_write_buffer_number(2)
    options.set_block_based_table_factory(table)
    return options


class StateNotHeld(Exception):
    """A stage read state of a partition this worker does not hold (yet): not the message's
    fault, so the loop retries instead of setting the message aside."""


def claim_state_dir(base: Path) -> Path:
    """A directory of `base` that no other live process uses: `slot-0`, else `slot-1`, ...

    Several workers on one machine may share RATING_LOCAL_DIR, and RocksDB allows one process per
    database. A slot is held by an exclusive lock on `slot-N.lock`, which the kernel releases when
    the process ends however it ends (SIGKILL included), so a restarted worker gets back the slot
    and the state its predecessor left on disk.
    """
    base.mkdir(parents=True, exist_ok=True)
    slot = 0
    while True:
        fd = os.open(base / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            slot += 1
            continue
        _held_slots.append(fd)  # kept open for the life of the process
        return base / f"slot-{slot}"


_held_slots: list[int] = []


class PartitionState:
    """One partition of a store, on disk."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = Rdict(str(path), _options())

    def get(self, key: bytes) -> bytes | None:
        return cast("bytes | None", self.db.get(key))  # raw mode: bytes in, bytes out

    @property
    def changelog_offset(self) -> int:
        """Offset of the next changelog record this copy has not seen."""
        raw = self.db.get(OFFSET_KEY)
        return int(raw) if raw is not None else 0

    def apply(self, writes: dict[bytes, bytes | None], next_offset: int) -> None:
        batch = WriteBatch(raw_mode=True)
        for key, value in writes.items():
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        batch.put(OFFSET_KEY, str(next_offset).encode())
        self.db.write(batch)

    def items(self, from_key: bytes = b"\x00") -> Iterator[tuple[bytes, bytes]]:
        """Keys in byte order from `from_key` (the offset key sorts first and is skipped)."""
        for key, value in self.db.items(from_key=from_key):
            if key != OFFSET_KEY:
                yield cast(bytes, key), cast(bytes, value)

    def close(self) -> None:
        self.db.close()

    def destroy(self) -> None:
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)


class Store:
    """A stage's keyed state: the partitions this worker holds, each in its own RocksDB."""

    def __init__(self, name: str, topic: str, directory: Path) -> None:
        self.name = name
        self.topic = topic  # the changelog, full name
        self.directory = directory / name
        self.partitions: dict[int, PartitionState] = {}

    def partition(self, partition: int) -> PartitionState:
        state = self.partitions.get(partition)
        if state is None:
            raise StateNotHeld(f"{self.name}: partition {partition} is not held by this worker (yet)")
        return state

    def estimated_keys(self) -> int:
        return sum(state.db.property_int_value("rocksdb.estimate-num-keys") or 0
                   for state in self.partitions.values())

    async def hold(self, partitions: set[int], reader: Client) -> None:
        """Keep exactly these partitions open: close the others, bring new ones up to date.

        A partition given back is closed but stays on disk: if it comes back (a rebalance that
        returns it, a restart) only the changelog written since is read.
        """
        for partition in set(self.partitions) - partitions:
            self.partitions.pop(partition).close()
        missing = sorted(partitions - set(self.partitions))
        if missing:
            await self.restore(missing, reader)

    async def restore(self, partitions: list[int], reader: Client) -> int:
        """Open these partitions and read their changelog tail; returns how many records."""
        tps = [TopicPartition(self.topic, p) for p in partitions]
        reader.assign(tps)
        firsts = await reader.beginning_offsets(tps)
        ends = await reader.end_offsets(tps)
        starts = {}
        for tp in tps:
            state = PartitionState(self.directory / str(tp.partition))
            stored = state.changelog_offset
            if stored > ends[tp] or (stored < firsts[tp] and stored != 0):
                # the changelog was recreated or lost its head: this copy cannot be trusted
                log.warning("%s[%d]: local state at %d but changelog spans %d..%d; rebuilding",
                            self.name, tp.partition, stored, firsts[tp], ends[tp])
                state.destroy()
                state = PartitionState(self.directory / str(tp.partition))
                stored = 0
            self.partitions[tp.partition] = state
            starts[tp] = stored
        pending: dict[int, dict[bytes, bytes | None]] = {p: {} for p in partitions}
        count = 0

        def collect(message: Message) -> None:
            nonlocal count
            pending[message.partition][cast(bytes, message.key)] = message.value  # a changelog record has a key
            count += 1
            if len(pending[message.partition]) >= 50_000:  # bounded memory while restoring
                self.partitions[message.partition].apply(pending[message.partition], message.offset + 1)
                pending[message.partition] = {}

        try:
            await read_to_end(reader, tps, collect, from_offsets=starts)
        finally:
            # left assigned, the reader would go on fetching the changelog the stage itself
            # writes (every 20 ms when idle: a fifth of an idle worker's CPU), for nothing
            reader.assign([])
        for tp in tps:
            self.partitions[tp.partition].apply(pending[tp.partition], ends[tp])
        log.info("%s: partitions %s up to date (%d changelog records read)", self.name, partitions, count)
        return count

    def close(self) -> None:
        for state in self.partitions.values():
            state.close()
        self.partitions.clear()
