"""The balance guard's rules (docs/domain.md "Blocking"), pure: who is blocked, why, on which switch."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import Decimal

from pipeline.schemas.reference import AccountIn, DidIn

AccountLookup = Callable[[str], AccountIn | None]  # account id -> account (the reference book)
BLOCKED, ACTIVE = "blocked", "active"
_ZERO = Decimal(0)
# a reseller "pinned" to the global server is served by the installation default
_GLOBAL_SERVERS = (None, "", "global")


@dataclass(frozen=True, slots=True)
class AccountState:
    account: str
    state: str  # "blocked" | "active"
    reason: str  # "balance" | "credit_limit" | "manual" | "alert" | "archived" | "reseller_blocked" | "ok"
    server: str
    reseller: str


def own_block_reason(account: AccountIn, balance: Decimal, alerted: bool = False) -> str | None:
    """Why the account is blocked on its own (not through an ancestor), or None. `alerted`: an
    alert blocks it (pipeline/alerts/blocks.py), until lifted."""
    if getattr(account, "archived", False):  # kept for its calls and invoices, never to call again
        return "archived"
    if account.blocked:
        return "manual"
    if alerted and account.type != "admin":
        return "alert"
    if account.type == "admin":
        return None  # the admin has no balance
    if account.billing == "prepaid":
        return "balance" if balance <= _ZERO else None
    if account.credit_limit is not None and balance <= -account.credit_limit:
        return "credit_limit"
    return None


def evaluate(account_id: str, lookup: AccountLookup, balances: Mapping[str, Decimal],
             default_server: str, alerted: AbstractSet[str] = frozenset()) -> AccountState | None:
    """The effective state of an account; None for the admin and for unknown (deleted) accounts.
    `alerted`: the accounts an alert blocks now."""
    account = lookup(account_id)
    if account is None or account.type == "admin":  # the admin has no balance and no switch line
        return None
    chain = _ancestors(account, lookup)
    reason = own_block_reason(account, balances.get(account.id, _ZERO), account.id in alerted)
    if reason is None and any(
        own_block_reason(a, balances.get(a.id, _ZERO), a.id in alerted) is not None for a in chain
    ):
        reason = "reseller_blocked"
    reseller = next((a.id for a in [account, *chain] if a.type == "reseller"), "")
    return AccountState(
        account=account.id,
        state=BLOCKED if reason else ACTIVE,
        reason=reason or "ok",
        server=_serving_server([account, *chain], default_server),
        reseller=reseller if reseller != account.id else "",
    )


def _ancestors(account: AccountIn, lookup: AccountLookup) -> list[AccountIn]:
    chain, seen = [], {account.id}
    parent = account.parent
    while parent and parent not in seen:
        ancestor = lookup(parent)
        if ancestor is None:
            break
        chain.append(ancestor)
        seen.add(parent)
        parent = ancestor.parent
    return chain


def _serving_server(chain: list[AccountIn], default_server: str) -> str:
    for account in chain:
        if account.server not in _GLOBAL_SERVERS and account.server is not None:
            return account.server
    return default_server


DID_KEY_PREFIX = "did:"  # switch.control key of a DID whose state follows its owner's (docs/domain.md "DIDs")


def did_key(number: str) -> str:
    return DID_KEY_PREFIX + number


def blocks_with_owner(did: DidIn) -> bool:
    """A DID may not be used while its owner is blocked when receiving a call costs him money."""
    return did.owner is not None and did.owner_pays.charges


def evaluate_did(did: DidIn, lookup: AccountLookup, balances: Mapping[str, Decimal],
                 default_server: str, alerted: AbstractSet[str] = frozenset()) -> AccountState:
    """The DID's entry on switch.control: its owner's state and reason while receiving a call costs
    the owner money; otherwise (free for him, unassigned, owner gone) always active."""
    owner = evaluate(did.owner, lookup, balances, default_server, alerted) if did.owner else None
    key = did_key(did.number)
    if owner is None:
        return AccountState(key, ACTIVE, "ok", default_server, did.reseller or "")
    if not blocks_with_owner(did):
        return AccountState(key, ACTIVE, "ok", owner.server, owner.reseller)
    return AccountState(key, owner.state, owner.reason, owner.server, owner.reseller)


def dids_by_owner(dids: Iterable[DidIn]) -> dict[str, list[DidIn]]:
    """Owner id -> the DIDs he holds (GuardState.dids_of), built once per change of the DIDs."""
    index: dict[str, list[DidIn]] = {}
    for did in dids:
        if did.owner is not None:
            index.setdefault(did.owner, []).append(did)
    return index
