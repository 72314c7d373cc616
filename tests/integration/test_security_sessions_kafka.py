"""Session revocation and token expiry on the real broker: two API instances share them through
ref.credentials (OWASP API2: a session ends on sign-out everywhere, not only where it was ended)."""
from __future__ import annotations

import asyncio
import re
import time
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone

import click
import orjson
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from pipeline.api.app import production_app
from pipeline.api.cli import register
from pipeline.api.config import ApiConfig
from pipeline.api.credentials import new_token
from pipeline.api.kafka_backend import publish_credential_once
from pipeline.kafka.topic_io import read_all
from tests.integration.api_kit import seed

pytestmark = pytest.mark.integration
PASSWORD = "integration sessions pw"


class Browser:
    """One cookie jar on an instance's lifespan-entered client (the app's Kafka clients live on that
    client's event loop, so every request goes through it)."""

    def __init__(self, api: TestClient, cookie: str = "") -> None:
        self.api, self.cookie = api, cookie

    def request(self, method: str, url: str, **kwargs):
        self.api.cookies.clear()
        if self.cookie:
            self.api.cookies.set("rp_session", self.cookie)
        answer = self.api.request(method, url, follow_redirects=False, **kwargs)
        self.cookie = answer.cookies.get("rp_session", self.cookie)
        return answer

    def signed_in(self) -> bool:
        return self.request("GET", "/").status_code == 200

    def csrf(self) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.request("GET", "/").text).group(1)


def sign_in(api: TestClient, password: str = PASSWORD) -> Browser:
    api.cookies.clear()
    token = re.search(r'name="csrf" value="([^"]+)"', api.get("/login").text).group(1)
    answer = api.post("/login", data={"account": "r1", "password": password, "csrf": token}, follow_redirects=False)
    assert answer.status_code == 303, answer.text[:300]
    return Browser(api, answer.cookies["rp_session"])


def refused_soon(browser: Browser, seconds: float = 5.0) -> bool:
    """The other instance reads ref.credentials within its poll interval."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not browser.signed_in():
            return True
        time.sleep(0.1)
    return False


def test_sign_out_on_one_instance_ends_the_session_on_the_other(settings_factory):
    settings = settings_factory()
    seed(settings, accounts=("r1",), password=PASSWORD)
    with ExitStack() as stack:  # two instances, each its own follower of ref.credentials
        here, there = (stack.enter_context(TestClient(production_app(settings, ApiConfig(secret="shared-secret"))))
                       for _ in range(2))
        browser = sign_in(here)
        copy = Browser(there, browser.cookie)
        assert copy.signed_in()
        assert browser.request("POST", "/logout", data={"csrf": browser.csrf()}).status_code == 303
        assert refused_soon(copy)

        again = sign_in(there)
        elsewhere = Browser(here, again.cookie)
        assert elsewhere.signed_in()
        assert again.request("POST", "/account/sign-out-everywhere", data={"csrf": again.csrf()}).status_code == 303
        assert refused_soon(elsewhere)
        assert sign_in(here).signed_in()  # a session issued afterwards works

    keys = {m.key.decode().split(":")[0] for m in asyncio.run(read_all(settings, "ref.credentials"))}
    assert {"session-revoked", "session-epoch"} <= keys


def test_tokens_expire_and_password_set_ends_sessions(settings_factory, monkeypatch):
    settings = settings_factory()
    seed(settings, accounts=("r1",), password=PASSWORD)
    monkeypatch.setenv("RATING_TOPIC_PREFIX", settings.topic_prefix)
    commands = click.Group()
    register(commands)
    runner = CliRunner()
    created = runner.invoke(commands, ["token", "create", "r1", "--expires-days", "2"])
    assert created.exit_code == 0, created.output
    lasting = created.stdout.strip()
    expired = new_token("r1", datetime.now(timezone.utc) - timedelta(minutes=1))
    asyncio.run(publish_credential_once(settings, expired.key, expired.value))
    records = [orjson.loads(m.value) for m in asyncio.run(read_all(settings, "ref.credentials"))
               if m.value and m.key.decode() == "token:" + lasting.split(".")[0]]
    assert datetime.fromisoformat(records[0]["expires"]) > datetime.now(timezone.utc) + timedelta(days=1)

    with TestClient(production_app(settings, ApiConfig(secret="cli-sessions"))) as api:
        assert api.get("/v1/accounts", headers={"Authorization": f"Bearer {lasting}"}).status_code == 200
        assert api.get("/v1/accounts", headers={"Authorization": f"Bearer {expired.token}"}).status_code == 401
        browser = sign_in(api)
        answer = runner.invoke(commands, ["password", "set", "r1"], input="a different long password\n")
        assert answer.exit_code == 0, answer.output
        assert refused_soon(browser)  # whoever knew the old password is signed out
        again = sign_in(api, "a different long password")
        assert runner.invoke(commands, ["sessions", "revoke-all", "r1"]).exit_code == 0
        assert refused_soon(again)
