from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.adapters.blocklist import BlockList, Change, plan_sync


def _state(state: str, server: str = "k1", version: int = 1, reason: str = "balance") -> bytes:
    return orjson.dumps({"account": "u1", "state": state, "reason": reason, "server": server, "version": version})


def test_block_then_payment_gives_one_set_and_one_delete():
    table = BlockList("k1")
    assert table.apply(b"u1", _state("blocked", version=1)) == Change("u1", True, "balance")
    assert table.apply(b"u1", _state("blocked", version=2)) is None  # same state again: nothing to do
    assert table.apply(b"u1", _state("active", version=3, reason="ok")) == Change("u1", False)
    assert table.blocked == {}


def test_other_servers_accounts_never_enter_and_a_move_away_unblocks():
    table = BlockList("k1")
    assert table.apply(b"u2", _state("blocked", server="ast1")) is None
    table.apply(b"u1", _state("blocked", version=1))
    assert table.apply(b"u1", _state("blocked", server="ast1", version=2)) == Change("u1", False)


def test_older_version_and_tombstone():
    table = BlockList("k1")
    table.apply(b"u1", _state("blocked", version=5))
    assert table.apply(b"u1", _state("active", version=4)) is None  # a replayed older signal
    assert table.blocked == {"u1": "balance"}
    assert table.apply(b"u1", None) == Change("u1", False)
    assert table.apply(b"u1", _state("blocked", version=1)) == Change("u1", True, "balance")  # re-created


def test_unreadable_values_change_nothing():
    table = BlockList("k1")
    assert table.apply(b"u1", b"{nope") is None
    assert table.apply(b"u1", b"[1]") is None
    assert table.apply(None, _state("blocked")) is None


def test_reason_change_is_set_again():
    table = BlockList("k1")
    table.apply(b"u1", _state("blocked", version=1))
    assert table.apply(b"u1", _state("blocked", version=2, reason="manual")) == Change("u1", True, "manual")


accounts = st.sampled_from(["u1", "u2", "u3", "r1"])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(accounts, st.sampled_from(["balance", "manual"])),
       st.dictionaries(accounts, st.sampled_from(["balance", "manual", "x"])))
def test_plan_sync_makes_the_switch_table_equal_to_the_wanted_one(wanted, current):
    table = dict(current)
    for change in plan_sync(wanted, current):
        if change.blocked:
            table[change.account] = change.reason
        else:
            del table[change.account]
    assert table == wanted
    assert plan_sync(wanted, table) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(accounts, st.sampled_from(["blocked", "active", None]), st.sampled_from(["k1", "k2"]),
                          st.integers(0, 5)), max_size=30))
def test_changes_replayed_onto_a_table_give_the_last_state_of_each_account(messages):
    table = BlockList("k1")
    switch: dict[str, str] = {}
    for account, state, server, version in messages:
        value = None if state is None else _state(state, server, version)
        change = table.apply(account.encode(), value)
        if change and change.blocked:
            switch[change.account] = change.reason
        elif change:
            switch.pop(change.account)
    assert switch == table.blocked
