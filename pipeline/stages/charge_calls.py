"""cdr.rated -> balance.charges: each call debits its accounts once, however often delivered.

The debits of a batch go out as one message per account and cdr.rated partition (schema
balance_charges.v2: the offsets and amounts, in order), not one per debit: per message was the
whole worker's biggest cost. The ledger applies each debit whose offset is above its watermark
for that partition, so a replay that cuts batches differently still charges each call once.

`charged_calls` remembers, per call, the cdr.rated position that charged it. The same position
seen again is a replay after a crash: its debits are sent again (the ledger drops what it already
applied). Another position with the same call is a second delivery: nothing is charged.

Calls are remembered for RATING_DEDUP_DAYS by their start (rate_cdrs rejects older CDRs as
`too_old`): the key begins with the start day, so expiring a day is a range of keys, deleted
with tombstones on the changelog, and the state stays bounded on disk and in the changelog.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import orjson

from pipeline.balances.charges import charges_for
from pipeline.kafka.message import Message, key_of, value_of
from pipeline.kafka.topics import AUTH_SETTLEMENTS, BALANCE_CHARGES, CDR_RATED
from pipeline.runtime.outputs import Context
from pipeline.schemas import wire
from pipeline.schemas.cdr import call_key
from pipeline.settings import Settings
from pipeline.stages.base import PipelineStage

STORE = "charged_calls"
EXPIRE_PER_BATCH = 20_000  # tombstones per batch at most: a day of calls expires over a few batches
CHARGES_SCHEMA = "balance_charges.v2"
SCHEMA_HEADER = "rating-schema"  # tells v2 from v1 records, Avro ones included
CHARGES_HEADER = (SCHEMA_HEADER, CHARGES_SCHEMA.encode())
DEBITS_PER_MESSAGE = 2_000  # ~60 kB of JSON at most, far below the topic's 1 MiB
SETTLED_PER_MESSAGE = 5_000  # rated calls per auth.settlements message: ~350 kB at most
_DAY_MS = 86_400_000


def call_state_key(start_time: datetime, call_key: bytes) -> bytes:
    """`YYYYMMDD|server/call`: keys sort by day, so a day expires as one range."""
    return _day_prefix(wire.millis(start_time) // _DAY_MS) + b"|" + call_key


@lru_cache(maxsize=4096)
def _day_prefix(day: int) -> bytes:
    return datetime.fromtimestamp(day * 86_400, timezone.utc).strftime("%Y%m%d").encode()


@dataclass
class _Debits:
    """One account's debits from one cdr.rated partition in a batch, in offset order."""
    offsets: list[int] = field(default_factory=list)
    amounts: list[str] = field(default_factory=list)
    newest_ms: int = 0  # of the newest cdr.rated record among them


class ChargeCalls(PipelineStage):
    name = "charge"
    stores = (STORE,)
    fetch_min_bytes = 16384  # ~20 rated calls: fewer, fuller fetches; at most 20 ms added when quiet

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        super().__init__(settings)
        self.sources = (settings.topic(CDR_RATED),)
        self.charges_topic = settings.topic(BALANCE_CHARGES)
        self.settlements_topic = settings.topic(AUTH_SETTLEMENTS)
        self.batch_size = settings.balance_batch_size
        self.batch_seconds = settings.balance_batch_seconds
        self.clock = clock
        self.expired_before: dict[int, bytes] = {}  # partition -> day key expired up to

    async def handle(self, messages: list[Message], ctx: Context) -> None:
        debits: dict[tuple[str, int], _Debits] = {}  # (account, cdr.rated partition) ->
        # [hold key, partition, offset, accounts debited]: the authorizer's. The hold key is the call's
        # without its segment: an authorization holds for the whole call, and its first segment's
        # record settles it (the later ones find it settled and are charged as any call)
        settled: list[list[Any]] = []
        for message in messages:
            # the charges need only strings, and the day key comes from the epoch milliseconds
            record = wire.decode("rated_call.v1", value_of(message), datetimes=False)
            if record.get("rerate_id"):
                continue  # a re-rating's new version: balances move by its adjustments, not here
            key = call_state_key(record["start_time"], key_of(message))
            origin = b"%d:%d" % (message.partition, message.offset)
            charged_at = ctx.get(STORE, message.partition, key)
            if charged_at is not None and charged_at != origin:
                continue  # a second delivery of a call already charged
            owed = charges_for(record)
            settled.append([call_key(record["server_id"], record["call_id"]), message.partition, message.offset,
                            [a for a, _ in owed]])
            for account, amount in owed:
                found = debits.setdefault((account, message.partition), _Debits())
                found.offsets.append(message.offset)
                found.amounts.append(str(amount))
                found.newest_ms = max(found.newest_ms, message.timestamp or 0)
            if charged_at is None and owed:
                ctx.put(STORE, message.partition, key, origin)
        for (account, partition), found in debits.items():
            for start in range(0, len(found.offsets), DEBITS_PER_MESSAGE):
                charge = {"account": account, "origin_partition": partition,
                          "offsets": found.offsets[start:start + DEBITS_PER_MESSAGE],
                          "amounts": found.amounts[start:start + DEBITS_PER_MESSAGE],
                          "rated_ms": found.newest_ms or None}
                ctx.send(self.charges_topic, account.encode(),
                         wire.encode(CHARGES_SCHEMA, charge, self.settings.wire_format), headers=[CHARGES_HEADER])
        for start in range(0, len(settled), SETTLED_PER_MESSAGE):
            ctx.send(self.settlements_topic, b"", orjson.dumps({"calls": settled[start:start + SETTLED_PER_MESSAGE]}))
        self._expire({m.partition for m in messages}, ctx)

    def _expire(self, partitions: set[int], ctx: Context) -> None:
        """Forget calls that started before the window, a bounded number per batch."""
        cutoff = (self.clock() - timedelta(days=self.settings.dedup_days)).strftime("%Y%m%d").encode()
        for partition in partitions:
            if self.expired_before.get(partition) == cutoff:
                continue
            state = ctx.partition_state(STORE, partition)
            removed = 0
            for key, _ in state.items():
                if key >= cutoff or removed >= EXPIRE_PER_BATCH:
                    break
                ctx.delete(STORE, partition, key)
                removed += 1
            if removed < EXPIRE_PER_BATCH:
                self.expired_before[partition] = cutoff  # nothing older left: done for today
