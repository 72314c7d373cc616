"""One-time password links: records `reset:ID` of ref.credentials, read by every API instance.

A reseller (or the admin) who does not want to choose his user's password issues a link instead:
`/reset/ID.SECRET`, shown once. As with tokens only sha256(link token) travels (SECRET is 32
random bytes: nothing to brute-force), with the account and an expiry. Using the link sets the
password and tombstones the record, so it works once; so does any later password set for the
account (every open link of it goes), and an expired record is refused like a missing one.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

import orjson

RESET_KEY = "reset:"
RESET_SECONDS = 24 * 3600  # how long a link works


@dataclass(frozen=True)
class NewReset:
    reset_id: str
    token: str  # shown once, never stored
    key: str
    value: bytes
    expires: int  # Unix seconds


def new_reset(account: str, now: float | None = None, seconds: int = RESET_SECONDS) -> NewReset:
    reset_id = secrets.token_hex(6)
    token = f"{reset_id}.{secrets.token_urlsafe(32)}"
    expires = int(time.time() if now is None else now) + seconds
    record = {"kind": "reset", "account": account, "sha256": _sha256(token), "expires": expires}
    return NewReset(reset_id, token, RESET_KEY + reset_id, orjson.dumps(record), expires)


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class ResetIndex:
    links: dict[str, tuple[str, str, float]] = field(default_factory=dict)  # id -> (account, sha256, expires)

    def apply(self, key: str, record: dict | None) -> bool:
        """Take the record if it is one of ours; False for any other key."""
        if not key.startswith(RESET_KEY):
            return False
        reset_id = key.removeprefix(RESET_KEY)
        if record is None:
            self.links.pop(reset_id, None)
        else:
            self.links[reset_id] = (str(record["account"]), str(record["sha256"]), float(record["expires"]))
        return True

    def account_of(self, token: str, now: float | None = None) -> str | None:
        """The account a link token still resets, or None (unknown, used, expired, mistyped)."""
        reset_id, dot, _ = token.partition(".")
        found = self.links.get(reset_id) if dot else None
        if found is None:
            return None
        account, digest, expires = found
        if expires <= (time.time() if now is None else now):
            return None
        return account if hmac.compare_digest(digest, _sha256(token)) else None

    def of_account(self, account: str) -> list[str]:
        """The ids of the account's open links (expired ones too: they are tombstoned with the rest)."""
        return sorted(reset_id for reset_id, (owner, _, _) in self.links.items() if owner == account)
