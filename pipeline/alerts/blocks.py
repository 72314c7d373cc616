"""Blocks asked for by alerts, as the balance guard folds them (pure), and the reader that keeps
them current (`alert_blocks`: compacted, one partition, key ALERT/ACCOUNT).

The guard stays the single writer of switch.control: an account blocked by any alert is blocked
with reason `alert` (after `manual`, before money), and since the guard judges every rule each
time, lifting an alert block never unblocks an account out of money, nor a payment one an alert
blocked.
"""
from __future__ import annotations

import logging
from collections import defaultdict

import orjson

from pipeline.alerts.events import BLOCKED
from pipeline.kafka.follower import TopicFollower
from pipeline.kafka.topics import ALERT_BLOCKS

log = logging.getLogger(__name__)


class AlertBlocks:
    """account -> the alerts blocking it now."""

    def __init__(self) -> None:
        self.by_account: dict[str, set[str]] = defaultdict(set)
        self.blocked: set[str] = set()  # the accounts with at least one; read by the guard's rules

    def apply(self, key: bytes | None, value: bytes | None) -> str | None:
        """One record of alert_blocks; the account whose alert-blocked state changed, or None."""
        try:
            alert_id, _, account = (key or b"").decode().partition("/")
            state = orjson.loads(value)["state"] if value else "lifted"
        except (ValueError, KeyError, TypeError) as exc:
            log.error("alert_blocks: skipping unreadable record %r: %s", key, exc)
            return None
        if not account:
            return None
        before = account in self.blocked
        alerts = self.by_account[account]
        if state == BLOCKED:
            alerts.add(alert_id)
        else:
            alerts.discard(alert_id)
        if alerts:
            self.blocked.add(account)
        else:
            self.blocked.discard(account)
            self.by_account.pop(account, None)
        return account if before != (account in self.blocked) else None


class AlertBlockReader:
    """Reads alert_blocks whole, then follows it (kafka.follower: no group, every guard sees all)."""

    def __init__(self, settings, clients) -> None:
        self.topic = settings.topic(ALERT_BLOCKS)
        self.clients = clients
        self.blocks = AlertBlocks()
        self._changed: set[str] = set()
        self._follower: TopicFollower | None = None

    async def start(self) -> None:
        self._follower = TopicFollower(self.clients, [self.topic], self._apply, fetch_max_wait_ms=100)
        await self._follower.start()
        await self._follower.catch_up()
        self._changed.clear()

    def _apply(self, message) -> None:
        account = self.blocks.apply(message.key, message.value)
        if account is not None:
            self._changed.add(account)

    async def poll(self) -> set[str]:
        """The accounts whose alert-blocked state changed since the last poll (never waits)."""
        if self._follower is None or not self._follower.partitions:
            return set()
        await self._follower.poll(0)
        changed, self._changed = self._changed, set()
        return changed

    async def stop(self) -> None:
        if self._follower is not None:
            await self._follower.stop()
            self._follower = None
