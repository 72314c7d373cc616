"""Logins (pipeline/api/logins.py) through the API and the portal: a password set with a new user,
set or reset by his manager (once-only links), changed by its owner, and API tokens listed, created
and revoked; every act within the caller's view, every password change ending the sessions."""
from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from pipeline.api.password_resets import new_reset
from tests.api.api_world import PASSWORD, World, portal_client

NEW = "a brand new passphrase"


@pytest.fixture
def world() -> World:
    return World()


def login(client: TestClient, account: str, password: str):
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"account": account, "password": password, "csrf": token},
                       follow_redirects=False)


def signs_in(world: World, account: str, password: str) -> bool:
    return login(TestClient(world.app), account, password).status_code == 303


def test_a_reseller_creates_a_user_with_a_password_by_api_and_by_form(world):
    answer = world.put("r1", "/v1/accounts/u7", json={"type": "user", "tariff": "t-r1-retail", "password": NEW})
    assert answer.status_code == 200 and "password" not in answer.json()
    assert signs_in(world, "u7", NEW)
    short = world.put("r1", "/v1/accounts/u8", json={"type": "user", "password": "short"})
    assert short.status_code == 422 and world.live.book.account("u8") is None
    client, csrf = portal_client(world, "r1")
    made = client.post("/users", data={"id": "u9", "name": "Nina", "tariff": "t-r1-retail", "password": NEW,
                                       "csrf": csrf}, follow_redirects=False)
    assert made.status_code == 303 and signs_in(world, "u9", NEW)
    bad = client.post("/users", data={"id": "u10", "password": "1234", "csrf": csrf})
    assert bad.status_code == 422 and world.live.book.account("u10") is None  # all or nothing


def test_a_manager_sets_his_users_password_and_the_users_sessions_end(world):
    user, _ = portal_client(world, "u1")
    assert world.put("r1", "/v1/accounts/u1/password", json={"password": NEW}).status_code == 204
    assert user.get("/", follow_redirects=False).status_code == 303
    assert signs_in(world, "u1", NEW) and not signs_in(world, "u1", PASSWORD)
    # outside his view, himself, or a user: as if missing
    for account, target in (("r2", "u1"), ("r1", "u2"), ("r1", "r1"), ("u1", "u1"), ("u1", "r1"), ("d1", "u1")):
        answer = world.put(account, f"/v1/accounts/{target}/password", json={"password": "hijacked!!"})
        assert answer.status_code == 404, (account, target)
    assert world.put("admin", "/v1/accounts/r2/password", json={"password": NEW}).status_code == 204
    assert [a["action"] for a in world.writer.audits].count("set password") == 2


def test_a_one_time_link_sets_the_password_once(world):
    answer = world.post("r1", "/v1/accounts/u1/password-reset")
    assert answer.status_code == 201
    link = answer.json()
    assert link["url"] == f"/reset/{link['token']}" and link["account"] == "u1"
    assert world.post("r2", "/v1/accounts/u1/password-reset").status_code == 404
    stranger = TestClient(world.app)
    page = stranger.get(link["url"])
    assert page.status_code == 200 and "u1" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    mismatch = stranger.post(link["url"], data={"password": NEW, "repeat": NEW + "x", "csrf": csrf})
    assert mismatch.status_code == 422 and "differ" in mismatch.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', mismatch.text).group(1)  # the page's form again
    done = stranger.post(link["url"], data={"password": NEW, "repeat": NEW, "csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login?done=reset-done"
    assert signs_in(world, "u1", NEW)
    used = stranger.get(link["url"])
    assert used.status_code == 404 and "does not work" in used.text
    assert stranger.get("/reset/0123456789ab.not-a-token").status_code == 404
    # a password set another way ends the open links; an expired link never works
    second = world.post("r1", "/v1/accounts/u1/password-reset").json()
    world.put("r1", "/v1/accounts/u1/password", json={"password": PASSWORD})
    assert stranger.get(second["url"]).status_code == 404
    old = new_reset("u1", now=time.time() - 2 * 86400)
    world.live.credentials.apply(old.key, old.value)
    assert stranger.get(f"/reset/{old.token}").status_code == 404
    # without the form's own token nothing is set
    third = world.post("r1", "/v1/accounts/u1/password-reset").json()
    forged = TestClient(world.app).post(third["url"], data={"password": NEW, "repeat": NEW, "csrf": "forged"})
    assert forged.status_code == 400 and signs_in(world, "u1", PASSWORD)


def test_changing_ones_own_password_by_api_is_throttled_and_ends_sessions(world):
    session, _ = portal_client(world, "r1")
    wrong = world.client.put("/v1/password", headers=world.headers("r1"), json={"current": "nope", "new": NEW})
    assert wrong.status_code == 422 and "current" in wrong.json()["detail"]
    assert world.client.put("/v1/password", headers=world.headers("r1"),
                            json={"current": PASSWORD, "new": NEW}).status_code == 204
    assert session.get("/", follow_redirects=False).status_code == 303
    assert signs_in(world, "r1", NEW)
    assert world.get("r1", "/v1/accounts/r1").status_code == 200  # tokens are not sessions
    for _ in range(world.backend.config.login_attempts):
        world.client.put("/v1/password", headers=world.headers("r1"), json={"current": "nope", "new": NEW})
    throttled = world.client.put("/v1/password", headers=world.headers("r1"), json={"current": NEW, "new": PASSWORD})
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1


def test_tokens_listed_created_and_revoked_within_the_callers_view(world):
    made = world.post("u1", "/v1/tokens", json={"expires_days": 30})
    assert made.status_code == 201
    token = made.json()
    assert token["expires"] and token["token"].startswith(token["id"] + ".")
    assert world.client.get("/v1/accounts/u1", headers={"Authorization": f"Bearer {token['token']}"}).status_code == 200
    listed = world.get("u1", "/v1/tokens").json()
    assert token["id"] in [t["id"] for t in listed] and all("token" not in t for t in listed)
    assert token["id"] in [t["id"] for t in world.get("r1", "/v1/tokens", params={"account": "u1"}).json()]
    for account, target in (("r2", "u1"), ("u2", "u1"), ("u1", "r1")):
        assert world.get(account, "/v1/tokens", params={"account": target}).status_code == 404
    other = world.live.credentials.tokens_of("r1")[0]
    for account in ("r2", "u1"):  # not his, not his user's
        assert world.client.delete(f"/v1/tokens/{other}", headers=world.headers(account)).status_code == 404
    assert world.client.delete(f"/v1/tokens/{token['id']}", headers=world.headers("r1")).status_code == 204
    assert world.client.get("/v1/accounts/u1", headers={"Authorization": f"Bearer {token['token']}"}).status_code == 401
    assert world.post("u1", "/v1/tokens", json={"expires_days": 0}).status_code == 422


def test_an_account_has_at_most_fifty_tokens(world):
    for _ in range(49):
        assert world.post("d1", "/v1/tokens", json={}).status_code == 201
    answer = world.post("d1", "/v1/tokens", json={})
    assert answer.status_code == 422 and "at most 50" in answer.json()["detail"]


def test_the_portal_token_page_shows_a_new_token_once(world):
    client, csrf = portal_client(world, "u1")
    page = client.get("/account/tokens")
    assert page.status_code == 200 and world.live.credentials.tokens_of("u1")[0] in page.text
    made = client.post("/account/tokens", data={"expires_days": "7", "csrf": csrf})
    assert made.status_code == 201
    secret = re.search(r'id="token-value">([^<]+)<', made.text).group(1)
    assert world.client.get("/v1/accounts/u1", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert secret not in client.get("/account/tokens").text  # never again
    token_id = secret.split(".")[0]
    revoked = client.post("/account/tokens/revoke", data={"id": token_id, "csrf": csrf}, follow_redirects=False)
    assert revoked.headers["location"] == "/account/tokens?done=token-revoked"
    assert token_id not in world.live.credentials.tokens_of("u1")
    assert client.post("/account/tokens", data={"expires_days": "soon", "csrf": csrf}).status_code == 422


def test_the_user_page_sets_a_password_issues_a_link_and_revokes_tokens(world):
    client, csrf = portal_client(world, "r1")
    page = client.get("/users/u1")
    assert 'id="set-password"' in page.text and world.live.credentials.tokens_of("u1")[0] in page.text
    set_it = client.post("/users/u1/password", data={"password": NEW, "repeat": NEW, "csrf": csrf},
                         follow_redirects=False)
    assert set_it.status_code == 303 and signs_in(world, "u1", NEW)
    link = client.post("/users/u1/reset-link", data={"csrf": csrf})
    assert link.status_code == 201
    url = re.search(r'class="secret mono">[^<]*(/reset/[^<\s]+)<', link.text).group(1)
    assert TestClient(world.app).get(url).status_code == 200
    token_id = world.live.credentials.tokens_of("u1")[0]
    client.post("/users/u1/tokens/revoke", data={"id": token_id, "csrf": csrf})
    assert world.live.credentials.tokens_of("u1") == []
    own = world.live.credentials.tokens_of("r1")[0]  # only the page's user's tokens from his page
    assert client.post("/users/u1/tokens/revoke", data={"id": own, "csrf": csrf}).status_code == 404
    assert own in world.live.credentials.tokens_of("r1")
