"""Authorization before the call on the real broker: the worked example through POST /v1/authorize
and CDRs, the same call asked twice, a SIGKILL of the worker between answer and CDR, and a hold
that expires when no CDR comes, then a late CDR charged once."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from decimal import Decimal

import orjson
from fastapi.testclient import TestClient

from devkit.worker_process import settings_env
from pipeline.api.app import production_app
from pipeline.api.kafka_backend import ensure_api_topics, publish_logins
from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.settings import REPO_ROOT
from tests.integration.kit import seed_reference, start_worker

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "authorize" / "prepaid.json"


def seeded(settings) -> str:
    async def run() -> str:
        await seed_reference(settings, FIXTURE)
        await ensure_api_topics(settings)
        return (await publish_logins(settings, ["admin"]))["admin"]

    return asyncio.run(run())


def send_cdr(settings, call_id: str, billsec: int, account: str = "u1") -> None:
    cdr = {"call_id": call_id, "server_id": "s1", "account": account, "dst": "37060000000",
           "start_time": "2026-12-01T10:00:00Z", "billsec": billsec}
    asyncio.run(produce_all(settings, "cdr.raw", [(call_id.encode(), orjson.dumps(cdr))]))


class Api:
    def __init__(self, client: TestClient, token: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}
        self.admin = dict(self.headers)

    def authorize(self, call_id: str, account: str = "u1") -> dict:
        answer = self.client.post("/v1/authorize", headers=self.headers, json={
            "server_id": "s1", "call_id": call_id, "account": account, "dst": "37060000000"})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def balance(self, account: str = "u1") -> dict:
        return self.client.get(f"/v1/balances/{account}", headers=self.admin).json()

    def pay(self, account: str, amount: str, payment_id: str) -> None:
        answer = self.client.post("/v1/payments", headers=self.admin,
                                  json={"id": payment_id, "account": account, "amount": amount})
        assert answer.status_code == 201, answer.text

    def wait_balance(self, balance: str, held: str, account: str = "u1", timeout: float = 60.0) -> dict:
        end, seen = time.monotonic() + timeout, None
        while time.monotonic() < end:
            seen = self.balance(account)
            if Decimal(seen["balance"]) == Decimal(balance) and Decimal(seen["held"]) == Decimal(held):
                return seen
            time.sleep(0.2)
        raise AssertionError(f"{account}: wanted balance {balance} held {held}, last saw {seen}")

    def first_allowed(self, account: str = "u1", timeout: float = 60.0) -> tuple[str, dict]:
        """The authorizer reads the balances on its own feed: ask (new calls) until it has them."""
        end, attempt = time.monotonic() + timeout, 0
        while time.monotonic() < end:
            attempt += 1
            answer = self.authorize(f"probe-{attempt}", account)
            if answer["allowed"]:
                return f"probe-{attempt}", answer
            time.sleep(0.2)
        raise AssertionError(f"{account} never allowed")


def test_the_worked_example_and_a_kill_between_answer_and_cdr(settings_factory):
    settings = settings_factory()
    token = seeded(settings)
    worker = start_worker(settings)
    try:
        with TestClient(production_app(settings)) as client:
            api = Api(client, token)
            api.pay("u1", "8.00", "p-u1-1")
            api.wait_balance("8.00", "0")
            probe, answer = api.first_allowed()  # ended at once by a 0 s CDR: released, nothing charged
            assert (answer["max_seconds"], answer["holds"]) == (1800, {"u1": "6.000000"})
            send_cdr(settings, probe, 0)
            api.wait_balance("8.00", "0")

            first = api.authorize("c1")
            assert (first["allowed"], first["max_seconds"], first["holds"]) == (True, 1800, {"u1": "6.000000"})
            assert first["holds"].keys() == {"u1"}  # r1 is postpaid without a limit: never held
            second = api.authorize("c2")
            assert (second["max_seconds"], second["holds"], second["balance"]) == (600, {"u1": "2.000000"},
                                                                                  "2.000000")
            third = api.authorize("c3")
            assert (third["allowed"], third["reason"], third["sip_code"], third["mor_code"]) == \
                (False, "no_free_balance", 402, 212)
            assert api.authorize("c1") == first  # a retransmitted INVITE: the same answer, nothing more held
            api.wait_balance("8.00", "8.000000")

            send_cdr(settings, "c1", 720)  # 2.40 charged, its 6.00 released in the same step
            api.wait_balance("5.600000", "2.000000")
            fourth = api.authorize("c4")
            assert (fourth["allowed"], fourth["max_seconds"], fourth["balance"]) == (True, 1080, "3.600000")

            worker.kill()  # SIGKILL after the answer, before the CDR: the holds must survive
            worker = start_worker(settings, name="worker-2")
            assert api.authorize("c4") == fourth  # the restarted authorizer knows the call
            assert api.authorize("c5")["reason"] == "no_free_balance"  # 2.00 + 3.60 still held of 5.60
            send_cdr(settings, "c4", 1080)
            send_cdr(settings, "c4", 1080)  # delivered twice: charged once
            send_cdr(settings, "c2", 30)
            api.wait_balance("1.900000", "0")  # 5.60 - 3.60 - 0.10
    finally:
        worker.kill()
    events = [orjson.loads(m.value) for m in asyncio.run(read_all(settings, "auth.holds"))]
    settled = sorted(e["call"] for e in events if e["state"] == "settled")
    assert settled == sorted({"s1/c1", "s1/c2", "s1/c4", f"s1/{probe}"})


def test_a_hold_without_its_cdr_expires_and_a_late_cdr_is_charged_once(settings_factory):
    settings = settings_factory(hold_grace_seconds=1)
    token = seeded(settings)
    worker = start_worker(settings)
    try:
        with TestClient(production_app(settings)) as client:
            api = Api(client, token)
            api.pay("u2", "1.00", "p-u2-1")
            # from here on the questions come with a switch's token, made by the CLI as an operator would
            made = subprocess.run([sys.executable, "-m", "pipeline", "token", "create", "--switch", "s1"],
                                  env=settings_env(settings), capture_output=True, text=True, check=True)
            api.headers = {"Authorization": f"Bearer {made.stdout.strip()}"}
            for _ in range(100):  # the API follows ref.credentials: the new token is known within its poll
                if client.post("/v1/authorize", headers=api.headers, json={}).status_code != 401:
                    break
                time.sleep(0.1)
            api.wait_balance("1.00", "0", account="u2")
            call, answer = api.first_allowed("u2")  # u2's hold cap is 2 s: expires 3 s after the answer
            assert (answer["max_seconds"], answer["holds"]) == (2, {"u2": "0.006667"})
            api.wait_balance("1.00", "0.006667", account="u2", timeout=2)
            api.wait_balance("1.00", "0", account="u2", timeout=30)  # released by expiry, nothing charged
            send_cdr(settings, call, 60, account="u2")  # the late CDR: charged as any other, once
            send_cdr(settings, call, 60, account="u2")
            api.wait_balance("0.800000", "0", account="u2")
    finally:
        worker.kill()
    events = [orjson.loads(m.value) for m in asyncio.run(read_all(settings, "auth.holds"))]
    assert [e["state"] for e in events if e["call"] == f"s1/{call}"] == ["held", "expired"]
