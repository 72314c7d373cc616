"""A calling card through the real switch: SIPp dials the access number as *CARD*PIN#DESTINATION
(`#` escaped as %23, as phones send it) through Kamailio (kamailio.cfg WITH_AUTHORIZE), whose bridge
asks POST /v1/authorize of a real API with the card and its PIN, answered by a real worker.

The card's call is relayed to DESTINATION and ends by itself at max_seconds (what its small balance
pays for); its CDR names the card with `account` empty and is charged to the card; a wrong PIN gets
403 Forbidden. The PIN reaches no CDR and no log.
"""
from __future__ import annotations

import asyncio
import shutil
import time
from decimal import Decimal
from pathlib import Path

import httpx
import orjson
import pytest

from devkit.local_switch import Authorization, Switch
from devkit.worker_process import start_api
from pipeline.api.kafka_backend import ensure_api_topics, publish_logins
from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.reference.publish import Located, publish
from pipeline.reference.records import parse_reference_record
from pipeline.schemas.cards import CardGroupIn, card_account, hash_pin
from tests.integration.kit import seed_reference, start_worker
from tests.integration.test_switch_authorize import _free_tcp_port, refusal

MISSING = [name for name in ("kamailio", "sipp")
           if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists()]
NO_EVAPI = not any(Path("/usr/lib").glob("*/kamailio/modules/evapi.so"))
pytestmark = [
    pytest.mark.skipif(bool(MISSING), reason=f"{' and '.join(MISSING)} not installed (Debian: kamailio sip-tester)"),
    pytest.mark.skipif(NO_EVAPI, reason="Kamailio's evapi module not installed (Debian: kamailio-extra-modules)"),
]

SERVER = "kamailio-cards"
CARD, PIN, WRONG_PIN = "5550001234", "73519086", "11112222"
DESTINATION = "37060000000"
CALLER = "37069999999"  # the From user: only the caller id, the card pays
# cards pay 0.3/min by the second (0.005/s): 0.027 pays 5 s (0.025), not 6 (0.030)
BALANCE, PER_SECOND, MAX_SECONDS = Decimal("0.027"), Decimal("0.005"), 5
GROUP = {"kind": "card_group", "id": "g-sw", "owner": "r1", "tariff": "t-cards", "currency": "EUR",
         "face_value": "0", "number_length": 10, "pin_length": 8}
REFERENCE = [
    {"kind": "tariff", "id": "t-r1", "owner": "admin", "currency": "EUR",
     "rates": [{"prefix": "370", "rate": "0.1", "increment": 1}]},
    {"kind": "account", "id": "r1", "type": "reseller", "parent": "admin", "tariff": "t-r1",
     "billing": "postpaid", "credit_limit": None, "name": "Reseller selling cards"},
    {"kind": "tariff", "id": "t-cards", "owner": "r1", "currency": "EUR",
     "rates": [{"prefix": "370", "rate": "0.3", "increment": 1}]},
    GROUP,
]


def dial(pin: str) -> str:
    return f"*{CARD}*{pin}%23{DESTINATION}"  # *CARD*PIN#DESTINATION, the # as a phone escapes it


class Billing:
    def __init__(self, settings, url: str, token: str) -> None:
        self.settings, self.url, self.token = settings, url, token

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10)

    def authorize(self, server_id: str, call_id: str) -> dict:
        with self.client() as client:
            answer = client.post("/v1/authorize", json={"server_id": server_id, "call_id": call_id, "account": "",
                                                        "card": CARD, "pin": PIN, "dst": DESTINATION})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def balance(self) -> tuple[Decimal, Decimal]:
        with self.client() as client:
            body = client.get(f"/v1/balances/{CARD}").json()
        return Decimal(body["balance"]), Decimal(body["held"])

    def until_authorizable(self, timeout: float = 60) -> None:
        """The authorizer reads the payment on its own feed: ask as another server until it allows the
        card, then end that probe with a 0 s CDR (naming the card) and wait until its hold is gone."""
        deadline, attempt = time.monotonic() + timeout, 0
        while True:
            attempt += 1
            probe = f"probe-{attempt}"
            if self.authorize("probe", probe)["allowed"]:
                break
            assert time.monotonic() < deadline, "the card was never allowed"
            time.sleep(0.3)
        cdr = {"call_id": probe, "server_id": "probe", "account": "", "card": CARD, "dst": DESTINATION,
               "start_time": "2026-12-01T10:00:00Z", "billsec": 0}
        asyncio.run(produce_all(self.settings, "cdr.raw", [(f"probe/{probe}".encode(), orjson.dumps(cdr))]))
        while self.balance()[1] != 0:
            assert time.monotonic() < deadline, "the probe's hold was never released"
            time.sleep(0.3)


@pytest.fixture
def billing(settings_factory, tmp_path):
    settings = settings_factory(api_port=_free_tcp_port())
    reference = tmp_path / "reference.json"
    reference.write_bytes(orjson.dumps(REFERENCE))

    async def seed() -> str:
        await seed_reference(settings, reference)
        await ensure_api_topics(settings)
        group = CardGroupIn.model_validate(GROUP)
        records = [card_account(group, CARD),
                   {"kind": "card", "number": CARD, "group": group.id, "pin_hash": hash_pin(PIN), "state": "sold",
                    "created": "2026-01-01T00:00:00+00:00"}]
        await publish(settings, [Located("cards", n, parse_reference_record(r)) for n, r in enumerate(records, 1)])
        return (await publish_logins(settings, ["admin"]))["admin"]

    token = asyncio.run(seed())
    worker = start_worker(settings)
    api = start_api(settings, tmp_path / "api.log")
    try:
        yield Billing(settings, f"http://127.0.0.1:{settings.api_port}", token)
    finally:
        api.stop()
        worker.kill()


@pytest.fixture
def switch(billing):
    started = Switch(billing.settings, SERVER, Authorization(api_url=billing.url, token=billing.token),
                     trace_upstream=True)
    try:
        yield started.start()
    finally:
        started.stop()


def card_cdrs(settings, count: int, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        cdrs = [orjson.loads(m.value) for m in asyncio.run(read_all(settings, "cdr.raw"))]
        mine = [cdr for cdr in cdrs if cdr["server_id"] == SERVER]
        if len(mine) >= count:
            return mine
        assert time.monotonic() < deadline, f"{count} CDR(s) of {SERVER} expected, got {len(mine)}"
        time.sleep(0.3)


def test_a_card_call_by_dial_string_ends_at_max_seconds_and_is_charged_to_the_card(billing, switch, tmp_path):
    with billing.client() as client:
        paid = client.post("/v1/payments", json={"id": "card-topup", "account": CARD, "amount": str(BALANCE)})
    assert paid.status_code == 201, paid.text
    billing.until_authorizable()

    assert refusal_to(switch, dial(WRONG_PIN)) == (403, "Forbidden")  # bad_pin
    assert refusal_to(switch, f"*{CARD}*123%23{DESTINATION}") == (484, "Address Incomplete")  # a 3-digit PIN

    began = time.monotonic()
    held = switch.start_call("uac_held.xml", CALLER, dst=dial(PIN))  # stays up until the proxy's BYE
    output, _ = held.communicate(timeout=40)
    lasted = time.monotonic() - began
    assert held.returncode == 0, output.decode(errors="replace")[-2000:] + switch.logs()

    (cdr,) = card_cdrs(billing.settings, 1)
    answer = billing.authorize(SERVER, cdr["call_id"])  # the same call asked again: its answer
    assert (answer["allowed"], answer["max_seconds"], answer["account"]) == (True, MAX_SECONDS, CARD)
    assert (cdr["card"], cdr["account"], cdr["src"], cdr["dst"]) == (CARD, "", CALLER, DESTINATION)
    assert cdr["disposition"] == "ANSWERED"
    assert MAX_SECONDS - 2 <= cdr["billsec"] <= MAX_SECONDS, cdr  # never beyond what the hold covers
    assert lasted < MAX_SECONDS + 3

    # charged to the card: its balance drops by what the call cost, and its hold is settled
    expected = BALANCE - cdr["billsec"] * PER_SECOND
    deadline = time.monotonic() + 30
    while billing.balance() != (expected, 0):
        assert time.monotonic() < deadline, f"the card's balance {billing.balance()} never became {expected}, held 0"
        time.sleep(0.3)

    # the PIN (right or wrong) is in no CDR and no log: Kamailio's, the bridge's, the adapter's, the API's
    raw = b"".join(m.value for m in asyncio.run(read_all(billing.settings, "cdr.raw")))
    assert PIN.encode() not in raw and WRONG_PIN.encode() not in raw
    logs = [*switch.dir.glob("*.log"), tmp_path / "api.log", *(billing.settings.local_dir / "logs").glob("*.log")]
    assert len(logs) >= 5, logs
    for log in logs:
        text = log.read_text(errors="replace")
        assert PIN not in text and WRONG_PIN not in text, f"a PIN in {log.name}"
    # the upstream gets the call to DESTINATION, the INVITE's To header rewritten: no dial string, no PIN
    # (only a BYE that the dialog module itself sends at max_seconds still carries the caller's To)
    upstream = switch.upstream_messages.read_text(errors="replace")
    invite = upstream[upstream.index("INVITE sip:"):]
    invite = invite[:invite.index("\n\n")]
    assert invite.startswith(f"INVITE sip:{DESTINATION}@") and f"To: <sip:{DESTINATION}@" in invite, invite
    assert PIN not in invite and "%23" not in invite, invite

def refusal_to(switch: Switch, dialled: str) -> tuple[int, str]:
    """The final answer to CALLER's INVITE to `dialled`, which must be refused."""
    return refusal(_Dialling(switch, dialled), CALLER)


class _Dialling:
    """`switch` whose calls go to `dialled` (what refusal() needs of a Switch)."""

    def __init__(self, switch: Switch, dialled: str) -> None:
        self._switch, self._dialled = switch, dialled
        self.dir = switch.dir

    def call(self, *args, **kwargs):
        return self._switch.call(*args, dst=self._dialled, **kwargs)

    def logs(self) -> str:
        return self._switch.logs()
