"""The balance guard's rules (DOMAIN.md "Blocking"), pure: who is blocked, why, on which switch."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

BLOCKED, ACTIVE = "blocked", "active"
_ZERO = Decimal(0)
# a reseller "pinned" to the global server is served by the installation default
_GLOBAL_SERVERS = (None, "", "global")


@dataclass(frozen=True, slots=True)
class AccountState:
    account: str
    state: str  # "blocked" | "active"
    reason: str  # "balance" | "credit_limit" | "manual" | "reseller_blocked" | "ok"
    server: str
    reseller: str


def own_block_reason(account, balance: Decimal) -> str | None:
    """Why the account is blocked on its own (not through an ancestor), or None."""
    if account.blocked:
        return "manual"
    if account.type == "admin":
        return None  # the admin has no balance
    if account.billing == "prepaid":
        return "balance" if balance <= _ZERO else None
    if account.credit_limit is not None and balance <= -account.credit_limit:
        return "credit_limit"
    return None


def evaluate(account_id: str, lookup: Callable[[str], object], balances: Mapping[str, Decimal],
             default_server: str) -> AccountState | None:
    """The effective state of an account; None for the admin and for unknown (deleted) accounts."""
    account = lookup(account_id)
    if account is None or account.type == "admin":  # the admin has no balance and no switch line
        return None
    chain = _ancestors(account, lookup)
    reason = own_block_reason(account, balances.get(account.id, _ZERO))
    if reason is None and any(
        own_block_reason(a, balances.get(a.id, _ZERO)) is not None for a in chain
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


def _ancestors(account, lookup) -> list:
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


def _serving_server(chain: list, default_server: str) -> str:
    for account in chain:
        if account.server not in _GLOBAL_SERVERS:
            return account.server
    return default_server
