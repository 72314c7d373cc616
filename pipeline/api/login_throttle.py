"""Slowing password guessing without letting a guesser lock the real user out.

Failed sign-ins are counted per (account, client): after `attempts` of them, that client must
wait 1, 2, 4, ... s (up to `cap`) before each further try, answered 429 with Retry-After. A
guesser elsewhere therefore never delays the real user's own client. Across all clients, an account
with more than `account_ceiling` failures in the window is answered only after a pause (1 s,
doubling with each further ceiling's worth, up to `account_pause_cap`): a distributed guess is
slowed, and the real user, whose right password still works, only waits those seconds.

The counters live in each instance's memory: a restart resets them, and N instances behind a
balancer allow N times the attempts. The last check and the count are not separated by an `await`
(the argon2 check runs on the event loop), so parallel requests from one client cannot slip past.

The client is the peer address; behind a proxy named in RATING_API_TRUSTED_PROXIES, the
X-Forwarded-For entry the nearest untrusted hop added (the rightmost one that is not a trusted proxy,
as uvicorn reads it): the leftmost entries are whatever the client chose to send.
"""
from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections import deque
from dataclasses import dataclass
from functools import lru_cache

from fastapi import Request

from pipeline.api.errors import TooManyAttempts

MAX_TRACKED = 100_000  # bounded memory under a spray of names and addresses


class Throttled(TooManyAttempts):
    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"too many failed sign-ins; try again in {self.retry_after} s")


@dataclass
class _Failures:
    count: int
    last: float


class LoginLimiter:
    def __init__(self, attempts: int, window: float, clock=time.monotonic, *, cap: float = 60.0,
                 account_ceiling: int | None = None, account_pause_cap: float = 4.0) -> None:
        self.attempts, self.window, self.clock, self.cap = attempts, window, clock, cap
        self.account_ceiling = account_ceiling or attempts * 10
        self.account_pause_cap = account_pause_cap
        self._clients: dict[tuple[str, str], _Failures] = {}
        self._accounts: dict[str, deque[float]] = {}

    def check(self, account: str, client: str = "-") -> float:
        """Raises Throttled if this client must wait; else the pause (s) the account's ceiling asks."""
        now = self.clock()
        failures = self._client_failures((account, client), now)
        if failures is not None and failures.count >= self.attempts:
            wait = min(self.cap, 2.0 ** (failures.count - self.attempts))
            if now < failures.last + wait:
                raise Throttled(failures.last + wait - now)
        excess = len(self._account_failures(account, now)) - self.account_ceiling
        return 0.0 if excess < 0 else min(self.account_pause_cap, 2.0 ** (excess // self.account_ceiling))

    async def admit(self, account: str, client: str) -> None:
        """check(), pausing as the account's ceiling asks; raises Throttled."""
        if pause := self.check(account, client):
            await asyncio.sleep(pause)
            # again: while this one paused, the same client may have spent its tries in parallel
            self.check(account, client)

    def failed(self, account: str, client: str = "-") -> None:
        now = self.clock()
        failures = self._client_failures((account, client), now)
        self._clients[(account, client)] = _Failures((failures.count if failures else 0) + 1, now)
        self._accounts.setdefault(account, deque()).append(now)
        for tracked in (self._clients, self._accounts):
            if len(tracked) > MAX_TRACKED:
                tracked.pop(next(iter(tracked)))

    def succeeded(self, account: str, client: str = "-") -> None:
        # only this client's count: the account-wide one is about others' guesses
        self._clients.pop((account, client), None)

    def _client_failures(self, key: tuple[str, str], now: float) -> _Failures | None:
        failures = self._clients.get(key)
        if failures is not None and failures.last <= now - self.window:  # quiet for a window: forgotten
            del self._clients[key]
            return None
        return failures

    def _account_failures(self, account: str, now: float) -> deque[float]:
        failures = self._accounts.get(account, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures


def client_key(request: Request, trusted_proxies: tuple[str, ...] = ()) -> str:
    """Who is signing in, as far as this server can tell (see the module's docstring)."""
    peer = request.client.host if request.client else "-"
    networks = _networks(trusted_proxies)
    if not networks or not _within(peer, networks):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _within(hop, networks):
            return hop
    return peer


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> list:
    return [ipaddress.ip_network(entry, strict=False) for entry in trusted]


def _within(address: str, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
