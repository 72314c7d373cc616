"""The API on the real broker and ClickHouse: credentials from ref.credentials, writes published in
one transaction and visible on the next read, payments and audit on their topics, tenant-scoped
reads from rated_calls FINAL."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import production_app
from pipeline.api.config import ApiConfig
from pipeline.kafka.topic_io import read_all
from tests.api.api_world import TODAY, call
from tests.integration.api_kit import insert_calls, seed

PERIOD = f"from={(TODAY - timedelta(days=5)).date()}&to={TODAY.date()}"


@pytest.fixture
def running(settings_factory):
    settings = settings_factory()
    tokens = seed(settings)
    app = production_app(settings, ApiConfig(secret="integration-secret"))
    with TestClient(app) as client:
        yield settings, tokens, client


def auth(tokens, account):
    return {"Authorization": f"Bearer {tokens[account]}"}


def test_tokens_writes_and_read_your_writes(running):
    settings, tokens, client = running
    assert client.get("/v1/accounts").status_code == 401
    assert {a["id"] for a in client.get("/v1/accounts", headers=auth(tokens, "r1")).json()} == {"r1", "u1", "u2"}
    for n in range(3):  # each 2xx is followed by a read that shows it, on this instance
        answer = client.put(f"/v1/accounts/u-new{n}", headers=auth(tokens, "r1"),
                            json={"type": "user", "tariff": "t-r1-retail", "name": f"New {n}"})
        assert answer.status_code == 200, answer.text
        assert client.get(f"/v1/accounts/u-new{n}", headers=auth(tokens, "r1")).json()["name"] == f"New {n}"
    refused = client.put("/v1/accounts/u3", headers=auth(tokens, "r1"), json={"type": "user"})
    assert refused.status_code == 404  # r2's user: not even its existence is told
    published = asyncio.run(read_all(settings, "ref.accounts"))
    assert [m.key for m in published].count(b"u-new0") == 1 and b"u3" in [m.key for m in published]
    assert sum(1 for m in published if m.key == b"u3") == 1  # the refused write published nothing
    audit = [orjson.loads(m.value) for m in asyncio.run(read_all(settings, "audit"))]
    assert [(a["actor"], a["target"]) for a in audit] == [("r1", f"account u-new{n}") for n in range(3)]


def test_payments_go_to_balance_payments_keyed_by_account(running):
    settings, tokens, client = running
    answer = client.post("/v1/payments", headers=auth(tokens, "r1"), json={"id": "p-42", "account": "u1", "amount": "25"})
    assert answer.status_code == 201, answer.text
    messages = asyncio.run(read_all(settings, "balance.payments"))
    assert [(m.key, orjson.loads(m.value)) for m in messages] == [
        (b"u1", {"id": "p-42", "account": "u1", "amount": "25", "kind": "payment", "reason": ""})]


def test_reads_are_scoped_in_clickhouse(running):
    settings, tokens, client = running
    insert_calls(settings, [call("u1", "r1", "a"), call("u2", "r1", "b", days_ago=1), call("u3", "r2", "c"),
                            call("d1", "", "d", user_price="1.5")])
    insert_calls(settings, [call("u1", "r1", "a", user_price="3")], version=2)  # a re-rated call: FINAL shows v2
    rows = client.get(f"/v1/calls?{PERIOD}", headers=auth(tokens, "r1")).json()["rows"]
    assert sorted((r["call_id"], r["user_price"]) for r in rows) == [("a", "3.000000"), ("b", "2.000000")]
    assert all("admin_profit" not in r and "provider_price" not in r for r in rows)
    assert [r["call_id"] for r in client.get(f"/v1/calls?{PERIOD}", headers=auth(tokens, "u1")).json()["rows"]] == ["a"]
    assert client.get(f"/v1/calls?{PERIOD}&account=u3", headers=auth(tokens, "r1")).status_code == 404
    assert len(client.get(f"/v1/calls?{PERIOD}", headers=auth(tokens, "admin")).json()["rows"]) == 4
    stats = client.get(f"/v1/stats?{PERIOD}&by=day", headers=auth(tokens, "r1")).json()
    assert sum(r["calls"] for r in stats) == 2 and {r["profit"] for r in stats} == {"1.800000", "0.800000"}
    profit = client.get(f"/v1/profit?{PERIOD}", headers=auth(tokens, "admin")).json()
    assert {r["reseller"]: r["profit"] for r in profit} == {"": "1.200000", "r1": "1.800000", "r2": "0.900000"}
    csv = client.get(f"/v1/calls?{PERIOD}&format=csv", headers=auth(tokens, "r2")).text
    assert csv.count("\r\n") == 2 and ",c," in csv


def test_a_reseller_issues_his_users_invoice_and_the_user_reads_it(running):
    from pipeline.invoices.issuer import IssuerDetails, publish_issuer

    settings, tokens, client = running
    asyncio.run(publish_issuer(settings, IssuerDetails(account="r1", company="Uno Telecom", number_prefix="UNO")))
    last_month = (TODAY.replace(day=1) - timedelta(days=1))
    insert_calls(settings, [call("u1", "r1", "inv-1", days_ago=(TODAY - last_month).days)])
    period = last_month.strftime("%Y-%m")
    issued = client.post("/v1/invoices", headers=auth(tokens, "r1"), json={"account": "u1", "period": period})
    assert issued.status_code == 201, issued.text
    number = issued.json()["number"]
    assert number.startswith(f"UNO-{last_month.year}-") and issued.json()["total"] != "0"
    mine = client.get("/v1/invoices", headers=auth(tokens, "u1")).json()
    assert [i["number"] for i in mine] == [number]
    pdf = client.get(f"/v1/invoices/{number}/pdf", headers=auth(tokens, "u1"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get(f"/v1/invoices/{number}", headers=auth(tokens, "r2")).status_code == 404
