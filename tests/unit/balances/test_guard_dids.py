"""`did:NUMBER` entries on switch.control follow their owner's state while receiving a call costs
the owner money (docs/domain.md "DIDs")."""
from decimal import Decimal

from pipeline.balances.blocking import dids_by_owner
from pipeline.balances.guard_state import GuardState
from pipeline.schemas.reference import DidIn
from tests.unit.balances.accounts import DEFAULT_SERVER, tree

PAID = {"owner": {"rate": "0.5"}}
DIDS = {
    "100": DidIn(number="100", reseller="r1", user="u1", rates=PAID),  # u1 pays the admin's 0.5
    "101": DidIn(number="101", reseller="r1", user="u1", rates=PAID, owner_rate={"rate": "0"}),  # free for u1
    "102": DidIn(number="102", user="d1", rates={"owner": {"rate": "0", "connection_fee": "0.01"}}),
    "103": DidIn(number="103", reseller="r1", rates=PAID),  # r1 holds it
    "104": DidIn(number="104", rates=PAID),  # unassigned
    "105": DidIn(number="105", user="d1", rates={"owner": {"rate": "-1"}}),  # paid to d1
}


def guard(dids=None, accounts=None) -> GuardState:
    accounts = accounts if accounts is not None else tree()
    dids = dict(DIDS) if dids is None else dids
    return GuardState(
        lookup=accounts.get,
        children=lambda ident: [a.id for a in accounts.values() if a.parent == ident],
        default_server=DEFAULT_SERVER,
        dids_of=lambda owner: dids_by_owner(dids.values()).get(owner, []),
        did=dids.get,
    )


def funded(state: GuardState, **balances) -> GuardState:
    for ident, value in balances.items():
        state.set_balance(ident, Decimal(value), state.seqs.get(ident, 0) + 1)
    return state


def dids_in(out) -> dict:
    return {s.account: (s.state, s.reason, s.server, version) for s, version in out if s.account.startswith("did:")}


def test_first_look_publishes_only_dids_that_are_blocked():
    state = funded(guard(), r1="10", u1="0", d1="-1", u2="1", r2="1", u3="1")  # u1 prepaid at 0: blocked
    out = dids_in(state.flips(["r1", "u1", "u2", "d1", "r2", "u3"]))
    # 101 is free for u1, 102's fee makes d1 pay but d1 is postpaid without a limit: active
    assert out == {"did:100": ("blocked", "balance", "ast1", 1)}


def test_a_did_follows_its_owner_both_ways_with_rising_versions():
    state = funded(guard(), r1="10", u1="10")
    state.flips(["r1"])
    state.set_balance("u1", Decimal("-1"), 50)
    assert dids_in(state.flips(["u1"])) == {"did:100": ("blocked", "balance", "ast1", 1)}
    state.set_balance("u1", Decimal("5"), 51)
    assert dids_in(state.flips(["u1"])) == {"did:100": ("active", "ok", "ast1", 2)}


def test_a_reseller_running_dry_blocks_his_own_did_and_his_users_did():
    state = funded(guard(), r1="10", u1="10")
    state.flips(["r1"])
    state.set_balance("r1", Decimal("0"), 60)
    assert dids_in(state.flips(["r1"])) == {"did:100": ("blocked", "reseller_blocked", "ast1", 1),
                                            "did:103": ("blocked", "balance", "ast1", 1)}


def test_a_did_free_for_its_owner_or_paid_to_him_is_never_blocked():
    state = funded(guard(), r1="10", u1="10", d1="0")
    state.flips(["r1", "d1"])
    accounts = tree(d1={"blocked": True})
    state.lookup = accounts.get
    assert dids_in(state.flips(["d1"])) == {"did:102": ("blocked", "manual", DEFAULT_SERVER, 1)}  # a fee is a price
    assert "did:105" not in state.published and "did:101" not in state.published


def test_a_changed_did_record_is_judged_by_its_key():
    dids = dict(DIDS)
    state = funded(guard(dids), r1="10", u1="-5")
    state.flips(["r1"])
    assert state.published["did:100"].state == "blocked"
    dids["100"] = DidIn(number="100", reseller="r1", user="u1", rates=PAID, owner_rate={"rate": "0"})
    assert dids_in(state.flips(["did:100"])) == {"did:100": ("active", "ok", "ast1", 2)}
    del dids["100"]  # deleted while blocked: nothing left to block
    dids["104"] = DidIn(number="104", user="u1", rates=PAID)  # unassigned -> u1 (blocked)
    state.did = dids.get
    assert dids_in(state.flips(["did:104"])) == {"did:104": ("blocked", "balance", "ast1", 1)}


def test_no_did_lookup_means_no_did_entries():
    state = GuardState(lookup=tree().get, children=lambda ident: [], default_server=DEFAULT_SERVER)
    funded(state, u1="-1")
    assert dids_in(state.flips(["u1"])) == {}
