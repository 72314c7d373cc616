"""Money in the portal and the API without the operator's shell: refunds and corrections, the calls
page (totals, filters, a period that shows the latest calls), usage and profit per user, and the
block reason that is true now."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.api.api_world import TODAY, World, call, portal_client

PERIOD = {"from": str((TODAY - timedelta(days=29)).date()), "to": str(TODAY.date())}


@pytest.fixture
def world() -> World:
    return World()


# refunds and corrections -------------------------------------------------------------------------

def test_a_reseller_refunds_his_user_with_a_reason(world):
    answer = world.post("r1", "/v1/payments", json={"account": "u1", "amount": "5", "kind": "refund",
                                                     "reason": "unused credit returned"})
    assert answer.status_code == 201, answer.text
    assert world.writer.payments[-1] == answer.json() == {
        "id": answer.json()["id"], "account": "u1", "amount": "5", "kind": "refund", "reason": "unused credit returned"}
    assert world.writer.audits[-1]["action"] == "refund" and "-5" in world.writer.audits[-1]["detail"]


@pytest.mark.parametrize("body, words", [
    ({"amount": "12.500001", "kind": "refund", "reason": "x"}, "at most the balance 12.500000"),
    ({"amount": "5", "kind": "refund"}, "reason: a refund needs a reason"),
    ({"amount": "-5"}, 'kind "refund"'),
    ({"amount": "0", "kind": "correction", "reason": "x"}, "other than 0"),
])
def test_what_the_pipeline_or_the_refund_rule_refuses_is_refused_at_the_door(world, body, words):
    answer = world.post("r1", "/v1/payments", json={"account": "u1", **body})
    assert answer.status_code == 422 and words in answer.json()["detail"], answer.text
    assert world.writer.payments == []


def test_a_refund_leaves_what_running_calls_hold(world):
    world.live.apply("state.auth_calls", b"s1/c1", b'{"holds": {"u1": "2.5"}}')  # u1 has 12.5, 2.5 held
    refused = world.post("r1", "/v1/payments", json={"account": "u1", "amount": "10.01", "kind": "refund",
                                                      "reason": "x"})
    assert refused.status_code == 422 and "less 2.5 held by running calls" in refused.json()["detail"]
    assert world.post("r1", "/v1/payments", json={"account": "u1", "amount": "10", "kind": "refund",
                                                   "reason": "x"}).status_code == 201


def test_a_correction_may_take_money_away_beyond_the_balance(world):
    answer = world.post("admin", "/v1/payments", json={"account": "u1", "amount": "-20", "kind": "correction",
                                                        "reason": "payment booked twice"})
    assert answer.status_code == 201 and world.writer.payments[-1]["amount"] == "-20"


def test_refunds_follow_the_payment_rules_of_who_pays_whom(world):
    assert world.post("r1", "/v1/payments", json={"account": "u2", "amount": "1", "kind": "refund",
                                                   "reason": "x"}).status_code == 404
    own = world.post("r1", "/v1/payments", json={"account": "r1", "amount": "1", "kind": "correction", "reason": "x"})
    assert own.status_code == 422 and "payments come from the account's parent" in own.json()["detail"]
    assert world.post("u1", "/v1/payments", json={"account": "u1", "amount": "1", "kind": "refund",
                                                   "reason": "x"}).status_code == 422
    assert world.writer.payments == []


def test_the_portal_records_a_refund_and_says_so(world):
    client, csrf = portal_client(world, "r1")
    answer = client.post("/payments", data={"csrf": csrf, "account": "u1", "kind": "refund", "amount": "2.5",
                                            "reason": "goodwill"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/payments?done=refunded"
    assert world.writer.payments[-1]["kind"] == "refund" and world.writer.payments[-1]["amount"] == "2.5"
    assert "Refund recorded." in client.get(answer.headers["location"]).text


def test_the_portal_refuses_a_negative_payment_with_the_kind_to_use_and_keeps_the_form(world):
    client, csrf = portal_client(world, "r1")
    answer = client.post("/payments", data={"csrf": csrf, "account": "u1", "kind": "payment", "amount": "-5",
                                            "reason": "typo"})
    assert answer.status_code == 422 and "Payment recorded" not in answer.text
    assert "kind &#34;refund&#34;" in answer.text or 'kind "refund"' in answer.text
    assert 'value="-5"' in answer.text and world.writer.payments == []


def test_the_resellers_payments_page_says_who_tops_him_up(world):
    client, _ = portal_client(world, "r1")
    page = client.get("/payments").text
    assert "Your own balance is topped up by the operator" in page
    accounts = re.search(r'<select name="account" required>(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'option value="([^"]+)"', accounts) == ["u1"]  # his users; never himself
    admin, _ = portal_client(world, "admin")
    assert "topped up by the operator" not in admin.get("/payments").text


# the calls page ---------------------------------------------------------------------------------

def call_ids(page: str) -> list[str]:
    return re.findall(r'data-label="Start">([^<]+)<', page)


def test_the_calls_page_shows_totals_over_the_whole_filter(world):
    client, _ = portal_client(world, "r1")
    page = client.get("/calls").text
    totals = re.search(r'id="call-totals">(.*?)</section>', page, re.S).group(1)
    assert ">3<" in totals and "2 answered (66.7%)" in totals and "2.00 <small>min" in totals
    assert "6.00" in totals and "2.40" in totals  # user price 3 x 2, r1's profit 3 x 0.8
    answered = client.get("/calls", params={"status": "ANSWERED"}).text
    assert ">2<" in re.search(r'id="call-totals">(.*?)</section>', answered, re.S).group(1)


@pytest.mark.parametrize("params, expected", [
    ({"status": "NO ANSWER"}, 1), ({"caller": "=HYP"}, 1), ({"min_billsec": "1"}, 2), ({"min_billsec": "61"}, 0),
    ({"caller": "=HYP", "status": "NO ANSWER"}, 0),
])
def test_the_calls_page_filters_by_status_caller_id_and_duration(world, params, expected):
    client, _ = portal_client(world, "r1")
    page = client.get("/calls", params=params).text
    assert len(call_ids(page)) == expected, page[:2000]


def test_a_bad_filter_is_refused_naming_it(world):
    client, _ = portal_client(world, "r1")
    answer = client.get("/calls", params={"min_billsec": "-1"})
    assert answer.status_code == 422 and "min_billsec" in answer.text
    assert world.get("r1", "/v1/calls", params={**PERIOD, "disposition": "SOMETIMES"}).status_code == 422


def test_the_calls_page_opens_on_the_period_of_the_newest_call():
    """The demo's data stopped weeks ago: the page used to open on the last 7 days, empty."""
    old = [call("u1", "r1", "old-a", days_ago=100), call("u1", "r1", "old-b", days_ago=140),
           call("u2", "r2", "r2-newer", days_ago=10)]
    world = World(calls=old)
    client, _ = portal_client(world, "r1")
    page = client.get("/calls").text
    newest = (TODAY - timedelta(days=100)).date()
    assert f"{newest - timedelta(days=29)} to {newest}" in page and "the newest call" in page
    assert len(call_ids(page)) == 1  # old-a; old-b is 140 days back, r2's newer call is not his
    csv_link = re.search(r'href="(/calls\.csv[^"]*)"', page).group(1).replace("&amp;", "&")
    assert "old-a" in client.get(csv_link).text


def test_the_api_gives_the_same_filters_and_their_totals(world):
    rows = world.get("r1", "/v1/calls", params={**PERIOD, "min_billsec": 1}).json()["rows"]
    assert sorted(r["call_id"] for r in rows) == ["c-u1-a", "c-u1-evil"]
    totals = world.get("r1", "/v1/calls/totals", params={**PERIOD, "min_billsec": 1}).json()
    assert totals == [{"currency": "EUR", "calls": 2, "answered": 2, "billsec": 120, "minutes": "2.00",
                       "user_price": "4", "reseller_price": "2.4", "provider_price": None, "profit": "1.6"}]
    mine = world.get("u1", "/v1/calls/totals", params=PERIOD).json()
    assert [(t["calls"], t["user_price"], t["reseller_price"], t["profit"]) for t in mine] == [(3, "6", None, None)]
    assert world.get("r1", "/v1/calls/totals", params={**PERIOD, "account": "u2"}).status_code == 404


# usage per user -----------------------------------------------------------------------------------

def test_usage_per_user_for_a_reseller_and_the_admin(world):
    rows = world.get("r1", "/v1/stats/users", params=PERIOD).json()
    assert rows == [{"reseller": None, "account": "u1", "currency": "EUR", "calls": 3, "answered": 2, "billsec": 120,
                     "minutes": "2.00", "revenue": "6", "cost": "3.6", "profit": "2.4"}]
    admin = {(r["reseller"], r["account"]): r for r in world.get("admin", "/v1/stats/users", params=PERIOD).json()}
    assert set(admin) == {("r1", "u1"), ("r2", "u2"), ("", "d1")}
    assert (admin[("r2", "u2")]["revenue"], admin[("r2", "u2")]["cost"], admin[("r2", "u2")]["profit"]) == \
        ("2.4", "0.6", "1.8")  # what reaches the admin, his provider price, his profit
    assert Decimal(admin[("", "d1")]["profit"]) == Decimal("1.2")
    only_r2 = world.get("admin", "/v1/stats/users", params={**PERIOD, "reseller": "r2"}).json()
    assert [r["account"] for r in only_r2] == ["u2"]
    assert world.get("r1", "/v1/stats/users", params={**PERIOD, "reseller": "r2"}).status_code == 404
    assert world.get("u1", "/v1/stats/users", params=PERIOD).status_code == 404


def test_the_usage_page_lists_the_resellers_users_only(world):
    client, _ = portal_client(world, "r1")
    page = client.get("/usage").text
    table = re.search(r'<table class="stack-on-phone" id="usage">(.*?)</table>', page, re.S).group(1)
    assert "Alice Uno" in table and "u2" not in table and "Bob Dos" not in table
    assert "2.40" in table and "2.00" in table  # his profit on u1, u1's minutes


# the block reason that is true -------------------------------------------------------------------

def test_a_user_who_paid_shows_his_resellers_block_not_his_own_old_reason(world):
    """u1 was blocked for his balance, then paid (12.5); the guard sent no new signal because he
    stays blocked, now through r1 (prepaid at -0.35). His recorded reason still says "balance"."""
    world.live.states["u1"] = {"account": "u1", "state": "blocked", "reason": "balance"}
    for caller, words in (("admin", "reseller r1 is out of money"), ("r1", "your own account is out of money"),
                          ("u1", "the reseller's account is blocked")):
        shown = world.get(caller, "/v1/balances/u1").json()
        assert (shown["state"], shown["reason"], shown["reason_text"]) == ("blocked", "reseller_blocked", words)
    reseller, _ = portal_client(world, "r1")
    assert "your own account is out of money" in reseller.get("/users/u1").text
    user, _ = portal_client(world, "u1")
    dashboard = user.get("/").text
    assert "the reseller&#39;s account is blocked" in dashboard or "the reseller's account is blocked" in dashboard
    assert "· balance" not in dashboard


def test_a_reason_of_his_own_stays_his_own(world):
    world.live.states["u2"] = {"account": "u2", "state": "blocked", "reason": "balance"}  # u2 has no money
    shown = world.get("r2", "/v1/balances/u2").json()
    assert (shown["reason"], shown["reason_text"]) == ("balance", "out of money")
    world.live.states["u1"] = {"account": "u1", "state": "blocked", "reason": "alert"}  # not followed here
    assert world.get("r1", "/v1/balances/u1").json()["reason"] == "alert"
