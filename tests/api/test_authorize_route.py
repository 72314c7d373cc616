"""POST /v1/authorize at the door: who may ask, what a malformed question gets (a clear 422, never
a 500), and that no refusal leaves a hold behind, even in a flood for one account."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.api.api_world import World

CALL = {"server_id": "s1", "call_id": "c1", "account": "u1", "dst": "37060000000"}


def funded() -> World:
    """The test world with r1 able to pay for his users' calls (it starts at -0.35, prepaid)."""
    made = World()
    made.live.balances["r1"] = (6, Decimal("100"))
    return made


@pytest.fixture
def world() -> World:
    return funded()


SHARED = funded()


def test_the_admin_is_answered_and_an_account_token_finds_no_such_route(world):
    answer = world.post("admin", "/v1/authorize", json=CALL)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["allowed"] is True and body["reason"] == "ok" and body["sip_code"] is None
    assert body["max_seconds"] > 0 and Decimal(body["holds"]["u1"]) > 0
    for account in ("r1", "u1", "d1"):  # as if it did not exist, like every record outside a view
        assert world.post(account, "/v1/authorize", json=CALL).status_code == 404
    assert world.post(None, "/v1/authorize", json=CALL).status_code == 401


@pytest.mark.parametrize("change, field", [
    ({"dst": ""}, "dst"),
    ({"call_id": "x" * 257}, "call_id"),
    ({"call_id": "a/b"}, "call_id"),
    ({"server_id": "s\x001"}, "server_id"),
    ({"setup_time": "9999-12-31T00:00:00Z"}, "setup_time"),
    ({"setup_time": "2026-12-01T10:00:00"}, "setup_time"),
    ({"account": "u" * 200}, "account"),
])
def test_a_malformed_question_is_a_422_naming_the_field(world, change, field):
    answer = world.post("admin", "/v1/authorize", json={**CALL, **change})
    assert answer.status_code == 422, answer.text
    assert field in answer.text


def test_unknown_callers_are_refused_with_what_was_tried(world):
    body = world.post("admin", "/v1/authorize", json={**CALL, "account": "", "device": "1001",
                                                      "src": "37052000001"}).json()
    assert (body["allowed"], body["reason"], body["sip_code"], body["mor_code"]) == (False, "unknown_account", 403, 200)
    assert "device '1001'" in body["detail"] and "src '37052000001'" in body["detail"]


def test_a_flood_for_one_account_holds_at_most_its_money_and_nothing_for_refusals(world):
    answers = [world.post("admin", "/v1/authorize", json={**CALL, "call_id": f"f{n}"}).json() for n in range(60)]
    allowed = [a for a in answers if a["allowed"]]
    refused = [a for a in answers if not a["allowed"]]
    assert allowed and refused and all(a["holds"] == {} for a in refused)
    held = world.backend.authorizer.holds.held
    assert held["u1"] == sum(Decimal(a["holds"]["u1"]) for a in allowed) <= Decimal("12.500000")
    assert {a["reason"] for a in refused} == {"no_free_balance"}


def test_the_same_call_asked_again_gets_the_same_answer_and_holds_nothing_more(world):
    first = world.post("admin", "/v1/authorize", json=CALL).json()
    held = dict(world.backend.authorizer.holds.held)
    assert world.post("admin", "/v1/authorize", json=CALL).json() == first
    assert world.backend.authorizer.holds.held == held


FIELDS = st.sampled_from(["server_id", "call_id", "account", "dst", "did", "setup_time", "pin"])
VALUES = st.one_of(st.text(max_size=40), st.integers(), st.none(), st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=150, deadline=None)
@given(body=st.dictionaries(FIELDS, VALUES))
def test_any_body_is_answered_200_or_422_never_500(body):
    answer = SHARED.post("admin", "/v1/authorize", json=body)
    assert answer.status_code in (200, 422), answer.text


def test_a_switch_token_authorizes_its_own_servers_calls_and_nothing_else(world):
    from pipeline.api.credentials import new_token, switch_account

    made = new_token(switch_account("s1"))
    world.live.credentials.apply(made.key, made.value)
    headers = {"Authorization": f"Bearer {made.token}"}
    assert world.client.post("/v1/authorize", headers=headers, json=CALL).json()["allowed"] is True
    other = world.client.post("/v1/authorize", headers=headers, json={**CALL, "server_id": "s2"})
    assert other.status_code == 403 and "s1" in other.json()["detail"]
    for method, url in (("GET", "/v1/accounts"), ("GET", "/v1/balances/u1"), ("POST", "/v1/payments")):
        answer = world.client.request(method, url, headers=headers, json={"account": "u1", "amount": "1"})
        assert answer.status_code == 401, (method, url, answer.status_code)
