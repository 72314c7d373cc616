"""Why an account is blocked, as it is true now, in words the caller may read.

The balance guard publishes a signal on `switch.control` only when an account's effective state
flips (docs/domain.md "Blocking"), so the `reason` there is the reason *at the flip*: a user blocked for
his own balance who then pays, while his reseller is dry, stays blocked without a new signal and
his recorded reason still says "balance". The state the switch enforces is the recorded one; the
reason shown is judged again here with the guard's own rules (pipeline.balances.blocking.evaluate)
on the same balances (balance.updates) and reference data. An alert's block is the one cause this
instance does not follow (its topic is read on demand, pipeline/api/routes_alerts.py): a recorded
"alert" is shown as it is.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal

from pipeline.balances.blocking import evaluate, own_block_reason

OWN_WORDS = {"balance": "out of money", "credit_limit": "at the credit limit", "manual": "blocked by hand",
             "alert": "blocked by an alert"}


class LiveBalances(Mapping):
    """LiveData.balances (account -> (seq, balance)) as the account -> balance map the guard's rules read."""

    def __init__(self, balances: Mapping[str, tuple[int, Decimal]]) -> None:
        self._balances = balances

    def __getitem__(self, account: str) -> Decimal:
        return self._balances[account][1]

    def __iter__(self) -> Iterator[str]:
        return iter(self._balances)

    def __len__(self) -> int:
        return len(self._balances)


def current_state(book, balances: Mapping[str, Decimal], account, recorded: dict | None) -> tuple[str, str]:
    """(state, reason): the state the switch has (the guard's last signal), and why, as true now."""
    state = (recorded or {}).get("state") or ("blocked" if account.blocked else "active")
    reason = (recorded or {}).get("reason") or ("manual" if account.blocked else "ok")
    if state != "blocked" or reason == "alert":
        return state, reason
    judged = evaluate(account.id, book.account, balances, "")
    if judged is not None and judged.state == "blocked":
        return state, judged.reason
    return state, reason  # judged active: the guard's signal is on its way (a moment behind the balance)


def blocking_ancestor(book, balances: Mapping[str, Decimal], account):
    """(ancestor, its own reason) of the nearest ancestor blocked on its own, or None."""
    parent, seen = account.parent, {account.id}
    while parent and parent not in seen:
        ancestor = book.account(parent)
        if ancestor is None:
            return None
        reason = own_block_reason(ancestor, balances.get(ancestor.id, Decimal(0)))
        if reason is not None:
            return ancestor, reason
        seen.add(parent)
        parent = ancestor.parent
    return None


def reason_text(caller, book, balances: Mapping[str, Decimal], account, reason: str) -> str:
    """The reason in words. A user learns that his reseller is blocked, not why (the reseller's
    money is not his to see); the reseller and the admin read which account and why."""
    if reason == "ok":
        return ""
    if reason != "reseller_blocked":
        return OWN_WORDS.get(reason, reason.replace("_", " "))
    found = blocking_ancestor(book, balances, account)
    if caller.role == "user" or found is None:
        return "the reseller's account is blocked"
    ancestor, why = found
    who = "your own account" if ancestor.id == caller.account else f"reseller {ancestor.id}"
    return f"{who} is {OWN_WORDS.get(why, why.replace('_', ' '))}"
