"""`token create|revoke`, `password set` and `portal-domain set` on the real broker: only hashes
reach ref.credentials, and a running API instance honours them."""
from __future__ import annotations

import asyncio
import time

import click
from click.testing import CliRunner
from fastapi.testclient import TestClient

from pipeline.api.app import production_app
from pipeline.api.cli import register
from pipeline.api.config import ApiConfig
from pipeline.kafka.topic_io import read_all
from tests.integration.api_kit import seed


def commands() -> click.Group:
    group = click.Group()
    register(group)
    return group


def test_tokens_and_passwords_from_the_command_line(settings_factory, monkeypatch):
    settings = settings_factory()
    seed(settings, accounts=())
    for name, value in (("TOPIC_PREFIX", settings.topic_prefix), ("CLICKHOUSE_URL", settings.clickhouse_url)):
        monkeypatch.setenv(f"RATING_{name}", value)
    runner = CliRunner()
    created = runner.invoke(commands(), ["token", "create", "r1"])
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    assert runner.invoke(commands(), ["token", "create", "nobody"]).exit_code != 0  # not an account
    assert runner.invoke(commands(), ["password", "set", "r1"], input="a good long password\n").exit_code == 0
    assert runner.invoke(commands(), ["portal-domain", "set", "Portal.Uno.example", "r1"]).exit_code == 0
    stored = b"".join(m.value or b"" for m in asyncio.run(read_all(settings, "ref.credentials")))
    assert token.encode() not in stored and token.split(".")[1].encode() not in stored
    assert b"a good long password" not in stored and b"$argon2" in stored

    with TestClient(production_app(settings, ApiConfig(secret="cli-test"))) as client:
        assert client.get("/v1/accounts", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert "Reseller One" in client.get("/login", headers={"Host": "portal.uno.example"}).text
        revoked = runner.invoke(commands(), ["token", "revoke", "r1"])
        assert revoked.exit_code == 0 and "revoked 1 token" in revoked.output
        # the CLI wrote to the topic; this instance sees the revocation within its poll interval
        for _ in range(50):
            if client.get("/v1/accounts", headers={"Authorization": f"Bearer {token}"}).status_code == 401:
                break
            time.sleep(0.1)
        assert client.get("/v1/accounts", headers={"Authorization": f"Bearer {token}"}).status_code == 401
