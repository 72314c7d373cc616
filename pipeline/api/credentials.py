"""Bearer tokens, portal passwords and portal domains as records of the compacted `ref.credentials`.

Only hashes travel: a token is `ID.SECRET`; the topic holds, under key `token:ID`, the account and
sha256(token). SECRET is 32 random bytes, so a fast hash is enough (nothing to brute-force);
passwords are chosen by people and get argon2. Every API instance reads the whole topic, so a token
created or revoked anywhere is seen everywhere; an empty value (tombstone) revokes. A token may carry
an expiry (`expires`, ISO 8601 UTC): after it, it is refused like a revoked one. The portal's session
state (session_records.py) travels on the same topic.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from pipeline.api.password_resets import ResetIndex
from pipeline.api.session_records import SessionIndex

TOKEN_KEY = "token:"
PASSWORD_KEY = "password:"
DOMAIN_KEY = "domain:"
# The first secret ever published is the one every instance signs sessions with: reading the
# topic from the beginning, all instances agree on it even if two published one at the same time.
SESSION_SECRET_KEY = "secret:session"


@dataclass(frozen=True)
class NewToken:
    token_id: str
    token: str  # shown once, never stored
    key: str
    value: bytes


SWITCH_PREFIX = "switch:"  # a switch's token acts for no account: routes_authorize reads the server from it


def switch_account(server: str) -> str:
    """What a switch's token names instead of an account: no account can have this id (the id
    pattern has no ':'), so every other route refuses it as it refuses a deleted account's."""
    if not server or not server.isprintable() or "/" in server or len(server) > 128:
        raise ValueError(f"not a server id: {server!r}")
    return SWITCH_PREFIX + server


def new_token(account: str, expires: datetime | None = None) -> NewToken:
    """`expires`: an aware datetime after which the token is refused; None: never."""
    token_id = secrets.token_hex(6)
    token = f"{token_id}.{secrets.token_urlsafe(32)}"
    record = {"kind": "token", "account": account, "sha256": _sha256(token), "created": int(time.time())}
    if expires is not None:
        record["expires"] = expires.isoformat(timespec="seconds")
    return NewToken(token_id, token, TOKEN_KEY + token_id, orjson.dumps(record))


def password_record(account: str, password: str) -> tuple[str, bytes]:
    from argon2 import PasswordHasher

    if len(password) < 8:
        raise ValueError("a portal password has at least 8 characters")
    digest = PasswordHasher().hash(password)
    return PASSWORD_KEY + account, orjson.dumps({"kind": "password", "account": account, "argon2": digest})


def domain_record(host: str, account: str) -> tuple[str, bytes]:
    host = normalise_host(host)
    if not host:
        raise ValueError("the domain is empty")
    return DOMAIN_KEY + host, orjson.dumps({"kind": "domain", "host": host, "account": account})


def session_secret_record() -> tuple[str, bytes]:
    return SESSION_SECRET_KEY, orjson.dumps({"kind": "secret", "secret": secrets.token_urlsafe(48)})


def normalise_host(host: str) -> str:
    return host.strip().lower().split(":", 1)[0]


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class CredentialIndex:
    """What ref.credentials says now: filled record by record, as the topic is read."""

    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # token id -> (account, sha256)
    token_expiry: dict[str, float] = field(default_factory=dict)  # token id -> Unix seconds, if it expires
    token_created: dict[str, float] = field(default_factory=dict)  # token id -> Unix seconds (newer tokens)
    passwords: dict[str, str] = field(default_factory=dict)  # account -> argon2 hash
    domains: dict[str, str] = field(default_factory=dict)  # host -> account
    session_secret: str | None = None
    sessions: SessionIndex = field(default_factory=SessionIndex)
    resets: ResetIndex = field(default_factory=ResetIndex)  # one-time password links (password_resets.py)

    def apply(self, key: str, value: bytes | None) -> None:
        record = orjson.loads(value) if value else None
        if self.sessions.apply(key, record) or self.resets.apply(key, record):
            return
        if key.startswith(TOKEN_KEY):
            token_id = key.removeprefix(TOKEN_KEY)
            _put(self.tokens, token_id, record and (record["account"], record["sha256"]))
            expires = record and record.get("expires")
            _put(self.token_expiry, token_id, datetime.fromisoformat(expires).timestamp() if expires else None)
            _put(self.token_created, token_id, record and record.get("created"))
        elif key.startswith(PASSWORD_KEY):
            _put(self.passwords, key.removeprefix(PASSWORD_KEY), record and record["argon2"])
        elif key.startswith(DOMAIN_KEY):
            _put(self.domains, key.removeprefix(DOMAIN_KEY), record and record["account"])
        elif key == SESSION_SECRET_KEY and record and self.session_secret is None:
            self.session_secret = record["secret"]

    def account_of_token(self, token: str, now: float | None = None) -> str | None:
        token_id, dot, _ = token.partition(".")
        stored = self.tokens.get(token_id) if dot else None
        if stored is None:
            return None
        if self.token_expiry.get(token_id, float("inf")) <= (time.time() if now is None else now):
            return None
        account, digest = stored
        return account if hmac.compare_digest(digest, _sha256(token)) else None

    def switch_of_token(self, token: str, now: float | None = None) -> str | None:
        """The server a switch's token may authorize calls of; None for any other token."""
        account = self.account_of_token(token, now)
        return account.removeprefix(SWITCH_PREFIX) if account and account.startswith(SWITCH_PREFIX) else None

    def tokens_of(self, account: str) -> list[str]:
        return sorted(token_id for token_id, (owner, _) in self.tokens.items() if owner == account)

    def check_password(self, account: str, password: str) -> bool:
        from argon2 import PasswordHasher
        from argon2.exceptions import InvalidHashError, VerificationError

        digest = self.passwords.get(account)
        if digest is None:
            PasswordHasher().hash(password)  # as slow as a real check: no account enumeration by timing
            return False
        try:
            return PasswordHasher().verify(digest, password)
        except (VerificationError, InvalidHashError):
            return False


def _put(target: dict, key: str, value) -> None:
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value
