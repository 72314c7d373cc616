"""/v1/devices and the devices pages (docs/devices.md): the admin manages every device, a reseller
his users' and his own, a user none; a write follows `ref apply`'s rules; DELETE archives, and an
archived device stops matching at once."""
from __future__ import annotations

import re

import pytest

from pipeline.reference.devices import resolve_caller
from pipeline.schemas.device_keys import DeviceKeys
from tests.api.api_world import World, portal_client


@pytest.fixture()
def world() -> World:
    return World()


def test_a_reseller_lists_and_reads_only_his_tenants_devices(world):
    assert [d["id"] for d in world.get("r1", "/v1/devices").json()] == ["dev-u1"]
    assert sorted(d["id"] for d in world.get("r2", "/v1/devices").json()) == ["dev-r2", "dev-u2"]
    assert len(world.get("admin", "/v1/devices").json()) == 3
    assert world.get("r2", "/v1/devices/dev-u2").json()["call_limit"] == 1
    assert world.get("r1", "/v1/devices/dev-u2").status_code == 404
    assert world.get("u2", "/v1/devices/dev-u2").status_code == 404  # a user manages no device
    assert world.get("u1", "/v1/devices").json() == []
    assert world.get("r1", "/v1/devices", params={"account": "u2"}).status_code == 404


def test_a_reseller_adds_a_device_for_his_user_and_it_is_published(world):
    answer = world.put("r1", "/v1/devices/dev-new", json={"account": "u1", "ip": "10.1.1.1:5060", "server": "ast1"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["ip"] == "10.1.1.1" and world.writer.published[-1][0].id == "dev-new"
    assert world.writer.audits[-1]["action"] == "put device"
    assert resolve_caller(world.live.book, "ast1", DeviceKeys(ip="10.1.1.1")).account == "u1"


@pytest.mark.parametrize("body, status, needle", [
    ({"account": "u2", "sip_user": "x"}, 404, ""),  # another tenant's user: as if it did not exist
    ({"account": "u1"}, 422, "at least one of sip_user, ip, accountcode"),
    ({"account": "u1", "ip": "300.1.1.1"}, 422, "ip: must be an IPv4 or IPv6 address"),
    ({"account": "u1", "sip_user": "2002", "server": "ast1"}, 422, "is already claimed by a device of another account"),
    ({"account": "u1", "sip_user": "x", "call_limit": -1}, 422, "call_limit"),
])
def test_a_bad_write_is_refused_naming_the_rule_and_nothing_of_another_tenant(world, body, status, needle):
    answer = world.put("r1", "/v1/devices/dev-x", json=body)
    assert answer.status_code == status, answer.text
    assert needle in answer.text and "dev-u2" not in answer.text and "u2\"" not in answer.text
    assert world.live.book.device("dev-x") is None


def test_delete_archives_and_the_device_stops_matching(world):
    keys = DeviceKeys(sip_user="2002")
    assert resolve_caller(world.live.book, "ast1", keys).account == "u2"
    assert world.client.delete("/v1/devices/dev-u2", headers=world.headers("r1")).status_code == 404
    assert world.client.delete("/v1/devices/dev-u2", headers=world.headers("r2")).status_code == 204
    assert world.live.book.device("dev-u2").archived
    assert isinstance(resolve_caller(world.live.book, "ast1", keys), str)
    assert [d["id"] for d in world.get("r2", "/v1/devices").json()] == ["dev-r2"]
    assert world.get("r2", "/v1/devices", params={"include_archived": "true"}).json()[1]["archived"] is True
    # its key is free: another device of r2's may take it; a PUT of the old one keeps it archived
    assert world.put("r2", "/v1/devices/dev-u2", json={"account": "u2", "sip_user": "2002", "server": "ast1"}
                     ).json()["archived"] is True
    back = world.put("r2", "/v1/devices/dev-u2", json={"account": "u2", "sip_user": "2002", "server": "ast1",
                                                      "archived": False})
    assert back.status_code == 200 and resolve_caller(world.live.book, "ast1", keys).account == "u2"


def test_the_portal_lists_adds_and_archives(world):
    client, csrf = portal_client(world, "r1")
    page = client.get("/devices")
    assert page.status_code == 200 and "dev-u1" in page.text and "dev-u2" not in page.text
    made = client.post("/devices", data={"csrf": csrf, "id": "desk-2", "account": "u1", "sip_user": "1009",
                                         "call_limit": "3"}, follow_redirects=False)
    assert made.status_code == 303 and world.live.book.device("desk-2").call_limit == 3
    taken = client.post("/devices", data={"csrf": csrf, "id": "desk-3", "account": "u1", "sip_user": "1009"})
    assert taken.status_code == 422 and 'already claimed by device &#34;desk-2&#34;' in taken.text
    archived = client.post("/devices/desk-2/archive", data={"csrf": csrf, "action": "archive"}, follow_redirects=False)
    assert archived.status_code == 303 and world.live.book.device("desk-2").archived
    assert "matches no call" in client.get("/devices/desk-2?done=archived").text
    assert client.get("/devices/dev-u2").status_code == 404
    user, _ = portal_client(world, "u1")
    assert user.get("/devices").status_code == 404
    assert re.search(r'href="/devices"', page.text)  # in the navigation
