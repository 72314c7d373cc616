"""DIDs without the operator's shell: the admin creates them with their rates in the portal, the
assign drop-down offers only the users the rules allow, and the reseller sets the owner rate his
user pays him, in the API and the portal (the admin may too: docs/dids.md)."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.api.api_world import World, portal_client

RATES = {"incoming": {"rate": "0.1"}, "owner": {"rate": "0.5"}, "provider": {"rate": "-0.02"}}


@pytest.fixture
def world() -> World:
    world = World()
    answer = world.put("admin", "/v1/dids/37052000001", json={"reseller": "r1", "user": "u1", "rates": RATES})
    assert answer.status_code == 200, answer.text
    return world


def options(page: str, number: str) -> list[str]:
    """The user ids offered in the assign form of one DID on the /dids page."""
    form = re.search(rf'action="/dids/{number}" class="inline-form">(.*?)</form>', page, re.S).group(1)
    return re.findall(r'<option value="([^"]+)"', form)


def test_the_admin_creates_a_did_with_its_rates_in_the_portal(world):
    client, csrf = portal_client(world, "admin")
    answer = client.post("/dids", data={"csrf": csrf, "number": "+370 5200 0042", "reseller": "r1",
                                        "incoming_rate": "0.1", "owner_rate": "0.5", "owner_fee": "0.05",
                                        "provider_rate": "-0.02"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/dids/37052000042?done=saved"
    did = world.live.book.did("37052000042")
    assert (did.reseller, did.user) == ("r1", None)
    assert (did.rates.incoming.rate, did.rates.owner.rate, did.rates.owner.connection_fee,
            did.rates.provider.rate) == (Decimal("0.1"), Decimal("0.5"), Decimal("0.05"), Decimal("-0.02"))
    assert "+37052000042" in client.get("/dids").text


def test_a_new_did_with_a_bad_rate_is_refused_naming_the_field(world):
    client, csrf = portal_client(world, "admin")
    answer = client.post("/dids", data={"csrf": csrf, "number": "37052000043", "incoming_rate": "1e3"})
    assert answer.status_code == 422 and "rates.incoming.rate" in answer.text
    assert world.live.book.did("37052000043") is None


def test_an_existing_number_is_not_created_again(world):
    client, csrf = portal_client(world, "admin")
    answer = client.post("/dids", data={"csrf": csrf, "number": "37052000001"})
    assert answer.status_code == 422 and "already exists" in answer.text
    assert world.live.book.did("37052000001").user == "u1"


def test_only_the_admin_creates_dids(world):
    client, csrf = portal_client(world, "r1")
    answer = client.post("/dids", data={"csrf": csrf, "number": "37052000044", "reseller": "r1"})
    assert answer.status_code == 404 and world.live.book.did("37052000044") is None
    assert 'action="/dids"' not in client.get("/dids").text  # no form to create one either


def test_the_assign_drop_down_offers_only_the_dids_resellers_own_users(world):
    world.put("r1", "/v1/accounts/u7", json={"type": "user", "tariff": "t-r1-retail", "name": "Seven"})
    world.put("admin", "/v1/dids/37052000077", json={"rates": RATES})  # the admin's own DID
    admin, _ = portal_client(world, "admin")
    page = admin.get("/dids").text
    assert options(page, "37052000009") == ["u1", "u7"]  # r1's DID: r1's users, not u2 nor d1
    assert options(page, "37052000002") == ["u2"]  # r2's DID
    assert options(page, "37052000077") == ["d1"]  # no reseller: the admin's direct users
    reseller, _ = portal_client(world, "r1")
    assert options(reseller.get("/dids").text, "37052000009") == ["u1", "u7"]


def test_a_reseller_assigns_his_did_without_touching_the_admins_rates(world):
    client, csrf = portal_client(world, "r1")
    answer = client.post("/dids/37052000001", data={"csrf": csrf, "user": ""}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    did = world.live.book.did("37052000001")
    assert did.user is None and did.rates.owner.rate == Decimal("0.5")


def test_the_reseller_sets_his_users_owner_rate_in_the_api(world):
    answer = world.put("r1", "/v1/dids/37052000001", json={"user": "u1", "owner_rate": {"rate": "0.8", "increment": 60}})
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert shown["owner_rate"]["rate"] == "0.8" and shown["owner_rate"]["increment"] == 60
    assert shown["rates"]["owner"]["rate"] == "0.5" and shown["rates"]["provider"] is None  # the admin's business
    did = world.live.book.did("37052000001")
    assert did.owner_pays.rate == Decimal("0.8") and did.rates.provider.rate == Decimal("-0.02")
    # a later assignment that says nothing of it keeps it; an explicit null drops it
    assert world.put("r1", "/v1/dids/37052000001", json={"user": "u1"}).json()["owner_rate"]["rate"] == "0.8"
    assert world.put("r1", "/v1/dids/37052000001", json={"user": "u1", "owner_rate": None}).json()["owner_rate"] is None


def test_the_reseller_sets_the_owner_rate_in_the_portal(world):
    client, csrf = portal_client(world, "r1")
    page = client.get("/dids/37052000001").text
    assert "-0.02" not in page and 'name="incoming_rate"' not in page  # neither the admin's carriers nor his form
    answer = client.post("/dids/37052000001/rates", data={"csrf": csrf, "user": "u1", "owner_rate_rate": "0.75",
                                                          "owner_rate_fee": "0.01"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    did = world.live.book.did("37052000001")
    assert (did.owner_rate.rate, did.owner_rate.connection_fee) == (Decimal("0.75"), Decimal("0.01"))
    assert did.rates.owner.rate == Decimal("0.5")
    assert 'value="0.75"' in client.get("/dids/37052000001").text


def test_a_reseller_cannot_change_the_admins_rates_through_the_api(world):
    answer = world.put("r1", "/v1/dids/37052000001", json={"user": "u1", "rates": {"owner": {"rate": "0"}}})
    assert answer.status_code == 422 and "only the admin sets the rates" in answer.json()["detail"]
    assert world.live.book.did("37052000001").rates.owner.rate == Decimal("0.5")


def test_another_reseller_can_neither_see_nor_price_the_did(world):
    assert world.get("r2", "/v1/dids/37052000001").status_code == 404
    answer = world.put("r2", "/v1/dids/37052000001", json={"user": "u1", "owner_rate": {"rate": "9"}})
    assert answer.status_code == 404
    client, csrf = portal_client(world, "r2")
    assert client.get("/dids/37052000001").status_code == 404
    answer = client.post("/dids/37052000001/rates", data={"csrf": csrf, "user": "u1", "owner_rate_rate": "9"})
    assert answer.status_code == 404 and world.live.book.did("37052000001").owner_rate is None


def test_the_admin_may_set_the_owner_rate_too(world):
    answer = world.put("admin", "/v1/dids/37052000001", json={"reseller": "r1", "user": "u1",
                                                               "owner_rate": {"rate": "0.7"}})
    assert answer.status_code == 200, answer.text
    assert world.live.book.did("37052000001").owner_pays.rate == Decimal("0.7")
    assert world.live.book.did("37052000001").rates.incoming.rate == Decimal("0.1")  # kept when left out


def test_an_owner_rate_needs_a_resellers_user(world):
    answer = world.put("r1", "/v1/dids/37052000009", json={"owner_rate": {"rate": "0.8"}})
    assert answer.status_code == 422 and "needs both a reseller and a user" in answer.json()["detail"]
