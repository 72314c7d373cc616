"""The balance guard: tells the switches, on switch.control, whom to block and whom to let call.

Its whole state comes from compacted topics: balance.updates (the last balance per account) and
switch.control (what was last published). balance.updates has one partition, so its consumer
group has one active member: the single guard. On taking that partition the guard reads both
topics to their end, re-evaluates every account and publishes only what differs from what the
switches already have; then it follows the updates. A guard killed at any moment loses nothing
and re-sends nothing already sent.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import orjson
from aiokafka import TopicPartition

from pipeline.alerts.blocks import AlertBlockReader
from pipeline.balances.blocking import did_key, dids_by_owner
from pipeline.balances.guard_state import GuardState
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.follower import read_whole
from pipeline.kafka.message import Message, value_of
from pipeline.kafka.topics import BALANCE_UPDATES, SWITCH_CONTROL
from pipeline.observability.metrics import Metrics
from pipeline.reference.feed import ReferenceFeed
from pipeline.runtime.outputs import Context
from pipeline.schemas import wire
from pipeline.schemas.reference import DidIn
from pipeline.settings import Settings
from pipeline.stages.base import PipelineStage

log = logging.getLogger(__name__)
ALERT_BLOCKS_POLL_SECONDS = 0.2


class GuardBalances(PipelineStage):
    name = "guard"
    handles_empty_batches = True  # accounts changed in the reference data are judged at once

    def __init__(self, settings: Settings, feed: ReferenceFeed, clients: KafkaClients,
                 metrics: Metrics | None = None) -> None:
        super().__init__(settings)
        self.feed = feed
        self.clients = clients
        self.metrics = metrics
        self.updates_topic = settings.topic(BALANCE_UPDATES)
        self.control_topic = settings.topic(SWITCH_CONTROL)
        self.sources = (self.updates_topic,)
        self.batch_size = 5000
        self.batch_seconds = 0.02
        self.guard: GuardState | None = None
        self.pending: set[str] = set()  # accounts whose reference data changed
        self.children_of: dict[str, list[str]] | None = None
        self.dids_of_owner: dict[str, list[DidIn]] | None = None
        feed.listeners.append(self._on_reference_change)
        # blocks asked for by alerts (docs/alerts.md): read whole before the first judgement, then polled
        self.alert_blocks = AlertBlockReader(settings, clients)
        self._alert_blocks_polled = 0.0

    async def prepare(self) -> None:
        await self.feed.ready.wait()
        await self.alert_blocks.start()

    def _on_reference_change(self, kind: str, ident: str) -> None:
        if kind == "account":
            self.pending.add(ident)
            self.children_of = None  # rebuilt when next needed
        elif kind == "did":  # a DID follows its owner: judged again with every change of it
            self.pending.add(did_key(ident))
            self.dids_of_owner = None

    def _dids_of(self, owner: str) -> list[DidIn]:
        if self.dids_of_owner is None:  # owner -> DIDs, built once per change of the DIDs
            self.dids_of_owner = dids_by_owner(self.feed.book.dids())
        return self.dids_of_owner.get(owner, [])

    def _everyone(self) -> set[str]:
        """Every account and DID key the guard judges (after taking over, or a failed batch)."""
        return ({account.id for account in self.feed.book.accounts()}
                | {did_key(did.number) for did in self.feed.book.dids()})

    def _accounts_under(self, account_id: str) -> list[str]:
        # parent -> children, built once per change of the accounts: a reseller's flip cascades
        # over thousands of users, and each of them asks for its own children too
        if self.children_of is None:
            index: dict[str, list[str]] = {}
            for account in self.feed.book.accounts():
                if account.parent:
                    index.setdefault(account.parent, []).append(account.id)
            self.children_of = index
        return self.children_of.get(account_id, [])

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        """Taking over (or after a failure): rebuild from the compacted topics."""
        if not any(tp.topic == self.updates_topic for tp in partitions):
            self.guard = None
            return
        self.guard = await self._rebuild()
        self.pending = self._everyone()  # judged at the next batch

    async def _rebuild(self) -> GuardState:
        state = GuardState(self.feed.book.account, self._accounts_under, self.settings.default_server,
                           dids_of=self._dids_of, did=self.feed.book.did,
                           alerted=self.alert_blocks.blocks.blocked)

        def apply(message: Message) -> None:
            try:
                if message.topic == self.updates_topic:
                    self._apply_update(state, value_of(message))
                elif message.value:
                    signal = orjson.loads(message.value)
                    state.remember(signal["account"], signal["state"], signal.get("server", ""),
                                   signal["version"])
            except Exception as exc:  # noqa: BLE001 - written by hand? one record must not stop the guard
                log.error("guard: skipping unreadable %s[%d]@%d while taking over: %s: %s", message.topic,
                          message.partition, message.offset, type(exc).__name__, str(exc)[:200])

        await read_whole(self.clients, [self.control_topic, self.updates_topic], apply)
        # the group consumer goes on from its last commit: updates read again are older than
        # what the rebuilt state holds (seq), and change nothing
        log.info("balance guard active: %d accounts, %d balances", len(state.published), len(state.balances))
        return state

    async def handle(self, messages: list[Message], ctx: Context) -> None:
        if self.guard is None:
            return
        if time.monotonic() - self._alert_blocks_polled >= ALERT_BLOCKS_POLL_SECONDS:
            self._alert_blocks_polled = time.monotonic()
            self.pending |= await self.alert_blocks.poll()
        touched, self.pending = self.pending, set()
        newest_ms = 0
        for message in messages:
            update = self._apply_update(self.guard, value_of(message))
            if update is not None:
                touched.add(update["account"])
                newest_ms = max(newest_ms, update.get("rated_ms") or 0)
        if touched:
            self._publish(touched, ctx, newest_ms)

    async def rollback(self) -> None:
        """A batch failed half-way: what it flipped in memory was never sent; start from the topics."""
        if self.guard is not None:
            self.guard = await self._rebuild()
            self.pending = self._everyone()

    @staticmethod
    def _apply_update(state: GuardState, value: bytes) -> dict[str, Any] | None:
        """The update if it is newer than what the guard knew, else None."""
        update = wire.decode("balance_update.v1", value)
        if state.set_balance(update["account"], Decimal(update["balance"]), update["seq"]):
            return update
        return None

    def _publish(self, accounts: set[str], ctx: Context, newest_ms: int) -> None:
        assert self.guard is not None  # called from handle, which holds the partition
        at = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        flips = self.guard.flips(accounts)
        for account_state, version in flips:
            signal = {
                "account": account_state.account,
                "state": account_state.state,
                "reason": account_state.reason,
                "server": account_state.server,
                "reseller": account_state.reseller,
                "balance": str(self.guard.balances.get(account_state.account, Decimal(0))),
                "version": version,
                "at": at,
            }
            headers = [("server", account_state.server.encode())]  # filter without parsing JSON
            ctx.send(self.control_topic, account_state.account.encode(), orjson.dumps(signal), headers=headers)
        if flips and newest_ms and self.metrics is not None:
            self.metrics.block_signal(time.time() - newest_ms / 1000)
