"""Calling cards through POST /v1/authorize on the real broker: a reseller's card authorized by
number + PIN, its CDR (named by `card`) charged through the reseller's chain with the setup fee
once, three wrong PINs locking it, an expired card refused."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

import orjson
from fastapi.testclient import TestClient

from pipeline.api.app import production_app
from pipeline.api.kafka_backend import ensure_api_topics, publish_logins
from pipeline.kafka.topic_io import produce_all
from pipeline.reference.publish import Located, publish
from pipeline.reference.records import parse_reference_record
from pipeline.schemas.cards import card_account, hash_pin
from pipeline.settings import REPO_ROOT
from tests.integration.kit import seed_reference, start_worker
from tests.integration.test_authorize import Api

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "cards" / "reseller_cards.json"
CARD, OLD_CARD, PIN = "5550001234", "5550009999", "4321"


def seeded(settings) -> str:
    async def run() -> str:
        await seed_reference(settings, FIXTURE)
        await ensure_api_topics(settings)
        from pipeline.reference.book import ReferenceBook  # the groups as the fixture made them
        book = ReferenceBook()
        for record in orjson.loads(FIXTURE.read_bytes()):
            book.apply(parse_reference_record(record))
        records = []
        for number, group in ((CARD, "g-r1"), (OLD_CARD, "g-r1-old")):
            records += [card_account(book.card_group(group), number),
                        {"kind": "card", "number": number, "group": group, "pin_hash": hash_pin(PIN), "state": "sold",
                         "created": datetime(2026, 1, 1, tzinfo=timezone.utc).isoformat()}]
        await publish(settings, [Located("cards", n, parse_reference_record(r)) for n, r in enumerate(records, 1)])
        return (await publish_logins(settings, ["admin"]))["admin"]

    return asyncio.run(run())


def card_cdr(settings, call_id: str, billsec: int) -> None:
    cdr = {"call_id": call_id, "server_id": "ivr1", "account": "", "card": CARD, "dst": "37060000000",
           "start_time": "2026-12-01T10:00:00Z", "billsec": billsec}
    asyncio.run(produce_all(settings, "cdr.raw", [(call_id.encode(), orjson.dumps(cdr))]))


def test_a_reseller_card_by_number_and_pin(settings_factory):
    settings = settings_factory()
    token = seeded(settings)
    worker = start_worker(settings)
    try:
        with TestClient(production_app(settings)) as client:
            api = Api(client, token)
            api.pay(CARD, "5", f"card-face:{CARD}")
            api.wait_balance("5", "0", account=CARD)

            def ask(call_id: str, pin: str = PIN, card: str = CARD) -> dict:
                answer = client.post("/v1/authorize", headers=api.headers, json={
                    "server_id": "ivr1", "call_id": call_id, "card": card, "pin": pin, "dst": "37060000000"})
                assert answer.status_code == 200, answer.text
                return answer.json()

            for attempt in range(50):  # the authorizer reads the payment on its own feed
                first, call = f"k1-{attempt}", ask(f"k1-{attempt}")
                if call["allowed"]:
                    break
                time.sleep(0.2)
            assert (call["account"], call["max_seconds"], call["balance"]) == (CARD, 1000, "5")
            assert call["holds"] == {CARD: "5.000000"}  # r1 is postpaid without a limit: not held
            card_cdr(settings, first, 60)  # 0.30, and the 0.50 setup fee at this first answered call
            api.wait_balance("4.200000", "0", account=CARD)
            assert api.balance("r1")["balance"] == "-0.100000"  # the reseller paid his price for the minute
            second = ask("k2")
            card_cdr(settings, "k2", 60)  # no second setup fee
            api.wait_balance("3.900000", "0", account=CARD)
            assert second["allowed"]

            assert ask("w0", pin="")["mor_code"] == 227
            for n in range(3):
                wrong = ask(f"w{n + 1}", pin="0000")
                assert (wrong["allowed"], wrong["reason"]) == (False, "bad_pin")
            locked = ask("k3")  # the right PIN, but locked for an hour
            assert (locked["reason"], locked["sip_code"]) == ("blocked", 403) and "locked" in locked["detail"]
            expired = ask("x1", card=OLD_CARD)
            assert (expired["allowed"], expired["reason"]) == (False, "card_expired")
    finally:
        worker.kill()
