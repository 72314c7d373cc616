"""A reseller's own portal domain: only he and his users sign in there (another reseller once could:
the first test failed before the fix), set by the admin, or by the reseller when the admin allows."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.api.api_world import PASSWORD, World, portal_client

R1_HOST = "portal.reseller-one.example"  # api_world: r1's domain


@pytest.fixture
def world() -> World:
    return World()


def sign_in(world: World, account: str, host: str, password: str = PASSWORD):
    client = TestClient(world.app, base_url=f"http://{host}")
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login", data={"account": account, "password": password, "csrf": token, "next": "/"},
                         follow_redirects=False)
    return client, answer


@pytest.mark.parametrize("account", ["r2", "u2", "d1", "admin"])
def test_nobody_outside_the_resellers_tenant_signs_in_on_his_domain(world, account):
    client, answer = sign_in(world, account, R1_HOST)
    assert answer.status_code == 401 and "Unknown account or wrong password." in answer.text
    assert "rp_session" not in client.cookies
    # the very answer a wrong password gets: nothing says the account exists elsewhere
    _, wrong = sign_in(world, "r1", R1_HOST, "not the password")
    assert (wrong.status_code, _error(wrong.text)) == (answer.status_code, _error(answer.text))


def _error(page: str) -> str:
    return re.sub(r'value="[^"]*"', "", page)  # the page less its fresh CSRF token


@pytest.mark.parametrize("account", ["r1", "u1"])
def test_the_reseller_and_his_users_sign_in_on_his_domain(world, account):
    client, answer = sign_in(world, account, R1_HOST)
    assert answer.status_code == 303 and client.get("/").status_code == 200


def test_another_tenants_session_is_not_honoured_on_the_domain(world):
    client, answer = sign_in(world, "r2", "testserver")  # the installation's own portal
    assert answer.status_code == 303 and client.get("/calls").status_code == 200
    branded = client.get("/calls", headers={"Host": R1_HOST}, follow_redirects=False)
    assert branded.status_code == 303 and branded.headers["location"].startswith("/login")


def test_the_admin_sets_and_removes_a_resellers_domain_in_the_portal(world):
    client, csrf = portal_client(world, "admin")
    answer = client.post("/portal-domains", data={"csrf": csrf, "account": "r2", "host": "Portal.Second.Example"},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/users/r2")
    assert world.live.credentials.domains["portal.second.example"] == "r2"
    assert "portal.second.example" in client.get("/users/r2").text
    _, u2_answer = sign_in(world, "u2", "portal.second.example")
    assert u2_answer.status_code == 303
    answer = client.post("/portal-domains/remove", data={"csrf": csrf, "host": "portal.second.example"},
                         follow_redirects=False)
    assert answer.status_code == 303 and "portal.second.example" not in world.live.credentials.domains


def test_a_reseller_sets_his_domain_only_when_the_admin_allows_it(world):
    reseller, csrf = portal_client(world, "r1")
    assert "The operator sets your portal domain" in reseller.get("/branding").text
    refused = reseller.post("/portal-domains", data={"csrf": csrf, "account": "r1", "host": "my.r1.example"})
    assert refused.status_code == 404 and "my.r1.example" not in world.live.credentials.domains
    assert world.put("r1", "/v1/portal-domains/my.r1.example", json={"account": "r1"}).status_code == 404

    admin, admin_csrf = portal_client(world, "admin")  # the box on the reseller's page
    page = admin.get("/users/r1").text
    fields = {"csrf": admin_csrf, "name": "Reseller One Telecom", "tariff": "t-r-buy", "billing": "prepaid",
              "parent": "admin", "allow_own_domain_shown": "1", "allow_own_domain": "on"}
    assert 'name="allow_own_domain"' in page
    assert admin.post("/users/r1", data=fields, follow_redirects=False).status_code == 303
    assert world.live.book.account("r1").allow_own_domain

    assert 'id="add-domain"' in reseller.get("/branding").text
    answer = reseller.post("/portal-domains", data={"csrf": csrf, "account": "r1", "host": "my.r1.example"},
                           follow_redirects=False)
    assert answer.status_code == 303 and world.live.credentials.domains["my.r1.example"] == "r1"
    # allowed for his own, never for another's domain or another reseller
    world.live.credentials.apply("domain:portal.second.example", b'{"account": "r2"}')
    taken = world.put("r1", "/v1/portal-domains/portal.second.example", json={"account": "r1"})
    assert taken.status_code == 404 and world.live.credentials.domains["portal.second.example"] == "r2"
    assert world.put("r1", "/v1/portal-domains/r2.r1.example", json={"account": "r2"}).status_code == 404
    assert world.client.delete("/v1/portal-domains/portal.second.example",
                               headers=world.headers("r1")).status_code == 404
    assert world.client.delete("/v1/portal-domains/my.r1.example", headers=world.headers("r1")).status_code == 204
    assert "my.r1.example" not in world.live.credentials.domains


def test_the_api_lists_each_callers_domains_and_checks_the_host(world):
    world.live.credentials.apply("domain:portal.second.example", b'{"account": "r2"}')
    assert world.get("r1", "/v1/portal-domains").json() == [{"host": R1_HOST, "account": "r1"}]
    assert {d["host"] for d in world.get("admin", "/v1/portal-domains").json()} == {
        R1_HOST, "portal.second.example", "portal.second-reseller.example"}
    assert world.get("u1", "/v1/portal-domains").status_code == 404
    bad = world.put("admin", "/v1/portal-domains/not_a_host", json={"account": "r1"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("host: ")
    taken = world.put("admin", "/v1/portal-domains/portal.second.example", json={"account": "r1"})
    assert taken.status_code == 422 and "remove it there first" in taken.json()["detail"]
    user = world.put("admin", "/v1/portal-domains/u1.example", json={"account": "u1"})
    assert user.status_code == 422 and "a reseller's" in user.json()["detail"]
    made = world.put("admin", "/v1/portal-domains/portal.r1.example", json={"account": "r1"})
    assert made.status_code == 200 and made.json() == {"host": "portal.r1.example", "account": "r1"}


def test_the_allowance_is_kept_by_a_write_that_leaves_it_out(world):
    body = {"type": "reseller", "tariff": "t-r-buy", "allow_own_domain": True}
    assert world.put("admin", "/v1/accounts/r1", json=body).json()["allow_own_domain"] is True
    body.pop("allow_own_domain")
    assert world.put("admin", "/v1/accounts/r1", json=body).json()["allow_own_domain"] is True
