"""Which accounts a switch must refuse, from switch.control (pure).

The topic is compacted and keyed by account: the last value per key is the account's state. An
account is in this switch's table when its last state names this server and says `blocked`; an
account that moved to another server, became active or was deleted (tombstone) leaves the table.
An older `version` than the one already seen for an account is ignored (a replayed signal).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Change:
    """What to do to the switch's table: block (with the reason) or unblock an account."""

    account: str
    blocked: bool
    reason: str = ""


class BlockList:
    def __init__(self, server: str) -> None:
        self.server = server
        self.blocked: dict[str, str] = {}  # account -> reason
        self.versions: dict[str, int] = {}

    def apply(self, key: bytes | None, value: bytes | None) -> Change | None:
        """The change one switch.control message makes to this server's table, if any."""
        if not key:
            return None
        account = key.decode("utf-8", "replace")
        if not value:  # tombstone: the account is gone
            self.versions.pop(account, None)
            return self._unblock(account)
        try:
            state = orjson.loads(value)
            version = int(state.get("version", 0))
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            log.warning("switch.control: unreadable state for %s: %r", account, value[:200])
            return None
        if version < self.versions.get(account, -1):
            return None
        self.versions[account] = version
        if state.get("server") == self.server and state.get("state") == "blocked":
            reason = str(state.get("reason") or "blocked")
            if self.blocked.get(account) == reason:
                return None
            self.blocked[account] = reason
            return Change(account, True, reason)
        return self._unblock(account)

    def _unblock(self, account: str) -> Change | None:
        if self.blocked.pop(account, None) is None:
            return None
        return Change(account, False)


def plan_sync(wanted: dict[str, str], current: dict[str, str]) -> list[Change]:
    """The changes that make the switch's table (`current`) equal to `wanted`."""
    changes = [Change(account, True, reason) for account, reason in sorted(wanted.items())
               if current.get(account) != reason]
    changes += [Change(account, False) for account in sorted(current) if account not in wanted]
    return changes
