"""own_block_reason and evaluate (docs/domain.md "Blocking"): who is blocked, why, on which switch."""
from decimal import Decimal

import pytest

from pipeline.balances.blocking import evaluate, own_block_reason
from pipeline.schemas.reference import AccountIn
from tests.unit.balances.accounts import DEFAULT_SERVER, tree

D = Decimal


def account(**fields) -> AccountIn:
    return AccountIn(id="a", type="user", **fields)


@pytest.mark.parametrize("balance, reason", [("0.000001", None), ("0", "balance"), ("-1", "balance")])
def test_prepaid_blocks_at_zero_or_below(balance, reason):
    assert own_block_reason(account(billing="prepaid"), D(balance)) == reason


@pytest.mark.parametrize("balance, reason", [("-49.999999", None), ("-50", "credit_limit"), ("-51", "credit_limit"),
                                             ("0", None)])
def test_postpaid_blocks_at_minus_credit_limit_or_below(balance, reason):
    assert own_block_reason(account(billing="postpaid", credit_limit="50"), D(balance)) == reason


def test_postpaid_zero_credit_limit_blocks_at_zero():
    assert own_block_reason(account(billing="postpaid", credit_limit="0"), D(0)) == "credit_limit"


def test_postpaid_without_credit_limit_is_never_blocked_for_money():
    assert own_block_reason(account(billing="postpaid"), D("-1000000000")) is None


def test_manual_block_wins_over_money():
    assert own_block_reason(account(billing="prepaid", blocked=True), D(100)) == "manual"
    assert own_block_reason(account(billing="prepaid", blocked=True), D(-1)) == "manual"


def test_admin_has_no_balance():
    assert own_block_reason(AccountIn(id="admin", type="admin"), D(-5)) is None


def state(accounts, ident, balances):
    return evaluate(ident, accounts.get, {k: D(v) for k, v in balances.items()}, DEFAULT_SERVER)


def test_active_user_of_active_reseller():
    got = state(tree(), "u1", {"u1": "5", "r1": "5"})
    assert (got.state, got.reason, got.server, got.reseller) == ("active", "ok", "ast1", "r1")


def test_out_of_money_reseller_blocks_his_user_with_money():
    got = state(tree(), "u1", {"u1": "5", "r1": "0"})
    assert (got.state, got.reason) == ("blocked", "reseller_blocked")


def test_manually_blocked_reseller_blocks_his_users():
    assert state(tree(r1={"blocked": True}), "u2", {"r1": "100"}).reason == "reseller_blocked"


def test_own_reason_takes_precedence_over_the_resellers():
    assert state(tree(), "u1", {"u1": "0", "r1": "0"}).reason == "balance"
    assert state(tree(), "u2", {"u2": "-50", "r1": "0"}).reason == "credit_limit"
    assert state(tree(u1={"blocked": True}), "u1", {"u1": "5", "r1": "0"}).reason == "manual"


def test_other_resellers_trouble_does_not_reach_a_user():
    assert state(tree(), "u3", {"u3": "1", "r1": "-9", "r2": "-99.99"}).state == "active"
    assert state(tree(), "u3", {"u3": "1", "r2": "-100"}).reason == "reseller_blocked"


def test_missing_balance_counts_as_zero():
    assert state(tree(), "u1", {}).reason == "balance"
    assert state(tree(), "d1", {}).state == "active"  # postpaid, no credit limit


@pytest.mark.parametrize("ident, balances, server", [
    ("u3", {"u3": "1"}, "ast3"),  # his own
    ("u1", {"u1": "1", "r1": "1"}, "ast1"),  # his reseller's
    ("r2", {}, DEFAULT_SERVER),  # "global" is the installation default
    ("d1", {}, DEFAULT_SERVER),  # direct user, admin on "global"
])
def test_serving_server_is_own_else_resellers_else_default(ident, balances, server):
    assert state(tree(), ident, balances).server == server


@pytest.mark.parametrize("unset", [None, "", "global"])
def test_unset_server_values_all_fall_through(unset):
    accounts = tree(r1={"server": unset}, u1={"server": unset}, admin={"server": unset})
    assert state(accounts, "u1", {"u1": "1", "r1": "1"}).server == DEFAULT_SERVER


def test_reseller_and_direct_user_have_no_reseller():
    assert state(tree(), "r1", {"r1": "1"}).reseller == ""
    assert state(tree(), "d1", {}).reseller == ""


def test_unknown_account_has_no_state():
    assert evaluate("ghost", tree().get, {}, DEFAULT_SERVER) is None


def test_admin_has_no_state_to_signal():
    assert evaluate("admin", tree().get, {}, DEFAULT_SERVER) is None
