"""What the balance guard knows and decides, without I/O: given balances, the accounts and what
was last published, which signals to publish now."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import Decimal

from pipeline.balances.blocking import DID_KEY_PREFIX, AccountLookup, AccountState, did_key, evaluate, evaluate_did
from pipeline.schemas.reference import DidIn


@dataclass(frozen=True, slots=True)
class Published:
    state: str
    server: str
    version: int


@dataclass
class GuardState:
    lookup: AccountLookup  # account id -> account (the reference book)
    children: Callable[[str], Iterable[str]]  # account id -> ids of accounts whose parent it is
    default_server: str
    # DIDs (docs/domain.md "DIDs"): owner id -> the DIDs he holds, and number -> DID; both from the
    # reference book. Without them the guard publishes no `did:NUMBER` entries.
    dids_of: Callable[[str], Iterable[DidIn]] = lambda account: ()
    did: Callable[[str], DidIn | None] = lambda number: None
    balances: dict[str, Decimal] = field(default_factory=dict)
    seqs: dict[str, int] = field(default_factory=dict)
    published: dict[str, Published] = field(default_factory=dict)
    # the accounts an alert blocks now (pipeline/alerts/blocks.py, kept current by its reader)
    alerted: AbstractSet[str] = frozenset()

    def set_balance(self, account: str, balance: Decimal, seq: int) -> bool:
        """Take a balance snapshot unless an equal or newer one was seen (replays resend old ones)."""
        if seq <= self.seqs.get(account, -1):
            return False
        self.seqs[account] = seq
        self.balances[account] = balance
        return True

    def remember(self, account: str, state: str, server: str, version: int) -> None:
        """A signal read back from switch.control (the guard's memory across restarts)."""
        current = self.published.get(account)
        if current is None or version >= current.version:
            self.published[account] = Published(state, server, version)

    def flips(self, accounts: Iterable[str]) -> list[tuple[AccountState, int]]:
        """(new state, version) for each account whose effective state or switch changed.

        A flip of an account re-evaluates everyone under it: a reseller running dry blocks every
        user of his that was active, and his payment reactivates those not blocked on their own.
        It re-evaluates his DIDs too (`did:NUMBER` entries, which follow their owner's state); a
        `did:NUMBER` key among `accounts` is a DID whose record changed.
        """
        out: list[tuple[AccountState, int]] = []
        todo, seen = list(accounts), set()
        while todo:
            account = todo.pop()
            if account in seen:
                continue
            seen.add(account)
            is_did = account.startswith(DID_KEY_PREFIX)
            state = self._evaluate_did(account) if is_did else evaluate(
                account, self.lookup, self.balances, self.default_server, self.alerted)
            if state is None:
                continue
            before = self.published.get(account)
            blocked_before = before is not None and before.state == "blocked"
            if before is not None and (before.state, before.server) == (state.state, state.server):
                continue
            if is_did and before is None and state.state == "active":
                continue  # a DID never blocked needs no entry: switches let unknown DIDs through
            version = (before.version if before else 0) + 1
            self.published[account] = Published(state.state, state.server, version)
            out.append((state, version))
            # children follow a flip of blocked-ness, and a move to another switch (they are
            # served by their reseller's server unless they have their own)
            if is_did:
                continue
            if before is None or blocked_before != (state.state == "blocked") or before.server != state.server:
                todo.extend(self.children(account))
                todo.extend(did_key(did.number) for did in self.dids_of(account))
        return out

    def _evaluate_did(self, key: str) -> AccountState | None:
        did = self.did(key[len(DID_KEY_PREFIX):])
        if did is None:  # deleted: let it through if it was blocked
            before = self.published.get(key)
            return None if before is None else AccountState(key, "active", "ok", before.server, "")
        return evaluate_did(did, self.lookup, self.balances, self.default_server, self.alerted)
