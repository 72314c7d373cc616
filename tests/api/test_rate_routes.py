"""/v1/tariffs/{id}/rates one by one, and archiving accounts and tariffs, on the in-memory world
(tests/api/api_world.py): who sees and edits which rates, search and paging, the CSV download read
back by the upload, single versions added, scheduled and removed, and archived records kept but
given to nothing new."""
from __future__ import annotations

import re

import pytest

from pipeline.api.credentials import new_token
from tests.api.api_world import PASSWORD, World, portal_client


@pytest.fixture
def world() -> World:
    return World()


def rates_of(world: World, account: str, tariff: str, **params) -> dict:
    answer = world.get(account, f"/v1/tariffs/{tariff}/rates", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def post_rate(world: World, account: str, tariff: str, **rate):
    return world.post(account, f"/v1/tariffs/{tariff}/rates", json=rate)


def test_who_sees_a_tariffs_rates(world):
    assert rates_of(world, "r1", "t-r1-retail")["rates"][0]["rate"] == "2"
    assert rates_of(world, "admin", "t-r1-retail")["total"] == 1
    # his cost: the admin's tariff assigned to him, read-only
    assert rates_of(world, "r1", "t-r-buy")["rates"][0]["rate"] == "1.2"
    answer = post_rate(world, "r1", "t-r-buy", prefix="370", rate="0.01")
    assert answer.status_code == 422 and "tariffs of his own" in answer.json()["detail"]
    # another reseller's tariff, the admin's provider tariff, and any tariff for a user: as if missing
    for account, tariff in (("r2", "t-r1-retail"), ("r1", "t-p1"), ("u1", "t-r1-retail"), ("r1", "nope")):
        assert world.get(account, f"/v1/tariffs/{tariff}/rates").status_code == 404, (account, tariff)
        assert world.get(account, f"/v1/tariffs/{tariff}/rates?format=csv").status_code == 404
    assert world.writer.published == []


def test_add_schedule_replace_and_remove_one_rate(world):
    answer = post_rate(world, "r1", "t-r1-retail", prefix="3706", rate="3.5", destination="Lithuania mobile",
                       increment=60, min_time=60, tiers=[{"from_seconds": 60, "rate": "1.25", "increment": 1}])
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "current" and answer.json()["tiers"] == [
        {"from_seconds": 60, "rate": "1.25", "increment": 1}]
    # a new price from a date: the current one stays until then
    later = post_rate(world, "r1", "t-r1-retail", prefix="3706", rate="2.9", effective_from="2099-01-01T00:00:00Z",
                      destination="Lithuania mobile").json()
    assert later["status"] == "scheduled"
    listed = rates_of(world, "r1", "t-r1-retail", prefix="3706")
    assert [(r["rate"], r["status"]) for r in listed["rates"]] == [("2.9", "scheduled"), ("3.5", "current")]
    # the same version key replaces, keeping everything else of the tariff
    post_rate(world, "r1", "t-r1-retail", prefix="3706", rate="3.4", increment=60, min_time=60,
              destination="Lithuania mobile")
    assert [r["rate"] for r in rates_of(world, "r1", "t-r1-retail")["rates"]] == ["2", "2.9", "3.4"]
    assert world.get("r1", "/v1/tariffs/t-r1-retail").json()["rate_count"] == 2  # prefixes, as before
    # the rating book really prices with it
    index = world.live.book.tariff_index("t-r1-retail")
    assert str(index.versions("3706")[-1].rate) == "3.4"
    # removing: one version, then every version of the prefix; a missing one is 404
    gone = world.client.delete("/v1/tariffs/t-r1-retail/rates", headers=world.headers("r1"),
                               params={"prefix": "3706", "effective_from": "2099-01-01T00:00:00Z"})
    assert gone.status_code == 200 and gone.json()["rate_count"] == 2
    again = world.client.delete("/v1/tariffs/t-r1-retail/rates", headers=world.headers("r1"),
                                params={"prefix": "3706", "effective_from": "2099-01-01T00:00:00Z"})
    assert again.status_code == 404 and "no rate for prefix" in again.json()["detail"]
    world.client.delete("/v1/tariffs/t-r1-retail/rates", headers=world.headers("r1"),
                        params={"prefix": "3706", "every_version": "true"})
    assert [r["prefix"] for r in rates_of(world, "r1", "t-r1-retail")["rates"]] == ["370"]
    assert [a["action"] for a in world.writer.audits][-1] == "remove 1 rate(s) of prefix 3706"


def test_a_bad_rate_is_refused_naming_the_field(world):
    for body, field in (({"prefix": "37a", "rate": "1"}, "prefix"), ({"prefix": "370", "rate": "-1"}, "rate"),
                        ({"prefix": "370", "rate": "1", "start": "25:00"}, "start"),
                        ({"prefix": "370", "rate": "1", "increment": 10,
                          "tiers": [{"from_seconds": 15, "rate": "1"}]}, "tiers")):
        answer = post_rate(world, "r1", "t-r1-retail", **body)
        assert answer.status_code == 422 and field in answer.json()["detail"], (body, answer.text)
    assert world.writer.published == []


def test_search_paging_and_the_csv_read_back_by_the_upload(world):
    csv = "prefix,rate,destination\n" + "".join(f"44{n:03d},0.{n:03d},UK {n}\n" for n in range(250)) + "370,2,\n"
    assert world.put("r1", "/v1/tariffs/t-r1-retail/rates", content=csv,
                     headers={"Content-Type": "text/csv"}).status_code == 200
    first = rates_of(world, "r1", "t-r1-retail", limit=100)
    assert first["total"] == 251 and first["next_offset"] == 100 and first["rates"][0]["prefix"] == "370"
    last = rates_of(world, "r1", "t-r1-retail", limit=100, offset=200)
    assert len(last["rates"]) == 51 and last["next_offset"] is None
    assert rates_of(world, "r1", "t-r1-retail", prefix="4412")["total"] == 10  # 44120..44129
    assert [r["prefix"] for r in rates_of(world, "r1", "t-r1-retail", number="441239999")["rates"]] == ["44123"]
    assert rates_of(world, "r1", "t-r1-retail", destination="uk 24")["total"] == 11  # UK 24, UK 240..249
    by_accept = world.get("r1", "/v1/tariffs/t-r1-retail/rates", headers={"Accept": "text/csv"})
    by_format = world.get("r1", "/v1/tariffs/t-r1-retail/rates?format=csv")
    assert by_accept.headers["content-type"].startswith("text/csv") and by_accept.text == by_format.text
    assert 'filename="t-r1-retail-rates.csv"' in by_format.headers["content-disposition"]
    before = rates_of(world, "r1", "t-r1-retail", limit=1000)["rates"]
    # the download goes back in unchanged, through the upload's reader
    assert world.put("r1", "/v1/tariffs/t-r1-retail/rates", content=by_format.text,
                     headers={"Content-Type": "text/csv"}).status_code == 200
    assert rates_of(world, "r1", "t-r1-retail", limit=1000)["rates"] == before


def test_archiving_a_tariff_and_an_account(world):
    refused = world.post("r1", "/v1/tariffs/t-r1-retail/archive")
    assert refused.status_code == 422 and 'user "u1" is on it' in refused.json()["detail"]
    world.put("r1", "/v1/tariffs/t-r1-old", json={"rates": [{"prefix": "370", "rate": "5"}]})
    archived = world.post("r1", "/v1/tariffs/t-r1-old/archive")
    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert archived.json()["rate_count"] == 1  # its rates stay: old calls re-rate with them
    assert "t-r1-old" not in [t["id"] for t in world.get("r1", "/v1/tariffs").json()]
    assert "t-r1-old" in [t["id"] for t in world.get("r1", "/v1/tariffs?include_archived=true").json()]
    given = world.put("r1", "/v1/accounts/u1", json={"type": "user", "tariff": "t-r1-old"})
    assert given.status_code == 422 and 'tariff "t-r1-old" is archived' in given.json()["detail"]
    # a PUT that leaves `archived` out keeps it
    world.put("r1", "/v1/tariffs/t-r1-old", json={"currency": "EUR", "rates": [{"prefix": "370", "rate": "5"}]})
    assert world.live.book.tariff("t-r1-old").archived
    assert world.post("r1", "/v1/tariffs/t-r1-old/unarchive").json()["archived"] is False
    assert world.post("r2", "/v1/tariffs/t-r1-old/archive").status_code == 404

    new_user(world, "u7")
    world.put("r1", "/v1/dids/37052000009", json={"user": "u7"})
    assert 'DID "37052000009"' in world.post("r1", "/v1/accounts/u7/archive").json()["detail"]
    world.put("r1", "/v1/dids/37052000009", json={"user": None})
    gone = world.post("r1", "/v1/accounts/u7/archive")
    assert gone.status_code == 200 and gone.json()["archived"] is True
    assert world.get("u7", "/v1/calls", params={"from": "2026-01-01", "to": "2026-01-02"}).status_code == 401
    assert world.live.credentials.tokens_of("u7") == []  # revoked: unarchiving brings none back
    assert "u7" not in [a["id"] for a in world.get("r1", "/v1/accounts").json()]
    assert "u7" in [a["id"] for a in world.get("r1", "/v1/accounts?include_archived=true").json()]
    # an archived account keeps its balance (and calls, invoices) for its manager, and is blocked
    assert world.get("r1", "/v1/balances/u7").status_code == 200
    assert world.post("r1", "/v1/accounts/r1/archive").status_code == 404  # never himself
    assert world.post("u2", "/v1/accounts/u2/archive").status_code == 404
    assert world.post("r2", "/v1/accounts/u7/archive").status_code == 404
    assert world.post("r1", "/v1/accounts/u7/unarchive").json()["archived"] is False


def new_user(world: World, account: str) -> None:
    """A user of r1 with nothing hanging on him, a token (world.tokens) and the world's password."""
    assert world.put("r1", f"/v1/accounts/{account}", json={"type": "user", "tariff": "t-r1-retail",
                                                           "password": PASSWORD}).status_code == 200
    token = new_token(account)
    world.live.credentials.apply(token.key, token.value)
    world.tokens[account] = token.token


def login(client, account: str, password: str):
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"account": account, "password": password, "csrf": token},
                       follow_redirects=False)


def test_an_archived_account_cannot_sign_in(world):
    new_user(world, "u7")
    client, _ = portal_client(world, "u7")
    assert world.post("r1", "/v1/accounts/u7/archive").status_code == 200
    assert client.get("/", follow_redirects=False).status_code == 303  # his session ended
    answer = login(client, "u7", PASSWORD)
    assert answer.status_code == 403 and "archived" in answer.text
    assert "rp_session=" not in answer.headers.get("set-cookie", "")  # no new session
    wrong = login(client, "u7", "not it at all")
    assert wrong.status_code == 401 and "archived" not in wrong.text  # told only to who knows the password
