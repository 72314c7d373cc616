"""The authorizer: answers auth.requests from the live balances, holds money for running calls,
and releases the holds when their CDRs are in the balances (or never came).

One authorizer sees everything it decides on: auth.requests, auth.settlements and balance.updates
have one partition each, and the stage's consumer group assigns partition 0 of all three to the
same member (range assignment), so every decision reads every hold and every balance, and two
decisions never race for the same money. Its state is one record per call (pipeline/authorize/holds.py)
in the store `auth_calls`; the record's changelog write IS the answer: the API waits for it on
state.auth_calls, so an answer is never seen before its holds are durable, and a worker killed
after answering restores them from that changelog. Asked again (a retransmitted INVITE, a second
API instance), the stored answer is written again, unchanged; nothing more is held.

Balances come from balance.updates (the guard's feed: each account's ledger after a batch, with the
cdr.rated offsets it includes). A hold covers its call's price until that call's debit is in the
balance read here; the charge stage names, on auth.settlements, the rated calls and whom they debit.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import cast

import orjson
from aiokafka import TopicPartition

from pipeline.authorize import cards
from pipeline.authorize.decide import Live, decide
from pipeline.authorize.holds import EXPIRED, LIVE, REFUSED, SETTLED, CallHold, HoldBook
from pipeline.authorize.request import AuthorizeRequest
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.follower import read_whole
from pipeline.kafka.message import Message, value_of
from pipeline.kafka.topics import AUTH_HOLDS, AUTH_REQUESTS, AUTH_SETTLEMENTS, BALANCE_ADJUSTMENTS, BALANCE_UPDATES
from pipeline.reference.feed import ReferenceFeed
from pipeline.runtime.outputs import Context
from pipeline.runtime.state import PartitionState
from pipeline.schemas import wire
from pipeline.schemas.cards import CardIn
from pipeline.settings import Settings
from pipeline.stages.base import PipelineStage

log = logging.getLogger(__name__)
STORE = "auth_calls"
PARTITION = 0
# an ended call's answer is kept this long for the same question asked again (a retransmitted
# INVITE comes within seconds; a switch failing over within minutes), then deleted
KEEP_ENDED_MS = 3_600_000
DAILY_EVERY_MS = 3_600_000  # cards' daily charges are looked at once an hour


class AuthorizeCalls(PipelineStage):
    name = "authorize"
    stores = (STORE,)
    handles_empty_batches = True  # holds expire while nothing arrives
    batch_size = 2000
    batch_seconds = 0.005
    fetch_max_wait_ms = 5  # an answer waits for this hop: fetch as soon as anything is there

    def __init__(self, settings: Settings, feed: ReferenceFeed, clients: KafkaClients,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(settings)
        self.feed = feed
        self.clients = clients
        self.clock = clock
        self.requests_topic = settings.topic(AUTH_REQUESTS)
        self.settlements_topic = settings.topic(AUTH_SETTLEMENTS)
        self.updates_topic = settings.topic(BALANCE_UPDATES)
        self.events_topic = settings.topic(AUTH_HOLDS)
        self.adjustments_topic = settings.topic(BALANCE_ADJUSTMENTS)
        self.daily_at = 0  # ms of the last scan for cards' daily charges
        self.sources = (self.requests_topic, self.settlements_topic, self.updates_topic)
        self.holds: HoldBook | None = None  # None: partition 0 is not ours
        self.balances: dict[str, Decimal] = {}  # the ledgers' balances, as balance.updates says
        self.seqs: dict[str, int] = {}  # and the newest snapshot seen of each (replays send older ones)
        self.ended: deque[tuple[int, str]] = deque()  # (ended at ms, call key), oldest first
        self.unwritten: list[CallHold] = []

    async def prepare(self) -> None:
        await self.feed.ready.wait()

    # --- taking over --------------------------------------------------------------------------------
    async def assigned(self, partitions: set[TopicPartition]) -> None:
        if not any(tp.topic == self.requests_topic for tp in partitions):
            self.holds = None
            return
        await self._rebuild()

    async def rollback(self) -> None:
        if self.holds is not None:
            await self._rebuild()

    async def _rebuild(self) -> None:
        """The holds from the store (acknowledged writes), the balances from balance.updates."""
        holds, balances, seqs = HoldBook(), dict[str, Decimal](), dict[str, int]()
        changed: list[CallHold] = []  # released while reading: written with the next batch
        records = [CallHold.from_json(value) for key, value in self._stored().items()
                   if not key.startswith(cards.KEY_PREFIX)]  # cards' own records are read when asked
        holds.load(records)
        self.ended = deque(sorted((r.at_ms, r.key) for r in records if r.state != LIVE))

        def apply(message: Message) -> None:
            try:
                changed.extend(self._take_update(holds, balances, seqs, value_of(message)))
            except Exception as exc:  # noqa: BLE001 - one unreadable record must not stop the authorizer
                log.error("authorizer: skipping unreadable %s@%d: %s", message.topic, message.offset, exc)

        await read_whole(self.clients, [self.updates_topic], apply)
        self.holds, self.balances, self.seqs, self.unwritten = holds, balances, seqs, changed
        log.info("authorizer active: %d calls held, %d balances", len(holds.calls), len(balances))

    def _stored(self) -> PartitionState:
        return self.disk_stores[STORE].partition(PARTITION)

    # --- the batch ------------------------------------------------------------------------------------
    async def handle(self, messages: list[Message], ctx: Context) -> None:
        if self.holds is None:
            return
        now_ms = int(self.clock() * 1000)
        for record in self.unwritten:
            self._write(ctx, record, now_ms)
        self.unwritten = []
        for message in messages:
            if message.topic == self.updates_topic:
                for record in self._take_update(self.holds, self.balances, self.seqs, value_of(message)):
                    self._write(ctx, record, now_ms)
            elif message.topic == self.settlements_topic:
                self._settle(value_of(message), ctx, now_ms)
            else:
                self._answer(message, ctx, now_ms)
        self._daily_charges(ctx, now_ms)
        for record in self.holds.expire(now_ms):
            self._write(ctx, record, now_ms)
            self._event(ctx, record, EXPIRED, now_ms)
            log.warning("authorizer: hold of call %s expired without a CDR (%s)", record.key, record.answer["holds"])
        self._clean(ctx, now_ms)

    @staticmethod
    def _take_update(holds: HoldBook, balances: dict[str, Decimal], seqs: dict[str, int], value: bytes) -> list[CallHold]:
        update = wire.decode("balance_update.v1", value, datetimes=False)
        account = update["account"]
        if update["seq"] > seqs.get(account, -1):
            seqs[account] = update["seq"]
            balances[account] = Decimal(update["balance"])
        watermarks = {int(p): o for p, o in (update.get("watermarks") or {}).items()}
        return holds.ledger_applied(account, watermarks)

    def _settle(self, value: bytes, ctx: Context, now_ms: int) -> None:
        assert self.holds is not None  # called from handle, which holds the partition
        card_of_account = getattr(self.feed.book, "card", None)
        for key, partition, offset, debited in orjson.loads(value)["calls"]:
            record = self.holds.settle(key, partition, offset, debited)
            if record is not None:
                self._write(ctx, record, now_ms)
                self._event(ctx, record, SETTLED, now_ms)
            if card_of_account is not None:
                for account in debited:  # a card that paid for a call was used: first use, setup fee
                    card = card_of_account(account)
                    if card is not None:
                        self._card_used(card, ctx, now_ms)

    def _card_used(self, card: CardIn, ctx: Context, now_ms: int) -> None:
        group = self.feed.book.card_group(card.group)
        if group is None:
            return
        use_key = cards.KEY_PREFIX + card.number.encode()
        use, fees = cards.used(cards.CardUse.from_json(ctx.get(STORE, PARTITION, use_key)), group, now_ms)
        use, daily = cards.daily_charges(use, group, self._balance_after(card.number, fees), now_ms)
        ctx.put(STORE, PARTITION, use_key, use.to_json())
        self._charge_fees(ctx, card.number, fees + daily, now_ms)

    def _balance_after(self, account: str, fees: list[tuple[str, Decimal]]) -> Decimal:
        return self.balances.get(account, Decimal(0)) - sum((amount for _, amount in fees), Decimal(0))

    def _daily_charges(self, ctx: Context, now_ms: int) -> None:
        """Once an hour: each used card's daily charge for the days begun since (pipeline/authorize/cards.py)."""
        if now_ms - self.daily_at < DAILY_EVERY_MS or getattr(self.feed.book, "card", None) is None:
            return
        self.daily_at = now_ms
        for key, value in self._stored().items(cards.KEY_PREFIX):
            if not key.startswith(cards.KEY_PREFIX):
                break
            number = key[len(cards.KEY_PREFIX):].decode()
            card = self.feed.book.card(number)
            group = None if card is None else self.feed.book.card_group(card.group)
            if group is None:
                continue
            use, fees = cards.daily_charges(cards.CardUse.from_json(value), group,
                                            self.balances.get(number, Decimal(0)), now_ms)
            if fees:
                ctx.put(STORE, PARTITION, key, use.to_json())
                self._charge_fees(ctx, number, fees, now_ms)

    def _charge_fees(self, ctx: Context, account: str, fees: list[tuple[str, Decimal]], now_ms: int) -> None:
        """A card's fees, as adjustments (the balance stage subtracts each id once)."""
        for suffix, amount in fees:
            adjustment = {"id": f"card-{suffix}:{account}", "account": account, "amount": str(amount),
                          "timestamp": now_ms}
            ctx.send(self.adjustments_topic, account.encode(), orjson.dumps(adjustment))

    def _answer(self, message: Message, ctx: Context, now_ms: int) -> None:
        try:
            request = AuthorizeRequest.model_validate_json(message.value or b"")
        except ValueError as exc:  # only the API writes here; a stray record is set aside, said why
            ctx.send(self.rejected_topic, *self._rejected(message, f"not an authorization request: {exc}"))
            return
        assert self.holds is not None  # called from handle, which holds the partition
        key = request.call_key
        stored = ctx.get(STORE, PARTITION, key.encode())
        if stored is not None:  # asked again: the same answer, written again for the asker to see
            record = self.holds.calls.get(key) or CallHold.from_json(stored)
            record.asked += 1
            self._write(ctx, record)
            return
        card = cards.card_of(request, self.feed.book)
        if card is not None:  # a calling card: its PIN and state first, then it calls as its account
            number, pin_needed = card
            use_key = cards.KEY_PREFIX + number.encode()
            checked = cards.check(request, self.feed.book, number, pin_needed,
                                  cards.CardUse.from_json(ctx.get(STORE, PARTITION, use_key)), now_ms)
            if checked.use is not None:
                ctx.put(STORE, PARTITION, use_key, checked.use.to_json())
            if checked.refused is not None:
                self._write(ctx, CallHold(key, number, "", checked.refused.to_json(), {}, now_ms, now_ms, REFUSED),
                            now_ms)
                return
            request = request.model_copy(update={"account": number, "card": "", "pin": ""})
        live = Live(self.balances, self.holds.held, self.holds.running, self.holds.reseller_running,
                    self.holds.device_running)
        answer = decide(request, self.feed.book, live, datetime.fromtimestamp(now_ms / 1000, timezone.utc),
                        self.settings.hold_cap_seconds)
        # answer.account: the caller as found (by account, card or device)
        reseller = next((a.id for a in self.feed.book.ancestors(answer.account) if a.type == "reseller"), "") \
            if answer.allowed else ""
        expires = now_ms + (answer.max_seconds + self.settings.hold_grace_seconds) * 1000
        record = CallHold(key, answer.account, reseller, answer.to_json(), dict(answer.holds), now_ms, expires,
                          LIVE if answer.allowed else REFUSED, device=answer.device)
        if answer.allowed:
            self.holds.add(record)
            self._event(ctx, record, "held", now_ms)
        self._write(ctx, record, now_ms)

    # --- output ---------------------------------------------------------------------------------------
    def _write(self, ctx: Context, record: CallHold, now_ms: int = 0) -> None:
        ctx.put(STORE, PARTITION, record.key.encode(), record.to_json())
        if record.state != LIVE and not record.holds:
            self.ended.append((now_ms or record.at_ms, record.key))

    def _event(self, ctx: Context, record: CallHold, state: str, now_ms: int) -> None:
        event = {"call": record.key, "state": state, "account": record.account,
                 "max_seconds": record.answer["max_seconds"], "holds": record.answer["holds"],
                 "at": datetime.fromtimestamp(now_ms / 1000, timezone.utc).isoformat(timespec="milliseconds")}
        ctx.send(self.events_topic, record.key.encode(), orjson.dumps(event))

    def _rejected(self, message: Message, detail: str) -> tuple[bytes | None, bytes]:
        out = self.dead_letter(message, "bad_request", detail)
        return out.key, cast(bytes, out.value)  # a dead letter always has a value

    def _clean(self, ctx: Context, now_ms: int) -> None:
        """Forget the answers of calls ended more than KEEP_ENDED_MS ago."""
        assert self.holds is not None  # called from handle, which holds the partition
        while self.ended and self.ended[0][0] + KEEP_ENDED_MS < now_ms:
            _, key = self.ended.popleft()
            if key not in self.holds.calls:  # not asked again and held since
                ctx.delete(STORE, PARTITION, key.encode())


__all__ = ["AuthorizeCalls", "EXPIRED", "SETTLED"]
