"""The tariff page's rates in the portal (pipeline/api/portal_rates.py): listed with the reseller's
cost and margin, searched and paged, one rate added, changed from a date, removed, downloaded as the
CSV the upload reads, and the tariff archived; read-only where the caller does not own it."""
from __future__ import annotations

import re

import pytest

from tests.api.api_world import World, portal_client


@pytest.fixture
def world() -> World:
    return World()


def rate_rows(html: str) -> list[str]:
    body = html.split('<table class="compact rates">', 1)[1].split("</table>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.split(">", 1)[1])).strip() for row in body.split("<tr")[2:]]


def test_a_resellers_tariff_shows_his_cost_and_margin(world):
    client, _ = portal_client(world, "r1")
    page = client.get("/tariffs/t-r1-retail")
    assert page.status_code == 200 and "Your cost" in page.text
    assert rate_rows(page.text) == ["370 — 2 0 1 s always every day current 1.2 0.8 Edit Remove"]
    assert 'id="rate"' in page.text and 'action="/tariffs/t-r1-retail/archive"' in page.text
    # his buy tariff: read-only, no form, no archive button
    cost = client.get("/tariffs/t-r-buy")
    assert cost.status_code == 200 and "read-only" in cost.text
    assert 'id="rate"' not in cost.text and "/archive" not in cost.text and "Remove" not in cost.text
    # the admin sees what the reseller pays, labelled as the reseller's cost
    admin, _ = portal_client(world, "admin")
    assert "1.2" in rate_rows(admin.get("/tariffs/t-r1-retail").text)[0]


def test_a_loss_rate_shows_a_negative_margin(world):
    client, csrf = portal_client(world, "r1")
    answer = client.post("/tariffs/t-r1-retail/rate", data={"prefix": "3706", "rate": "1", "csrf": csrf},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/tariffs/t-r1-retail?done=rate&prefix=3706"
    page = client.get(answer.headers["location"])
    assert "Rate saved." in page.text
    row = [r for r in rate_rows(page.text) if r.startswith("3706")][0]
    assert "1.2 -0.2" in row and 'class="num mono neg">-0.2' in page.text


def test_edit_change_from_a_date_and_remove(world):
    client, csrf = portal_client(world, "r1")
    edit = client.get("/tariffs/t-r1-retail", params={"edit_prefix": "370", "edit_from": "1970-01-01T00:00:00Z",
                                                      "edit_day": "all", "edit_start": "00:00:00",
                                                      "edit_end": "23:59:59"})
    assert "Change this rate" in edit.text and 'name="rate" value="2"' in edit.text
    # the same version key changes it; a later date adds the successor
    client.post("/tariffs/t-r1-retail/rate", data={"prefix": "370", "rate": "2.2", "effective_from": "1970-01-01T00:00:00",
                                                   "csrf": csrf})
    client.post("/tariffs/t-r1-retail/rate", data={"prefix": "370", "rate": "1.9",
                                                   "effective_from": "2099-01-01T00:00:00", "csrf": csrf})
    rows = rate_rows(client.get("/tariffs/t-r1-retail").text)
    assert [r.split(" ")[2] for r in rows] == ["1.9", "2.2"] and "scheduled" in rows[0] and "current" in rows[1]
    bad = client.post("/tariffs/t-r1-retail/rate", data={"prefix": "370", "rate": "2,5", "csrf": csrf})
    assert bad.status_code == 422 and "rate" in bad.text and 'value="2,5"' in bad.text  # kept to fix
    client.post("/tariffs/t-r1-retail/rate/remove", data={"prefix": "370", "effective_from": "2099-01-01T00:00:00Z",
                                                          "day_type": "all", "start": "00:00:00", "end": "23:59:59",
                                                          "csrf": csrf})
    assert [r.split(" ")[2] for r in rate_rows(client.get("/tariffs/t-r1-retail").text)] == ["2.2"]
    missing = client.post("/tariffs/t-r1-retail/rate/remove", data={"prefix": "999", "csrf": csrf})
    assert missing.status_code == 404


def test_search_paging_and_the_download(world):
    csv = "prefix,rate,destination\n" + "".join(f"44{n:03d},0.5,UK {n}\n" for n in range(120))
    world.put("r1", "/v1/tariffs/t-r1-retail/rates", content=csv, headers={"Content-Type": "text/csv"})
    client, _ = portal_client(world, "r1")
    first = client.get("/tariffs/t-r1-retail")
    assert len(rate_rows(first.text)) == 50 and "1–50 of 120 versions" in first.text
    assert 'id="rates-next" href="/tariffs/t-r1-retail?offset=50#rates"' in first.text
    last = client.get("/tariffs/t-r1-retail?offset=100")
    assert len(rate_rows(last.text)) == 20 and "Next" not in last.text.split('class="pager"', 1)[1]
    found = client.get("/tariffs/t-r1-retail", params={"destination": "uk 11"})
    assert [r.split(" ")[0] for r in rate_rows(found.text)] == ["44011"] + [f"44{n}" for n in range(110, 120)]
    assert 'href="/tariffs/t-r1-retail/rates.csv?destination=uk+11"' in found.text
    download = client.get("/tariffs/t-r1-retail/rates.csv", params={"prefix": "4411"})
    assert download.headers["content-type"].startswith("text/csv")
    assert download.text.splitlines()[0].startswith("prefix,rate,connection_fee") and len(download.text.splitlines()) == 11
    nonsense = client.get("/tariffs/t-r1-retail", params={"offset": "x", "status": "maybe", "prefix": "9" * 500})
    assert nonsense.status_code == 200


def test_archiving_from_the_tariff_page(world):
    client, csrf = portal_client(world, "r1")
    refused = client.post("/tariffs/t-r1-retail/archive", data={"action": "archive", "csrf": csrf})
    assert refused.status_code == 422 and "u1" in refused.text
    world.put("r1", "/v1/tariffs/t-old", json={"rates": [{"prefix": "1", "rate": "1"}]})
    done = client.post("/tariffs/t-old/archive", data={"action": "archive", "csrf": csrf}, follow_redirects=False)
    assert done.headers["location"] == "/tariffs/t-old?done=archived"
    assert "t-old" not in client.get("/tariffs").text
    assert "t-old" in client.get("/tariffs?archived=1").text
    page = client.get("/tariffs/t-old")
    assert "Unarchive" in page.text and 'id="rate"' not in page.text  # an archived tariff's rates stay as they are
    assert "t-old" not in client.get("/users/u1").text.split('name="tariff"', 1)[1].split("</select>", 1)[0]


def test_the_users_list_hides_archived_accounts(world):
    world.put("r1", "/v1/accounts/u7", json={"type": "user", "tariff": "t-r1-retail"})
    client, csrf = portal_client(world, "r1")
    archived = client.post("/users/u7/archive", data={"action": "archive", "csrf": csrf}, follow_redirects=False)
    assert archived.headers["location"] == "/users/u7?done=archived"
    users = client.get("/users").text
    assert "/users/u7" not in users and "Show 1 archived" in users
    assert "/users/u7" in client.get("/users?archived=1").text
    page = client.get("/users/u7")
    assert "Unarchive" in page.text and "cannot sign in" in page.text
    assert client.post("/users/u7", data={"name": "x", "csrf": csrf}).status_code == 422  # settings frozen
    assert client.post("/users/u1/archive", data={"action": "archive", "csrf": csrf}).status_code == 422
