"""The routes and pages of the reseller walkthrough's two calls (tests/integration/test_reseller_walkthrough.py):
u1 dials out at 3.00 (r1 pays the admin 1.20), and someone outside rings u1's DID: u1 pays r1 0.80,
r1 pays the admin 0.50. Each party's page says what he was charged, as the balances and the
invoice do: u1 "Spent 3.80", r1 revenue 3.80, cost 1.70, profit 2.10, the DID call on u1's row.
The fake store counts as queries.py does (tests/api/api_world.py); the SQL itself is checked on
ClickHouse by tests/api/test_did_money_queries.py."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.api.api_world import TODAY, World, call, portal_client

PERIOD = {"from": str((TODAY - timedelta(days=29)).date()), "to": str(TODAY.date())}
DID = "37052000001"


def did_call(call_id: str, caller: str, owner: str, reseller: str, incoming: str, owner_price: str,
             to_admin: str, reseller_profit: str, admin_profit: str) -> dict:
    """A call to a DID as rated_calls holds it: no user tariff, no user or reseller price."""
    row = call(caller, reseller, call_id, dst=DID, user_price="0", reseller_price="0", provider_price="0",
               src="4420700000")
    return {**row, "did": DID, "user_tariff": "", "user_prefix": "", "reseller_profit": Decimal(reseller_profit),
            "admin_profit": Decimal(admin_profit), "did_owner": owner, "did_incoming_price": Decimal(incoming),
            "did_owner_price": Decimal(owner_price), "did_reseller_owner_price": Decimal(to_admin),
            "did_provider_price": Decimal("0.02")}


WALK = [call("u1", "r1", "walk-out", user_price="3", reseller_price="1.2"),
        did_call("walk-did", "", "u1", "r1", "0", "0.8", "0.5", "0.3", "0.52"),
        # a user of another reseller rings u1's DID: r1 sees the call, not who he is
        did_call("from-u2", "u2", "u1", "r1", "0.1", "0.8", "0.5", "0.3", "0.62")]


@pytest.fixture
def world() -> World:
    return World(calls=WALK[:2])


def test_the_user_lists_the_call_to_his_did_at_his_price_and_spent_what_he_was_charged(world):
    page = world.get("u1", "/v1/calls", params=PERIOD).json()
    prices = {row["call_id"]: Decimal(row["user_price"]) for row in page["rows"]}
    assert prices == {"walk-out": Decimal("3"), "walk-did": Decimal("0.8")}
    assert not {"reseller_price", "reseller_profit", "did_owner_price"} & set(page["columns"])
    (totals,) = world.get("u1", "/v1/calls/totals", params=PERIOD).json()
    assert Decimal(totals["user_price"]) == Decimal("3.8") and totals["calls"] == 2
    client, _ = portal_client(world, "u1")
    html = client.get("/calls", params=PERIOD).text
    spent = re.search(r'Spent</span><span class="value">([^<]+)<', html).group(1).strip()
    assert spent == "3.80", spent
    assert "4420700000" in html and "0.8000 EUR" in html


def test_the_resellers_totals_profit_and_usage_count_the_did(world):
    (totals,) = world.get("r1", "/v1/calls/totals", params=PERIOD).json()
    assert [Decimal(totals[k]) for k in ("user_price", "reseller_price", "profit")] == [
        Decimal("3.8"), Decimal("1.7"), Decimal("2.1")]
    (profit,) = world.get("r1", "/v1/profit", params=PERIOD).json()
    assert [Decimal(profit[k]) for k in ("revenue", "cost", "profit")] == [Decimal("3.8"), Decimal("1.7"),
                                                                            Decimal("2.1")]
    (usage,) = world.get("r1", "/v1/stats/users", params=PERIOD).json()
    assert usage["account"] == "u1" and usage["calls"] == 2
    assert [Decimal(usage[k]) for k in ("revenue", "cost", "profit")] == [Decimal("3.8"), Decimal("1.7"),
                                                                           Decimal("2.1")]
    client, _ = portal_client(world, "r1")
    html = client.get("/profit", params=PERIOD).text
    assert "3.80" in html and "1.70" in html and "2.10" in html


def test_a_reseller_sees_a_call_from_another_resellers_user_to_his_users_did_without_the_caller():
    world = World(calls=WALK)
    rows = {row["call_id"]: row for row in world.get("r1", "/v1/calls", params=PERIOD).json()["rows"]}
    assert rows["from-u2"]["account"] == "" and Decimal(rows["from-u2"]["user_price"]) == Decimal("0.8")
    u2 = {row["call_id"]: row for row in world.get("u2", "/v1/calls", params=PERIOD).json()["rows"]}
    assert Decimal(u2["from-u2"]["user_price"]) == Decimal("0.1")  # his incoming price, nothing of u1's
