"""Alert blocks in the balance guard: reason `alert`, the reseller cascade, and an alert block and
a money block never lifting each other."""
from __future__ import annotations

from decimal import Decimal

import orjson

from pipeline.alerts.blocks import AlertBlocks
from pipeline.alerts.events import block_message
from pipeline.balances.guard_state import GuardState
from tests.unit.balances.accounts import DEFAULT_SERVER, tree


def guard(blocks: AlertBlocks) -> GuardState:
    accounts = tree()
    children = {}
    for account in accounts.values():
        if account.parent:
            children.setdefault(account.parent, []).append(account.id)
    state = GuardState(lookup=accounts.get, children=lambda a: children.get(a, []), default_server=DEFAULT_SERVER,
                       alerted=blocks.blocked)
    for ident in ("r1", "u1", "u2"):
        state.set_balance(ident, Decimal(10), 1)
    return state


def record(alert_id: str, account: str, state: str):
    return block_message(alert_id, account, state, "alert", 0.0)


def flips(state: GuardState, *accounts) -> dict[str, tuple[str, str]]:
    return {s.account: (s.state, s.reason) for s, _ in state.flips(accounts)}


def test_the_fold_tells_when_an_account_changes_and_keeps_one_block_per_alert():
    blocks = AlertBlocks()
    assert blocks.apply(*record("fraud", "u1", "blocked")) == "u1"
    assert blocks.apply(*record("flood", "u1", "blocked")) is None  # already blocked
    assert blocks.apply(*record("fraud", "u1", "lifted")) is None  # flood still blocks him
    assert blocks.apply(*record("flood", "u1", "lifted")) == "u1"
    assert blocks.apply(b"fraud/u1", None) is None and blocks.blocked == set()  # a tombstone lifts too
    assert blocks.apply(b"x/u9", b"not json") is None


def test_an_alert_block_is_published_with_reason_alert_and_cascades_from_a_reseller():
    blocks = AlertBlocks()
    state = guard(blocks)
    assert flips(state, "r1", "u1", "u2")["u1"] == ("active", "ok")
    blocks.apply(*record("fraud", "r1", "blocked"))
    assert flips(state, "r1") == {"r1": ("blocked", "alert"), "u1": ("blocked", "reseller_blocked"),
                                  "u2": ("blocked", "reseller_blocked")}
    blocks.apply(*record("fraud", "r1", "lifted"))
    assert flips(state, "r1") == {"r1": ("active", "ok"), "u1": ("active", "ok"), "u2": ("active", "ok")}


def test_lifting_an_alert_block_leaves_a_money_block_and_a_payment_leaves_the_alert_block():
    blocks = AlertBlocks()
    state = guard(blocks)
    flips(state, "r1", "u1", "u2")
    blocks.apply(*record("fraud", "u1", "blocked"))
    state.set_balance("u1", Decimal(-1), 2)  # and out of money
    assert flips(state, "u1") == {"u1": ("blocked", "alert")}
    blocks.apply(*record("fraud", "u1", "lifted"))
    assert flips(state, "u1") == {}  # still blocked: by money now
    blocks.apply(*record("fraud", "u1", "blocked"))
    state.set_balance("u1", Decimal(50), 3)  # a payment
    assert flips(state, "u1") == {}  # still blocked: by the alert
    blocks.apply(*record("fraud", "u1", "lifted"))
    assert flips(state, "u1") == {"u1": ("active", "ok")}
    assert orjson.loads(record("fraud", "u1", "lifted")[1])["state"] == "lifted"
