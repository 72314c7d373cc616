"""GuardState: signals only on flips, versions per account, the reseller cascade, stale snapshots."""
from decimal import Decimal

from pipeline.balances.guard_state import GuardState, Published
from tests.unit.balances.accounts import DEFAULT_SERVER, tree

D = Decimal


def guard(accounts=None) -> GuardState:
    accounts = accounts if accounts is not None else tree()
    return GuardState(
        lookup=lambda ident: accounts.get(ident),
        children=lambda ident: [a.id for a in accounts.values() if a.parent == ident],
        default_server=DEFAULT_SERVER,
    )


def funded(state: GuardState, **balances) -> GuardState:
    for seq, (ident, value) in enumerate(balances.items(), start=1):
        state.set_balance(ident, D(value), seq)
    return state


def signals(out) -> dict:
    return {s.account: (s.state, s.reason, version) for s, version in out}


def test_first_look_signals_every_account_once_with_version_1_and_the_admin_never():
    state = funded(guard(), r1="10", u1="10", u2="0", r2="0", u3="5")
    out = signals(state.flips(["admin", "r1", "u1", "u2", "r2", "u3", "d1"]))
    assert out == {
        "r1": ("active", "ok", 1), "u1": ("active", "ok", 1), "u2": ("active", "ok", 1),
        "r2": ("active", "ok", 1), "u3": ("active", "ok", 1), "d1": ("active", "ok", 1),
    }
    assert state.flips(["admin", "r1", "u1", "u2", "r2", "u3", "d1"]) == []


def test_first_look_at_a_reseller_takes_in_his_users():
    state = funded(guard(), r1="10", u1="10")
    assert set(signals(state.flips(["r1"]))) == {"r1", "u1", "u2"}


def test_balance_change_without_a_flip_signals_nothing():
    state = funded(guard(), r1="10", u1="10")
    state.flips(["r1", "u1"])
    state.set_balance("u1", D("0.01"), 100)
    assert state.flips(["u1"]) == []


def test_user_running_dry_flips_only_himself_and_version_rises_by_one():
    state = funded(guard(), r1="10", u1="10", u2="10")
    state.flips(["r1"])
    state.set_balance("u1", D("-0.35"), 100)
    assert signals(state.flips(["u1"])) == {"u1": ("blocked", "balance", 2)}
    state.set_balance("u1", D("5"), 101)
    assert signals(state.flips(["u1"])) == {"u1": ("active", "ok", 3)}


def test_reseller_running_dry_blocks_each_active_user_of_his():
    state = funded(guard(), r1="10", u1="10", u2="0")
    state.flips(["r1"])
    state.set_balance("r1", D("0"), 100)
    out = signals(state.flips(["r1"]))
    assert out == {"r1": ("blocked", "balance", 2), "u1": ("blocked", "reseller_blocked", 2),
                   "u2": ("blocked", "reseller_blocked", 2)}


def test_unblocking_the_reseller_does_not_unblock_a_user_out_of_money():
    state = funded(guard(), r1="0", u1="10", u2="-60")
    state.flips(["r1"])  # r1 blocked; u1 and u2 blocked (u2 for both reasons)
    state.set_balance("r1", D("100"), 100)
    out = signals(state.flips(["r1"]))
    assert out == {"r1": ("active", "ok", 2), "u1": ("active", "ok", 2)}
    assert state.published["u2"].state == "blocked"


def test_user_blocked_by_reseller_then_out_of_money_himself_sends_no_second_signal():
    state = funded(guard(), r1="0", u1="10")
    state.flips(["r1"])
    state.set_balance("u1", D("-1"), 100)
    assert state.flips(["u1"]) == []  # still blocked: the reason alone is not a flip


def test_server_change_is_signalled():
    accounts = tree()
    state = funded(guard(accounts), u3="5", r2="5")
    state.flips(["u3"])
    accounts["u3"] = accounts["u3"].model_copy(update={"server": "ast9"})
    [(signal, version)] = state.flips(["u3"])
    assert (signal.server, signal.state, version) == ("ast9", "active", 2)


def test_deleted_account_gets_no_signal():
    accounts = tree()
    state = guard(accounts)
    del accounts["d1"]
    assert state.flips(["d1"]) == []


def test_set_balance_ignores_equal_or_older_seq():
    state = guard()
    assert state.set_balance("u1", D("5"), 7) is True
    assert state.set_balance("u1", D("-5"), 6) is False
    assert state.set_balance("u1", D("-5"), 7) is False
    assert state.balances["u1"] == D("5")
    assert state.set_balance("u1", D("-5"), 8) is True and state.balances["u1"] == D("-5")


def test_remember_keeps_the_highest_version_and_versions_continue_from_it():
    state = funded(guard(), r1="10", u1="10")
    state.remember("u1", "blocked", "ast1", 17)
    state.remember("u1", "active", "ast1", 3)  # an older signal read later
    assert state.published["u1"] == Published("blocked", "ast1", 17)
    assert signals(state.flips(["u1"])) == {"u1": ("active", "ok", 18)}


def test_remembered_state_that_still_holds_is_not_resent():
    state = funded(guard(), r1="10", u1="10")
    state.remember("u1", "active", "ast1", 5)
    assert "u1" not in signals(state.flips(["u1"]))


def test_reseller_moving_switch_moves_his_users_without_a_server():
    accounts = tree()
    state = funded(guard(accounts), r1="10", u1="10")
    state.flips(["r1"])
    accounts["r1"] = accounts["r1"].model_copy(update={"server": "ast7"})
    out = {s.account: s.server for s, _ in state.flips(["r1"])}
    assert out.get("u1") == "ast7" and state.published["u1"].server == "ast7"
