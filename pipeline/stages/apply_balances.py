"""balance.charges + balance.payments.accepted + balance.adjustments -> each account's ledger, and
balance.updates for the guard. The sources are keyed by account and partitioned alike
(co-partitioned): whoever owns partition p sees every charge, payment and adjustment of the
accounts of p.

Payment ids (and re-rating adjustment ids, `run/call/account`) are remembered per account in
`payment_ids` (key `account NUL id`, value the amount and the day) for RATING_DEDUP_DAYS: the
same id again changes nothing, so a re-rating run repeated or resumed after a crash moves each
balance once; the same id with another amount is refused and reported on cdr.rejected
(`bad_payment`), never silently dropped.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import orjson

from pipeline.balances.ledger import Ledger
from pipeline.cdr.process import Source, rejection
from pipeline.kafka.message import Message, key_of, value_of
from pipeline.kafka.topics import BALANCE_ADJUSTMENTS, BALANCE_CHARGES, BALANCE_PAYMENTS_ACCEPTED, BALANCE_UPDATES
from pipeline.runtime.outputs import Context
from pipeline.schemas import wire
from pipeline.settings import Settings
from pipeline.stages.base import PipelineStage
from pipeline.stages.charge_calls import CHARGES_HEADER, CHARGES_SCHEMA

LEDGERS, PAYMENT_IDS = "ledgers", "payment_ids"
EXPIRE_EVERY = 3600.0  # seconds between scans for payment ids past the window


class ApplyBalances(PipelineStage):
    name = "balance"
    stores = (LEDGERS, PAYMENT_IDS)

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        super().__init__(settings)
        self.charges_topic = settings.topic(BALANCE_CHARGES)
        self.adjustments_topic = settings.topic(BALANCE_ADJUSTMENTS)
        self.sources = (self.charges_topic, settings.topic(BALANCE_PAYMENTS_ACCEPTED), self.adjustments_topic)
        self.updates_topic = settings.topic(BALANCE_UPDATES)
        self.batch_size = settings.balance_batch_size
        self.batch_seconds = settings.balance_batch_seconds
        self.clock = clock
        self.expired_at: dict[int, datetime] = {}

    async def handle(self, messages: list[Message], ctx: Context) -> None:
        ledgers: dict[tuple[int, bytes], Ledger] = {}
        changed: dict[tuple[int, bytes], int | None] = {}  # -> newest rated_ms in the change
        for message in messages:
            where = (message.partition, key_of(message))  # every record here is keyed by account
            ledger = ledgers.get(where)
            if ledger is None:
                ledger = ledgers[where] = Ledger.from_json(ctx.get(LEDGERS, *where))
            if message.topic == self.charges_topic:
                applied, rated_ms = self._debit(message, ledger)
                if applied:
                    changed[where] = max(changed.get(where) or 0, rated_ms or 0) or None
            elif self._credit(message, ledger, ctx):
                changed.setdefault(where, None)
        # once per account per batch: the ledger (with its watermarks) and the guard's snapshot
        for (partition, account), rated_ms in changed.items():
            ledger = ledgers[(partition, account)]
            ctx.put(LEDGERS, partition, account, ledger.to_json())
            update = {"account": account.decode(), "balance": str(ledger.balance), "seq": ledger.seq,
                      "rated_ms": rated_ms,
                      "watermarks": {str(p): o for p, o in ledger.watermarks.items()}}
            ctx.send(self.updates_topic, account, wire.encode("balance_update.v1", update, self.settings.wire_format))
        self._expire_payment_ids({m.partition for m in messages}, ctx)

    def _debit(self, message: Message, ledger: Ledger) -> tuple[bool, int | None]:
        """A balance.charges message: v2 carries a batch's debits of the account from one cdr.rated
        partition, v1 (still read, e.g. left on the topic by an older worker) a single debit.
        Each debit applies once: the ledger skips an origin offset at or below its watermark.
        Returns whether any applied, and the epoch ms of the newest cdr.rated record behind it."""
        if CHARGES_HEADER in (message.headers or ()):
            charge = wire.decode(CHARGES_SCHEMA, value_of(message))
            partition, applied = charge["origin_partition"], False
            for offset, amount in zip(charge["offsets"], charge["amounts"], strict=True):
                applied = ledger.debit(partition, offset, Decimal(amount)) or applied
        else:
            charge = wire.decode("balance_charge.v1", value_of(message))
            applied = ledger.debit(charge["origin_partition"], charge["origin_offset"], Decimal(charge["amount"]))
        return applied, charge.get("rated_ms")

    def _credit(self, message: Message, ledger: Ledger, ctx: Context) -> bool:
        """A payment (adds its amount) or a re-rating adjustment (subtracts its amount, the new
        price minus the old), each applied once per id."""
        payment = orjson.loads(value_of(message))
        adjustment = message.topic == self.adjustments_topic
        amount = Decimal(payment["amount"])
        id_key = key_of(message) + b"\x00" + (b"adjustment:" if adjustment else b"") + payment["id"].encode()
        seen = ctx.get(PAYMENT_IDS, message.partition, id_key)
        if seen is not None:
            first = Decimal(orjson.loads(seen)["amount"])
            if first != amount:  # the same id for another amount: a billing system's error, say so
                source = Source(message.topic, message.partition, message.offset)
                if "origin" in payment:  # where the billing system wrote it
                    topic, partition, offset = payment["origin"].rsplit("/", 2)
                    source = Source(topic, int(partition), int(offset))
                what = "adjustment" if adjustment else "payment"
                out = rejection(message.key, message.value, source, "bad_payment",
                                f"{what} id {payment['id']!r} was already applied to {payment['account']!r} "
                                f"with amount {first}; this one says {amount} and is not applied")
                ctx.send(self.rejected_topic, out.key, out.value)
            return False
        ledger.credit(-amount if adjustment else amount)
        # the day it was made (the billing system's record, or the re-rating run's): kept that long
        made_ms = payment.get("timestamp") or message.timestamp
        day = datetime.fromtimestamp(made_ms / 1000, timezone.utc).strftime("%Y%m%d")
        ctx.put(PAYMENT_IDS, message.partition, id_key, orjson.dumps({"amount": str(amount), "day": day}))
        return True

    def _expire_payment_ids(self, partitions: set[int], ctx: Context) -> None:
        """Forget payment ids older than the window (a scan an hour: payments are few)."""
        now = self.clock()
        cutoff = (now - timedelta(days=self.settings.dedup_days)).strftime("%Y%m%d")
        for partition in partitions:
            last = self.expired_at.get(partition)
            if last is not None and (now - last).total_seconds() < EXPIRE_EVERY:
                continue
            self.expired_at[partition] = now
            for key, value in ctx.partition_state(PAYMENT_IDS, partition).items():
                if orjson.loads(value)["day"] < cutoff:
                    ctx.delete(PAYMENT_IDS, partition, key)
