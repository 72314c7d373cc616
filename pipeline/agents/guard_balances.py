"""The balance guard: tells the switches, on switch.control, whom to block and whom to let call.

A service rather than a Faust agent because its whole state comes from compacted topics:
balance.updates (the last balance per account) and switch.control (what was last published).
Whoever holds the single partition of balance.updates (a consumer group of its own, so exactly
one worker) reads both from the beginning, re-evaluates every account, and then follows the
updates. A guard killed at any moment loses nothing and re-sends nothing already sent.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from decimal import Decimal

import faust
import orjson
from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener

from pipeline.agents.consumers import group_consumer
from pipeline.agents.loop import run_steps
from pipeline.agents.reference import feed
from pipeline.app import app, settings
from pipeline.balances.guard_state import GuardState
from pipeline.control_topic import account_states
from pipeline.schemas import wire
from pipeline.topic_io import reached

log = logging.getLogger(__name__)
UPDATES = settings.topic("balance.updates")
CONTROL = settings.topic("switch.control")


class _Assignment(ConsumerRebalanceListener):
    def __init__(self) -> None:
        self.changed = asyncio.Event()

    async def on_partitions_revoked(self, revoked) -> None:
        self.changed.set()

    async def on_partitions_assigned(self, assigned) -> None:
        self.changed.set()


class GuardBalances(faust.Service):
    async def on_start(self) -> None:
        self.pending: set[str] = set()
        self.children_of: dict[str, list[str]] | None = None
        feed.on_change = self._on_reference_change
        self.assignment = _Assignment()
        self.consumer = group_consumer(settings, "guard")
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True, acks="all", linger_ms=0
        )
        await self.producer.start()
        self.consumer.subscribe([UPDATES], listener=self.assignment)
        await self.consumer.start()

    async def on_stop(self) -> None:
        await self.consumer.stop()
        await self.producer.stop()

    def _on_reference_change(self, kind: str, ident: str) -> None:
        if kind == "account":
            self.pending.add(ident)
            self.children_of = None  # rebuilt when next needed

    def _accounts_under(self, account_id: str) -> list[str]:
        # parent -> children, built once per change of the accounts: a reseller's flip cascades
        # over thousands of users, and each of them asks for its own children too
        if self.children_of is None:
            index: dict[str, list[str]] = {}
            for account in feed.book.accounts():
                if account.parent:
                    index.setdefault(account.parent, []).append(account.id)
            self.children_of = index
        return self.children_of.get(account_id, [])

    @faust.Service.task
    async def _guard(self) -> None:
        await feed.ready.wait()
        self.guard: GuardState | None = None
        await run_steps(self, self._step, on_error=self._start_over)

    async def _start_over(self) -> None:
        self.guard = None
        self.assignment.changed.set()  # rebuild from the compacted topics at the next step

    async def _step(self) -> None:
        if self.assignment.changed.is_set():
            self.assignment.changed.clear()
            self.guard = await self._take_over() if self.consumer.assignment() else None
        batches = await self.consumer.getmany(timeout_ms=20)
        if self.guard is None:
            return
        touched = set(self.pending)
        self.pending.clear()
        for messages in batches.values():
            for message in messages:
                if self._apply_update(self.guard, message.value):
                    touched.add(message.key.decode())
        if touched:
            await self._publish(self.guard, touched)

    async def _take_over(self) -> GuardState:
        """Rebuild from the compacted topics, then publish whatever differs from switch.control."""
        state = GuardState(feed.book.account, self._accounts_under, settings.default_server)
        for account, signal in (await account_states(settings)).items():
            state.remember(account, signal["state"], signal.get("server", ""), signal["version"])
        partitions = list(self.consumer.assignment())
        await self.consumer.seek_to_beginning(*partitions)
        ends = await self.consumer.end_offsets(partitions)
        while not await reached(self.consumer, ends):
            for messages in (await self.consumer.getmany(timeout_ms=200)).values():
                for message in messages:
                    self._apply_update(state, message.value)
        self.pending.clear()
        await self._publish(state, [account.id for account in feed.book.accounts()])
        log.info("balance guard active: %d accounts, %d balances", len(state.published), len(state.balances))
        return state

    @staticmethod
    def _apply_update(state: GuardState, value: bytes) -> bool:
        update = wire.decode("balance_update.v1", value)
        return state.set_balance(update["account"], Decimal(update["balance"]), update["seq"])

    async def _publish(self, state: GuardState, accounts) -> None:
        at = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        sent = []
        for account_state, version in state.flips(accounts):
            signal = {
                "account": account_state.account,
                "state": account_state.state,
                "reason": account_state.reason,
                "server": account_state.server,
                "reseller": account_state.reseller,
                "balance": str(state.balances.get(account_state.account, Decimal(0))),
                "version": version,
                "at": at,
            }
            headers = [("server", account_state.server.encode())]  # filter without parsing JSON
            sent.append(await self.producer.send(
                CONTROL, orjson.dumps(signal), key=account_state.account.encode(), headers=headers
            ))
        if sent:
            await asyncio.gather(*sent)  # delivered before the next batch is judged



if settings.runs("guard"):
    app.service(GuardBalances)
