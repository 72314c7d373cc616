"""switch.control -> Kamailio: keeps the htable `blocked` equal to this server's blocked accounts,
and ends the calls of an account the moment it is blocked (dialog module RPC; acc still writes each
ended call's CDR, billed up to that moment).

Reads the compacted topic from the beginning on every start (no consumer group: the table is
rebuilt, not resumed). Once caught up it makes Kamailio's table equal to what it read, and does so
again whenever Kamailio restarted (its `up_since` changed, or it was unreachable) and every
`resync_seconds` as a safety net; in between each signal is applied as it arrives.
"""
from __future__ import annotations

import asyncio
import logging
import time

from pipeline.adapters.blocklist import BlockList, Change, plan_sync
from pipeline.adapters.kamailio_rpc import KamailioRpc, RpcError, RpcUnavailable
from pipeline.adapters.runner import sleep_or_stop
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.follower import TopicFollower
from pipeline.kafka.topics import SWITCH_CONTROL
from pipeline.settings import Settings

log = logging.getLogger(__name__)
TABLE = "blocked"
PROFILE = "account"  # the dialog profile kamailio.cfg puts every call in, valued with the account


class KamailioTable:
    """The htable and the dialogs, as the controller needs them (blocking RPC calls)."""

    def __init__(self, rpc: KamailioRpc) -> None:
        self.rpc = rpc

    def identity(self) -> str:
        return str(self.rpc.call("core.uptime").get("up_since"))

    def dump(self) -> dict[str, str]:
        slots = self.rpc.call("htable.dump", TABLE) or []
        return {item["name"]: str(item.get("value", "")) for slot in slots for item in slot.get("slot", [])}

    def apply(self, change: Change) -> int:
        """Sets or deletes the account's entry; a block also ends the account's calls. Calls ended."""
        if not change.blocked:
            try:
                self.rpc.call("htable.delete", TABLE, change.account)
            except RpcError:
                pass  # already absent
            return 0
        self.rpc.call("htable.sets", TABLE, change.account, change.reason)
        return self.end_calls(self._dialogs_of(change.account))

    def end_calls_of(self, accounts: set[str]) -> int:
        dialogs = [d for d in self._all_dialogs() if _accounts_of(d) & accounts]
        return self.end_calls(dialogs)

    def end_calls(self, dialogs: list[dict]) -> int:
        ended = 0
        for dialog in dialogs:
            try:
                self.rpc.call("dlg.end_dlg", int(dialog["h_entry"]), int(dialog["h_id"]))
                ended += 1
                log.info("ended call %s of a blocked account", dialog.get("call-id"))
            except RpcError as exc:  # not confirmed yet, or ended meanwhile: the next sync retries
                log.info("could not end call %s: %s", dialog.get("call-id"), exc)
        return ended

    def _dialogs_of(self, account: str) -> list[dict]:
        try:
            return list(self.rpc.call("dlg.profile_list", PROFILE, account) or [])
        except RpcError:
            return []

    def _all_dialogs(self) -> list[dict]:
        try:
            return list(self.rpc.call("dlg.list") or [])
        except RpcError:
            return []


def _accounts_of(dialog: dict) -> set[str]:
    return {str(value) for profile in dialog.get("profiles", []) for key, value in profile.items() if key == PROFILE}


async def run_controller(settings: Settings, server: str, rpc: KamailioRpc, stop: asyncio.Event,
                         resync_seconds: float = 10.0, on_synced=None) -> None:
    await ensure_topics(settings)
    table = KamailioTable(rpc)
    blocklist = BlockList(server)
    changes: list[Change] = []  # what the messages of one poll changed, in their order

    def apply(message) -> None:
        change = blocklist.apply(message.key, message.value)
        if change is not None:
            changes.append(change)

    reader = TopicFollower(KafkaClients(settings), [settings.topic(SWITCH_CONTROL)], apply)
    await reader.start()
    try:
        ends = await reader.end_offsets()
        caught_up = False
        synced_with: str | None = None  # Kamailio's up_since at the last full sync
        last_sync = 0.0
        while not stop.is_set():
            changes.clear()
            await reader.poll(200)
            if not caught_up:
                caught_up = await reader.reached(ends)
                if not caught_up:
                    continue
                log.info("switch.control read: %d account(s) blocked on %s", len(blocklist.blocked), server)
            try:
                if synced_with is not None:
                    for change in list(changes):
                        await asyncio.to_thread(table.apply, change)
                identity = await asyncio.to_thread(table.identity)
                if identity != synced_with or time.monotonic() - last_sync >= resync_seconds:
                    await asyncio.to_thread(_sync, table, blocklist)
                    if synced_with != identity:
                        log.info("Kamailio (up since %s) has the %d blocked account(s)", identity,
                                 len(blocklist.blocked))
                        if on_synced:
                            on_synced()
                    synced_with, last_sync = identity, time.monotonic()
            except RpcUnavailable as exc:
                if synced_with is not None:
                    log.warning("%s; the table is rebuilt when it answers again", exc)
                synced_with = None
                await sleep_or_stop(stop, 0.5)
    finally:
        await reader.stop()


def _sync(table: KamailioTable, blocklist: BlockList) -> None:
    for change in plan_sync(blocklist.blocked, table.dump()):
        table.apply(change)
    table.end_calls_of(set(blocklist.blocked))  # a call that slipped in while its account was blocked
