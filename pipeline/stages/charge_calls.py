"""cdr.rated -> balance.charges: each call debits its accounts once, however often delivered.

`charged_calls` remembers, per call, the cdr.rated position that charged it. The same position
seen again is a replay after a crash: its debits are sent again (the ledger drops what it already
applied). Another position with the same call is a second delivery: nothing is charged.

Calls are remembered for RATING_DEDUP_DAYS by their start (rate_cdrs rejects older CDRs as
`too_old`): the key begins with the start day, so expiring a day is a range of keys, deleted
with tombstones on the changelog, and the state stays bounded on disk and in the changelog.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pipeline.balances.charges import charges_for
from pipeline.runtime.outputs import Context
from pipeline.schemas import wire
from pipeline.stages.base import PipelineStage

STORE = "charged_calls"
EXPIRE_PER_BATCH = 20_000  # tombstones per batch at most: a day of calls expires over a few batches


def call_state_key(start_time: datetime, call_key: bytes) -> bytes:
    """`YYYYMMDD|server/call`: keys sort by day, so a day expires as one range."""
    return start_time.astimezone(timezone.utc).strftime("%Y%m%d").encode() + b"|" + call_key


class ChargeCalls(PipelineStage):
    name = "charge"
    stores = (STORE,)

    def __init__(self, settings, clock=lambda: datetime.now(timezone.utc)) -> None:
        super().__init__(settings)
        self.sources = (settings.topic("cdr.rated"),)
        self.charges_topic = settings.topic("balance.charges")
        self.batch_size = settings.balance_batch_size
        self.batch_seconds = settings.balance_batch_seconds
        self.clock = clock
        self.expired_before: dict[int, bytes] = {}  # partition -> day key expired up to

    async def handle(self, messages: list, ctx: Context) -> None:
        for message in messages:
            record = wire.decode("rated_call.v1", message.value)
            if record.get("rerate_id"):
                continue  # a re-rating's new version: balances move by its adjustments, not here
            key = call_state_key(record["start_time"], message.key)
            origin = f"{message.partition}:{message.offset}".encode()
            charged_at = ctx.get(STORE, message.partition, key)
            if charged_at is not None and charged_at != origin:
                continue  # a second delivery of a call already charged
            debits = charges_for(record)
            for account, amount in debits:
                charge = {
                    "account": account,
                    "call": message.key.decode(),
                    "amount": str(amount),
                    "origin_partition": message.partition,
                    "origin_offset": message.offset,
                    "rated_ms": message.timestamp,
                }
                ctx.send(self.charges_topic, account.encode(),
                         wire.encode("balance_charge.v1", charge, self.settings.wire_format))
            if charged_at is None and debits:
                ctx.put(STORE, message.partition, key, origin)
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
