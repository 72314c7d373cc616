"""OWASP API2 (broken authentication) on the in-memory backend: a portal session ends when its user
signs out, changes the password or signs out everywhere, on every instance (the state travels as
ref.credentials records); expired tokens are refused; failed sign-ins slow the guesser's client
without locking the real user out."""
from __future__ import annotations

import dataclasses
import re
import time
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer

from pipeline.api.credentials import CredentialIndex, new_token
from pipeline.api.login_throttle import LoginLimiter, Throttled
from pipeline.api.session_records import revoked_record
from tests.api.api_world import PASSWORD, World, portal_client

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def world() -> World:
    return World()


def frozen_clock(world: World) -> World:
    """The app's limiter on a clock that stands still: a test's pace cannot outlast a wait."""
    world.app.state.login_limiter = LoginLimiter(world.backend.config.login_attempts,
                                                 world.backend.config.login_window_seconds, clock=lambda: 1000.0)
    return world


def copy_of(world: World, client: TestClient, address: str = "198.51.100.7") -> TestClient:
    """Another browser (elsewhere) holding a copy of client's session cookie."""
    thief = TestClient(world.app, client=(address, 40000))
    thief.cookies.set("rp_session", client.cookies["rp_session"])
    return thief


def with_cookie(world: World, cookie: str) -> TestClient:
    client = TestClient(world.app)
    client.cookies.set("rp_session", cookie)
    return client


def signed_in(client: TestClient) -> bool:
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code in (200, 303), answer.text[:300]
    return answer.status_code == 200


def sign_in(world: World, account: str, password: str, address: str = "testclient") -> tuple[TestClient, int]:
    client = TestClient(world.app, client=(address, 40000))
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post("/login", data={"account": account, "password": password, "csrf": token},
                         follow_redirects=False)
    return client, answer.status_code


# sessions ---------------------------------------------------------------------------------------

def test_a_copied_cookie_is_refused_once_its_session_signed_out(world):
    client, csrf = portal_client(world, "r1")
    thief = copy_of(world, client)
    assert signed_in(thief)  # the copy works while the session lives...
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert not signed_in(thief)  # ...and not after its user signed out
    assert thief.get("/users", follow_redirects=False).headers["location"].startswith("/login")


def test_signing_out_ends_only_that_session(world):
    first, csrf = portal_client(world, "r1")
    second, _ = portal_client(world, "r1")
    first.post("/logout", data={"csrf": csrf})
    assert signed_in(second)


def test_a_password_change_ends_every_other_session_and_keeps_this_one(world):
    client, csrf = portal_client(world, "r1")
    other, _ = portal_client(world, "r1")
    thief = copy_of(world, client)
    answer = client.post("/account/password", data={"csrf": csrf, "current": PASSWORD, "new": NEW_PASSWORD,
                                                     "repeat": NEW_PASSWORD}, follow_redirects=False)
    assert answer.status_code == 303, answer.text[:300]
    assert signed_in(client) and not signed_in(other) and not signed_in(thief)
    assert sign_in(world, "r1", PASSWORD)[1] == 401
    assert sign_in(world, "r1", NEW_PASSWORD)[1] == 303
    assert [a["action"] for a in world.writer.audits] == ["change password"]


def test_a_password_change_needs_the_current_password(world):
    client, csrf = portal_client(world, "r1")
    other, _ = portal_client(world, "r1")
    wrong = client.post("/account/password", data={"csrf": csrf, "current": "not it at all", "new": NEW_PASSWORD,
                                                   "repeat": NEW_PASSWORD})
    assert wrong.status_code == 422 and "current password is wrong" in wrong.text
    short = client.post("/account/password", data={"csrf": csrf, "current": PASSWORD, "new": "short",
                                                   "repeat": "short"})
    assert short.status_code == 422 and "8 characters" in short.text
    assert signed_in(other) and sign_in(world, "r1", PASSWORD)[1] == 303  # nothing changed


def test_guessing_the_current_password_through_a_borrowed_session_is_throttled(world):
    frozen_clock(world)
    client, csrf = portal_client(world, "r1")
    for _ in range(world.backend.config.login_attempts):
        client.post("/account/password", data={"csrf": csrf, "current": "a wrong guess", "new": NEW_PASSWORD,
                                                "repeat": NEW_PASSWORD})
    answer = client.post("/account/password", data={"csrf": csrf, "current": PASSWORD, "new": NEW_PASSWORD,
                                                    "repeat": NEW_PASSWORD})
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1


def test_sign_out_everywhere_ends_every_session_of_the_account_only(world):
    client, csrf = portal_client(world, "r1")
    thief = copy_of(world, client)
    neighbour, _ = portal_client(world, "r2")
    answer = client.post("/account/sign-out-everywhere", data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?done=everywhere"
    assert not signed_in(client) and not signed_in(thief)
    assert signed_in(neighbour)
    again, status = sign_in(world, "r1", PASSWORD)  # a session issued afterwards works
    assert status == 303 and signed_in(again)
    assert [a["action"] for a in world.writer.audits] == ["sign out everywhere"]


def test_the_api_signs_an_account_out_everywhere_and_its_token_keeps_working(world):
    client, _ = portal_client(world, "u1")
    neighbour, _ = portal_client(world, "r1")
    assert world.post(None, "/v1/sessions/revoke-all").status_code == 401
    answer = world.post("u1", "/v1/sessions/revoke-all")
    assert answer.status_code == 204, answer.text
    assert not signed_in(client) and signed_in(neighbour)
    assert world.get("u1", "/v1/accounts").status_code == 200  # bearer tokens are not sessions


def test_another_instance_refuses_the_session_once_it_reads_the_revocation():
    """The revocation is a ref.credentials record: an instance that reads it refuses the cookie too."""
    here, there = World(), World()  # two instances: same signing secret, each its own LiveData
    published: list[tuple[str, bytes | None]] = []
    record = here.writer.publish_credential

    async def recording(key, value):
        published.append((key, value))
        await record(key, value)

    here.writer.publish_credential = recording
    client, csrf = portal_client(here, "r1")
    copy = copy_of(there, client)
    assert signed_in(copy)
    client.post("/logout", data={"csrf": csrf})
    assert signed_in(copy)  # not read yet
    for key, value in published:
        there.live.apply("ref.credentials", key.encode(), value)
    assert [key.split(":")[0] for key, _ in published] == ["session-revoked"]
    assert not signed_in(copy)


def test_a_revocation_is_kept_only_until_its_cookie_expires(world):
    world.live.credentials.apply(*revoked_record("long-gone", "r1", time.time() - 1))
    client, csrf = portal_client(world, "r1")
    client.post("/logout", data={"csrf": csrf})
    revoked = world.live.credentials.sessions.revoked
    assert "long-gone" not in revoked and len(revoked) == 1  # the old one tombstoned, this one kept
    (until,) = revoked.values()
    config = world.backend.config
    assert time.time() + config.session_seconds <= until <= time.time() + config.session_seconds + 400


def test_a_cookie_without_a_session_id_is_refused(world):
    """Cookies signed before sessions had ids cannot be revoked: they are not accepted at all."""
    old = URLSafeTimedSerializer("unit-test-secret", salt="portal-session").dumps({"a": "r1", "c": "x"})
    assert not signed_in(with_cookie(world, old))


def test_a_later_epoch_than_this_instance_knows_is_accepted(world):
    """Issued by an instance that has read a sign-out-everywhere this one has not read yet."""
    newer = URLSafeTimedSerializer("unit-test-secret", salt="portal-session").dumps(
        {"a": "r1", "c": "x", "s": "abc", "e": 10 ** 13})
    assert signed_in(with_cookie(world, newer))


# tokens -----------------------------------------------------------------------------------------

def test_an_expired_token_answers_401(world):
    expired = new_token("r1", datetime.now(timezone.utc) - timedelta(seconds=1))
    lasting = new_token("r1", datetime.now(timezone.utc) + timedelta(days=1))
    for made in (expired, lasting):
        world.live.credentials.apply(made.key, made.value)
    refused = world.client.get("/v1/accounts", headers={"Authorization": f"Bearer {expired.token}"})
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    assert world.client.get("/v1/accounts", headers={"Authorization": f"Bearer {lasting.token}"}).status_code == 200


def test_a_token_expires_at_the_time_its_record_says():
    at = datetime(2030, 1, 1, tzinfo=timezone.utc)
    made = new_token("r1", at)
    assert orjson.loads(made.value)["expires"] == "2030-01-01T00:00:00+00:00"
    index = CredentialIndex()
    index.apply(made.key, made.value)
    assert index.account_of_token(made.token, now=at.timestamp() - 1) == "r1"
    assert index.account_of_token(made.token, now=at.timestamp()) is None
    index.apply(made.key, None)  # revoked: its expiry goes with it
    assert index.token_expiry == {}


# sign-in throttling -----------------------------------------------------------------------------

def test_a_guesser_elsewhere_does_not_lock_the_real_user_out(world):
    frozen_clock(world)
    for _ in range(20):
        _, status = sign_in(world, "r1", "guess guess guess", address="203.0.113.66")
    assert status == 429
    client, status = sign_in(world, "r1", PASSWORD, address="192.0.2.10")  # the real user, at once
    assert status == 303 and signed_in(client)


def test_the_guessers_client_waits_longer_after_each_failure():
    now = [0.0]
    limiter = LoginLimiter(5, 300, clock=lambda: now[0], cap=8)
    waits = []
    for _ in range(10):
        while True:
            try:
                limiter.check("r1", "203.0.113.66")
                break
            except Throttled as exc:
                waits.append(exc.retry_after)
                now[0] += exc.retry_after
        limiter.failed("r1", "203.0.113.66")
    assert waits == [1, 2, 4, 8, 8]  # after the 5th, 6th, ... failure; capped
    limiter.check("r1", "192.0.2.10")  # another client: no wait
    limiter.check("r2", "203.0.113.66")  # another account: no wait
    now[0] += 300  # quiet for a window: forgotten
    limiter.check("r1", "203.0.113.66")


def test_a_throttled_sign_in_says_when_to_retry(world):
    frozen_clock(world)
    for _ in range(world.backend.config.login_attempts):
        sign_in(world, "r1", "guess guess guess")
    client = TestClient(world.app)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post("/login", data={"account": "r1", "password": PASSWORD, "csrf": token})
    assert answer.status_code == 429 and answer.headers["retry-after"] == "1"


def test_a_distributed_guess_is_slowed_never_refused(world):
    limiter = LoginLimiter(5, 300, account_ceiling=3, account_pause_cap=0.2)
    world.app.state.login_limiter = limiter
    for n in range(6):
        assert sign_in(world, "r1", "guess guess guess", address=f"203.0.113.{n}")[1] == 401
    assert limiter.check("r1", "192.0.2.10") == 0.2  # the account is over its ceiling: a pause
    assert limiter.check("r2", "192.0.2.10") == 0
    started = time.monotonic()
    client, status = sign_in(world, "r1", PASSWORD, address="192.0.2.10")
    assert status == 303 and signed_in(client)  # slowed, not refused
    assert time.monotonic() - started >= 0.2


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(world):
    """Untrusted: a guesser cannot dodge its throttle with a new X-Forwarded-For each time."""
    frozen_clock(world)
    for n in range(world.backend.config.login_attempts + 1):
        client = TestClient(world.app, client=("203.0.113.66", 40000), headers={"X-Forwarded-For": f"10.9.9.{n}"})
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        status = client.post("/login", data={"account": "r1", "password": "guess guess", "csrf": token}).status_code
    assert status == 429


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_throttle(world):
    frozen_clock(world)
    world.backend.config = dataclasses.replace(world.backend.config, trusted_proxies=("10.0.0.0/8",))

    def attempt(forwarded: str, password: str) -> int:
        client = TestClient(world.app, client=("10.0.0.2", 40000), headers={"X-Forwarded-For": forwarded})
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        return client.post("/login", data={"account": "r1", "password": password, "csrf": token},
                           follow_redirects=False).status_code

    for n in range(world.backend.config.login_attempts):
        # the leftmost entry is the guesser's own invention; the proxy appended the real address
        assert attempt(f"198.18.0.{n}, 203.0.113.66", "guess guess") == 401
    assert attempt("198.18.0.99, 203.0.113.66", "guess guess") == 429
    assert attempt("192.0.2.10", PASSWORD) == 303  # the real user behind the same proxy


def test_client_key_takes_the_nearest_untrusted_hop():
    from starlette.requests import Request

    from pipeline.api.login_throttle import client_key

    def request(peer: str, forwarded: str | None) -> Request:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
        return Request({"type": "http", "client": (peer, 1), "headers": headers})

    trusted = ("10.0.0.0/8", "127.0.0.1")
    assert client_key(request("203.0.113.5", "1.2.3.4"), trusted) == "203.0.113.5"  # not from a proxy
    assert client_key(request("10.0.0.2", "1.2.3.4, 203.0.113.7, 10.0.0.9"), trusted) == "203.0.113.7"
    assert client_key(request("10.0.0.2", None), trusted) == "10.0.0.2"
    assert client_key(request("10.0.0.2", "1.2.3.4"), ()) == "10.0.0.2"  # no proxies named: the peer
