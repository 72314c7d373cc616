"""Server-side session state: two record types of ref.credentials, read by every API instance.

A portal cookie is signed, so it cannot be forged, but a copied one would work until it expires;
these records let any instance refuse it sooner:
- `session-epoch:ACCOUNT` {"epoch"}: a cookie carries the epoch its account had when it was
  issued; "sign out everywhere" and a password change publish a higher one, and every older
  cookie is refused. The last record wins (as compaction keeps it), so every instance, restarted or
  not, ends up with the same epoch.
- `session-revoked:ID` {"account", "until"}: one signed-out session. Kept only until the cookie
  expires anyway (`until`, Unix seconds); after that the API publishes a tombstone, so the topic
  does not grow with every logout.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import orjson

EPOCH_KEY = "session-epoch:"
REVOKED_KEY = "session-revoked:"


def epoch_record(account: str, epoch: int) -> tuple[str, bytes]:
    return EPOCH_KEY + account, orjson.dumps({"kind": "session-epoch", "account": account, "epoch": epoch})


def revoked_record(session_id: str, account: str, until: float) -> tuple[str, bytes]:
    return REVOKED_KEY + session_id, orjson.dumps(
        {"kind": "session-revoked", "account": account, "until": int(until) + 1})


@dataclass
class SessionIndex:
    epochs: dict[str, int] = field(default_factory=dict)  # account -> epoch
    revoked: dict[str, float] = field(default_factory=dict)  # session id -> until (Unix seconds)

    def apply(self, key: str, record: dict | None) -> bool:
        """Take the record if it is one of ours; False for any other key."""
        if key.startswith(EPOCH_KEY):
            account = key.removeprefix(EPOCH_KEY)
            if record is not None:  # never tombstoned: dropping an epoch would revive old cookies
                self.epochs[account] = int(record["epoch"])
        elif key.startswith(REVOKED_KEY):
            session_id = key.removeprefix(REVOKED_KEY)
            if record is None:
                self.revoked.pop(session_id, None)
            else:
                self.revoked[session_id] = float(record["until"])
        else:
            return False
        return True

    def epoch(self, account: str) -> int:
        return self.epochs.get(account, 0)

    def next_epoch(self, account: str) -> int:
        """Higher than any this instance knows; milliseconds of the clock, so that an instance that
        has not yet read another's bump still publishes a higher one (instances' clocks agree to
        well under the time between two bumps)."""
        return max(self.epoch(account) + 1, time.time_ns() // 1_000_000)

    def admits(self, account: str, session_id: str, epoch: int) -> bool:
        # a higher epoch than ours: issued by an instance that has read a bump we have not yet
        return bool(session_id) and session_id not in self.revoked and epoch >= self.epoch(account)

    def expired(self, now: float | None = None, limit: int = 100) -> list[str]:
        """Revoked sessions whose cookies have expired anyway: their records can go."""
        now = time.time() if now is None else now
        return [session_id for session_id, until in self.revoked.items() if until < now][:limit]
