"""Security audit of payments: what the API answers 201 the pipeline applies, and what the pipeline
would refuse is refused at the door; a reseller cannot point his users at another switch (`server`).

The pipeline side is the payment stage's own check (AcceptPayments._check, the code that decides
`bad_payment`), run on the message the API published, so the two cannot drift apart unseen."""
from __future__ import annotations

from types import SimpleNamespace

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.settings import Settings
from pipeline.stages.accept_payments import AcceptPayments
from tests.api.api_world import World, portal_client

# what the audit sent (each answered 201 and never arrived), and their neighbours
REFUSED_AMOUNTS = ["-100", "1e6", "10^20", "100000000000000000000", "1E+1000000", "NaN", "-Infinity", "Infinity",
                   "0", "-0.0", "1.0000001", "1000000000000", "1_000", "١٢", "0x10", "", " "]

WORLD = World()  # argon2 and the app once: hypothesis calls the API hundreds of times


def stage_check(payment: dict) -> tuple[object, object]:
    """What the payment stage decides for this message on balance.payments: (payment, problem)."""
    stage = AcceptPayments(Settings(topic_prefix=""), SimpleNamespace(book=WORLD.live.book))
    message = SimpleNamespace(key=payment["account"].encode(), value=orjson.dumps(payment), topic="balance.payments",
                              partition=0, offset=0, timestamp=0)
    return stage._check(message)


def pay(amount: str, account: str = "u1"):
    return WORLD.post("r1", "/v1/payments", json={"account": account, "amount": amount})


@pytest.mark.parametrize("amount", REFUSED_AMOUNTS)
def test_an_amount_the_pipeline_refuses_is_refused_at_the_door_naming_field_and_rule(amount):
    published = len(WORLD.writer.payments)
    answer = pay(amount)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail.startswith("amount: ") and ("must" in detail or "more than" in detail), detail
    assert len(WORLD.writer.payments) == published
    assert stage_check({"id": "p", "account": "u1", "amount": amount})[1] is not None


@pytest.mark.parametrize("amount", REFUSED_AMOUNTS[:6])
def test_the_portal_does_not_say_payment_recorded_for_an_amount_the_pipeline_refuses(amount):
    client, csrf = portal_client(WORLD, "r1")
    published = len(WORLD.writer.payments)
    answer = client.post("/payments", data={"csrf": csrf, "account": "u1", "amount": amount}, follow_redirects=False)
    assert answer.status_code == 422 and "amount: " in answer.text
    assert len(WORLD.writer.payments) == published


def test_a_good_amount_arrives_as_written():
    answer = pay(" 10.50 ")
    assert answer.status_code == 201, answer.text
    assert answer.json()["amount"] == "10.50" == WORLD.writer.payments[-1]["amount"]


DECIMAL_LIKE = st.from_regex(r"\A[ +-]?[0-9]{0,14}(\.[0-9]{0,8})?([eE][+-]?[0-9]{1,3})?\Z")
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(amount=st.one_of(DECIMAL_LIKE, ANY_TEXT, st.decimals(allow_nan=True).map(str)))
@example(amount="-100")
@example(amount="1e6")
@example(amount="1E+1000000")
@example(amount="999999999999.999999")
def test_what_the_api_accepts_is_exactly_what_the_payment_stage_applies(amount):
    stage_payment, stage_problem = stage_check({"id": "p", "account": "u1", "amount": amount})
    answer = pay(amount)
    assert answer.status_code in (201, 422), answer.text
    assert (answer.status_code == 201) == (stage_problem is None), (answer.text, stage_problem)
    if answer.status_code == 201:
        published = WORLD.writer.payments[-1]
        assert published == answer.json()
        payment, problem = stage_check(published)  # the message the pipeline actually reads
        assert problem is None and payment.amount == stage_payment.amount
    else:
        assert answer.json()["detail"].startswith("amount: ")


# server: which switch receives an account's block signals is the admin's to say ------------------

@pytest.fixture
def world() -> World:
    world = World()
    # the admin pins r1 to ast1 and r1's user u1 to ast5 (the admin may set it on anyone)
    for account, body in (("r1", {"type": "reseller", "tariff": "t-r-buy", "server": "ast1"}),
                          ("u1", {"type": "user", "parent": "r1", "tariff": "t-r1-retail", "server": "ast5"})):
        assert world.put("admin", f"/v1/accounts/{account}", json=body).status_code == 200
    return world


@pytest.mark.parametrize("account, body", [
    ("u1", {"type": "user", "tariff": "t-r1-retail", "server": "ast9"}),  # moves his user to another switch
    ("u9", {"type": "user", "tariff": "t-r1-retail", "server": "ast9"}),  # a new user on a switch not his
])
def test_a_reseller_may_not_choose_the_switch_of_his_users(world, account, body):
    before = world.get("admin", f"/v1/accounts/{account}").json().get("server")
    answer = world.put("r1", f"/v1/accounts/{account}", json=body)
    assert answer.status_code == 422, answer.text
    assert "only the admin sets" in answer.json()["detail"] and "server" in answer.json()["detail"]
    assert world.get("admin", f"/v1/accounts/{account}").json().get("server") == before


def test_a_reseller_puts_back_the_whole_record_with_its_server_unchanged(world):
    record = world.get("r1", "/v1/accounts/u1").json()
    body = {k: v for k, v in record.items() if k not in ("id", "parent")} | {"name": "Alice Renamed"}
    answer = world.put("r1", "/v1/accounts/u1", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["server"] == "ast5" and answer.json()["name"] == "Alice Renamed"


def test_a_reseller_who_leaves_server_out_keeps_the_admins_choice(world):
    answer = world.put("r1", "/v1/accounts/u1", json={"type": "user", "tariff": "t-r1-retail", "name": "Alice"})
    assert answer.status_code == 200, answer.text
    assert world.get("admin", "/v1/accounts/u1").json()["server"] == "ast5"


def test_a_resellers_portal_edit_keeps_the_server_the_admin_set(world):
    client, csrf = portal_client(world, "r1")
    answer = client.post("/users/u1", data={"csrf": csrf, "name": "Alice", "tariff": "t-r1-retail",
                                            "billing": "prepaid", "server": "ast9"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert world.live.book.account("u1").server == "ast5"


@pytest.mark.parametrize("server", [None, "ast1"])
def test_a_resellers_new_user_may_be_on_no_switch_or_on_his_own(world, server):
    body = {"type": "user", "tariff": "t-r1-retail"} | ({"server": server} if server else {})
    answer = world.put("r1", "/v1/accounts/u9", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["server"] == server


def test_the_admin_still_sets_any_server(world):
    answer = world.put("admin", "/v1/accounts/u1", json={"type": "user", "parent": "r1", "tariff": "t-r1-retail",
                                                         "server": "ast7"})
    assert answer.status_code == 200 and answer.json()["server"] == "ast7"


def test_the_rule_is_the_ref_apply_rule_too(world):
    from pipeline.reference.publish import ApplyError, Located, refuse_broken
    from pipeline.reference.records import parse_reference_record

    moved = Located("users.json", 1, parse_reference_record(
        {"kind": "account", "id": "u1", "type": "user", "parent": "r1", "tariff": "t-r1-retail", "server": "ast9"}))
    with pytest.raises(ApplyError, match="only the admin sets"):
        refuse_broken(world.live.book, [moved], writer="r1")
    refuse_broken(world.live.book, [moved])  # as the admin, which `ref apply` is
