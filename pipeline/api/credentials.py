"""Bearer tokens, portal passwords and portal domains as records of the compacted `ref.credentials`.

Only hashes travel: a token is `ID.SECRET`; the topic holds, under key `token:ID`, the account and
sha256(token). SECRET is 32 random bytes, so a fast hash is enough (nothing to brute-force);
passwords are chosen by people and get argon2. Every API instance reads the whole topic, so a token
created or revoked anywhere is seen everywhere; an empty value (tombstone) revokes.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

import orjson

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


def new_token(account: str) -> NewToken:
    token_id = secrets.token_hex(6)
    token = f"{token_id}.{secrets.token_urlsafe(32)}"
    value = orjson.dumps({"kind": "token", "account": account, "sha256": _sha256(token)})
    return NewToken(token_id, token, TOKEN_KEY + token_id, value)


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
    passwords: dict[str, str] = field(default_factory=dict)  # account -> argon2 hash
    domains: dict[str, str] = field(default_factory=dict)  # host -> account
    session_secret: str | None = None

    def apply(self, key: str, value: bytes | None) -> None:
        record = orjson.loads(value) if value else None
        if key.startswith(TOKEN_KEY):
            _put(self.tokens, key.removeprefix(TOKEN_KEY), record and (record["account"], record["sha256"]))
        elif key.startswith(PASSWORD_KEY):
            _put(self.passwords, key.removeprefix(PASSWORD_KEY), record and record["argon2"])
        elif key.startswith(DOMAIN_KEY):
            _put(self.domains, key.removeprefix(DOMAIN_KEY), record and record["account"])
        elif key == SESSION_SECRET_KEY and record and self.session_secret is None:
            self.session_secret = record["secret"]

    def account_of_token(self, token: str) -> str | None:
        token_id, dot, _ = token.partition(".")
        stored = self.tokens.get(token_id) if dot else None
        if stored is None:
            return None
        account, digest = stored
        return account if hmac.compare_digest(digest, _sha256(token)) else None

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
