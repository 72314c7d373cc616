"""The real switch asks before each call: SIPp calls through Kamailio (kamailio.cfg WITH_AUTHORIZE),
whose bridge asks POST /v1/authorize of a real API served by uvicorn, answered by a real worker.

An allowed call ends by itself at max_seconds (the dialog's timeout: a BYE to both sides); an empty
balance is refused with 402, a third simultaneous call of an account limited to two with 486; when
billing does not answer, AUTH_FAIL_POLICY decides (deny: 503; allow: the default limit).
"""
from __future__ import annotations

import asyncio
import re
import shutil
import socket
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import orjson
import pytest

from devkit.local_switch import BRIDGE_CONNECTED, BRIDGE_GONE, DST, Authorization, Switch
from devkit.worker_process import start_api
from pipeline.adapters.kamailio_evapi import HELLO, netstring
from pipeline.api.kafka_backend import ensure_api_topics, publish_logins
from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.settings import Settings
from tests.integration.kit import seed_reference, start_worker

MISSING = [name for name in ("kamailio", "sipp")
           if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists()]
NO_EVAPI = not any(Path("/usr/lib").glob("*/kamailio/modules/evapi.so"))
pytestmark = [
    pytest.mark.skipif(bool(MISSING), reason=f"{' and '.join(MISSING)} not installed (Debian: kamailio sip-tester)"),
    pytest.mark.skipif(NO_EVAPI, reason="Kamailio's evapi module not installed (Debian: kamailio-extra-modules)"),
]

SERVER = "kamailio-a"
NOWHERE = "http://127.0.0.1:9"  # discard: nothing listens there, connections are refused
# r1's users pay 0.2/min by the second: 0.015 pays 4 s (0.0133), not 5 (0.0167)
REFERENCE = [
    {"kind": "tariff", "id": "t-r1", "owner": "admin", "currency": "EUR",
     "rates": [{"prefix": "370", "rate": "0.1", "increment": 1}]},
    {"kind": "account", "id": "r1", "type": "reseller", "parent": "admin", "tariff": "t-r1",
     "billing": "postpaid", "credit_limit": None, "name": "Reseller"},
    {"kind": "tariff", "id": "t-u", "owner": "r1", "currency": "EUR",
     "rates": [{"prefix": "370", "rate": "0.2", "increment": 1}]},
    {"kind": "account", "id": "short", "type": "user", "parent": "r1", "tariff": "t-u", "billing": "prepaid",
     "name": "Pays for 4 seconds"},
    {"kind": "account", "id": "empty", "type": "user", "parent": "r1", "tariff": "t-u", "billing": "prepaid",
     "name": "Never paid"},
    {"kind": "account", "id": "two", "type": "user", "parent": "r1", "tariff": "t-u", "billing": "prepaid",
     "call_limit": 2, "hold_cap_seconds": 8, "name": "Two calls at once, 8 s each"},
]


def _free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Billing:
    """A worker and `python -m pipeline api` on a port of its own, for one test."""

    settings: Settings
    url: str
    token: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10)

    def pay(self, account: str, amount: str) -> None:
        with self.client() as client:
            answer = client.post("/v1/payments", json={"id": f"pay-{account}", "account": account, "amount": amount})
        assert answer.status_code == 201, answer.text

    def authorize(self, server_id: str, call_id: str, account: str) -> dict:
        with self.client() as client:
            answer = client.post("/v1/authorize", json={"server_id": server_id, "call_id": call_id,
                                                        "account": account, "dst": DST})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def held(self, account: str) -> Decimal:
        with self.client() as client:
            return Decimal(client.get(f"/v1/balances/{account}").json()["held"])

    def until_authorizable(self, account: str, timeout: float = 60) -> None:
        """The authorizer reads balances on its own feed: ask as another server until it allows the
        account, then end that probe with a 0 s CDR and wait until its hold (and call) is gone."""
        deadline, attempt = time.monotonic() + timeout, 0
        while True:
            attempt += 1
            probe = f"probe-{account}-{attempt}"
            if self.authorize("probe", probe, account)["allowed"]:
                break
            assert time.monotonic() < deadline, f"{account} never allowed"
            time.sleep(0.3)
        cdr = {"call_id": probe, "server_id": "probe", "account": account, "dst": DST,
               "start_time": "2026-12-01T10:00:00Z", "billsec": 0}
        asyncio.run(produce_all(self.settings, "cdr.raw", [(f"probe/{probe}".encode(), orjson.dumps(cdr))]))
        while self.held(account) != 0:
            assert time.monotonic() < deadline, f"{account}'s probe hold never released"
            time.sleep(0.3)


@pytest.fixture
def billing(settings_factory, tmp_path):
    settings = settings_factory(api_port=_free_tcp_port())
    reference = tmp_path / "reference.json"
    reference.write_bytes(orjson.dumps(REFERENCE))

    async def seed() -> str:
        await seed_reference(settings, reference)
        await ensure_api_topics(settings)
        return (await publish_logins(settings, ["admin"]))["admin"]

    token = asyncio.run(seed())
    worker = start_worker(settings)
    api = start_api(settings, tmp_path / "api.log")
    url = f"http://127.0.0.1:{settings.api_port}"
    try:
        yield Billing(settings, url, token)
    finally:
        api.stop()
        worker.kill()


@pytest.fixture
def switch_of(settings_factory):
    """Switch(es) with authorization, each stopped at the end."""
    started: list[Switch] = []

    def make(settings: Settings | None = None, **authorization) -> Switch:
        switch = Switch(settings or settings_factory(), SERVER, Authorization(**authorization))
        started.append(switch)
        return switch.start()

    yield make
    for switch in started:
        switch.stop()


def refusal(switch: Switch, account: str) -> tuple[int, str]:
    """The final answer to an INVITE of `account` that must be refused: (SIP code, reason phrase)."""
    trace = switch.dir / f"refused-{time.monotonic_ns()}.msg"
    result = switch.call("uac_refused_any.xml", account, "-trace_msg", "-message_file", str(trace), timeout=15)
    assert result.returncode == 0, f"{account}'s call was not refused\n{result.stdout[-1500:]}{switch.logs()}"
    codes = re.findall(r"^SIP/2\.0 ([3-6]\d\d) ([^\r\n]*)", trace.read_text(), re.MULTILINE)
    assert codes, trace.read_text()
    code, phrase = codes[-1]
    return int(code), phrase


def cdrs_of(settings: Settings, account: str, count: int, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        cdrs = [orjson.loads(m.value) for m in asyncio.run(read_all(settings, "cdr.raw"))]
        mine = [cdr for cdr in cdrs if cdr["account"] == account and cdr["server_id"] == SERVER]
        if len(mine) >= count:
            return mine
        assert time.monotonic() < deadline, f"{count} CDR(s) of {account} expected, got {len(mine)}"
        time.sleep(0.3)


def test_an_allowed_call_ends_by_itself_at_max_seconds(billing, switch_of):
    switch = switch_of(billing.settings, api_url=billing.url, token=billing.token)
    billing.pay("short", "0.015")
    billing.until_authorizable("short")
    began = time.monotonic()
    held = switch.start_call("uac_held.xml", "short")  # stays up until the proxy's BYE
    output, _ = held.communicate(timeout=40)
    lasted = time.monotonic() - began
    assert held.returncode == 0, output[-2000:] + switch.logs()  # the caller got the BYE and answered it
    (cdr,) = cdrs_of(billing.settings, "short", 1)
    answer = billing.authorize(SERVER, cdr["call_id"], "short")  # the same call asked again: its answer
    assert (answer["allowed"], answer["max_seconds"]) == (True, 4)
    assert cdr["disposition"] == "ANSWERED"
    # never billed beyond what the hold covers; the dialog timer ticks each second (kamailio.cfg)
    assert answer["max_seconds"] - 2 <= cdr["billsec"] <= answer["max_seconds"], cdr
    assert lasted < answer["max_seconds"] + 3


def test_an_empty_balance_is_refused_with_402(billing, switch_of):
    switch = switch_of(billing.settings, api_url=billing.url, token=billing.token)
    deadline = time.monotonic() + 30
    while (got := refusal(switch, "empty")) != (402, "Payment Required"):
        # only while the authorizer is still starting (it answers 504, the switch 503) may it differ
        assert got[0] == 503 and time.monotonic() < deadline, got
        time.sleep(0.5)
    assert refusal(switch, "nobody") == (403, "Forbidden")  # unknown_account


def test_a_third_simultaneous_call_is_refused_with_486_while_two_run(billing, switch_of):
    switch = switch_of(billing.settings, api_url=billing.url, token=billing.token)
    billing.pay("two", "10")
    billing.until_authorizable("two")
    calls = [switch.start_call("uac_held.xml", "two") for _ in range(2)]
    deadline = time.monotonic() + 15
    while len(switch.rpc.call("dlg.profile_list", "account", "two") or []) < 2:
        assert time.monotonic() < deadline and all(c.poll() is None for c in calls), switch.logs()
        time.sleep(0.2)
    assert refusal(switch, "two") == (486, "Busy Here")
    for call in calls:  # each ends at its 8 s (the hold cap), by the proxy's BYE
        output, _ = call.communicate(timeout=30)
        assert call.returncode == 0, output[-2000:]
    cdrs = cdrs_of(billing.settings, "two", 2)
    assert all(6 <= cdr["billsec"] <= 8 for cdr in cdrs), cdrs
    deadline = time.monotonic() + 30
    while billing.held("two") != 0:  # their CDRs settled: the account may call again
        assert time.monotonic() < deadline, "the two calls' holds were never settled"
        time.sleep(0.3)
    assert switch.call("uac.xml", "two", "-d", "200").returncode == 0, switch.logs()


def stuck_bridge(switch: Switch) -> socket.socket:
    """In place of the switch's bridge: one that says hello and then never answers."""
    switch.stop_bridge()
    sock = socket.create_connection(("127.0.0.1", switch.evapi_port))
    sock.sendall(netstring(orjson.dumps(HELLO)))
    switch.wait_logged(BRIDGE_CONNECTED, 2)
    return sock


def test_when_billing_does_not_answer_the_default_policy_refuses_with_503(settings_factory, switch_of):
    switch = switch_of(api_url=NOWHERE, token="t")
    assert refusal(switch, "short") == (503, "Service Unavailable")  # the API refuses connections
    with stuck_bridge(switch):
        began = time.monotonic()
        assert refusal(switch, "short") == (503, "Service Unavailable")  # Kamailio's watchdog
        assert 4 <= time.monotonic() - began < 7  # AUTH_WAIT_SECONDS 4, its timer ticks each second
    switch.wait_logged(BRIDGE_GONE, 2)
    began = time.monotonic()
    assert refusal(switch, "short") == (503, "Service Unavailable")  # no bridge at all: at once
    assert time.monotonic() - began < 2


def test_when_billing_does_not_answer_the_allow_policy_relays_with_its_default_limit(settings_factory, switch_of):
    settings = settings_factory()
    switch = switch_of(settings, api_url=NOWHERE, token="t", fail_policy="allow", fail_max_seconds=2)
    calls = [switch.start_call("uac_held.xml", "short")]  # the API refuses connections
    with stuck_bridge(switch):
        calls.append(switch.start_call("uac_held.xml", "short"))  # resumed by Kamailio's watchdog
        for call in calls:
            output, _ = call.communicate(timeout=30)
            assert call.returncode == 0, output[-2000:] + switch.logs()  # relayed, then ended by the proxy
    cdrs = cdrs_of(settings, "short", 2)
    assert all(cdr["disposition"] == "ANSWERED" and 1 <= cdr["billsec"] <= 3 for cdr in cdrs), cdrs
