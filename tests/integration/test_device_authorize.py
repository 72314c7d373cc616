"""Authorization by device on the real broker (docs/devices.md, "A call in several records"): a
switch names the caller by SIP user, the device's call_limit counts its running calls, and a call
written in two records releases its hold at the first and is charged for both."""
from __future__ import annotations

import asyncio

import orjson
from fastapi.testclient import TestClient

from pipeline.api.app import production_app
from pipeline.kafka.topic_io import produce_all, read_all
from tests.integration.kit import seed_reference, start_worker
from tests.integration.test_authorize import Api, seeded, send_cdr

DESK = {"kind": "device", "id": "desk", "account": "u1", "server": "s1", "sip_user": "1001", "call_limit": 1}


def by_device(api: Api, call_id: str) -> dict:
    answer = api.client.post("/v1/authorize", headers=api.headers, json={
        "server_id": "s1", "call_id": call_id, "account": "", "sip_user": "1001", "dst": "37060000000"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def send_segment(settings, call_id: str, segment: str, billsec: int) -> None:
    cdr = {"call_id": call_id, "server_id": "s1", "account": "", "device": {"sip_user": "1001"},
           "segment": segment, "dst": "37060000000", "start_time": "2026-12-01T10:00:00Z", "billsec": billsec}
    asyncio.run(produce_all(settings, "cdr.raw", [(call_id.encode(), orjson.dumps(cdr))]))


def test_a_device_names_the_caller_its_limit_holds_and_two_segments_settle_one_hold(settings_factory, tmp_path):
    settings = settings_factory()
    token = seeded(settings)
    desk = tmp_path / "desk.json"
    desk.write_bytes(orjson.dumps(DESK))
    asyncio.run(seed_reference(settings, desk))
    worker = start_worker(settings)
    try:
        with TestClient(production_app(settings)) as client:
            api = Api(client, token)
            api.pay("u1", "8.00", "p-u1-1")
            api.wait_balance("8.00", "0")
            probe, _ = api.first_allowed()
            send_cdr(settings, probe, 0)
            api.wait_balance("8.00", "0")

            first = by_device(api, "d1")
            assert (first["allowed"], first["account"], first["holds"]) == (True, "u1", {"u1": "6.000000"})
            second = by_device(api, "d2")
            assert (second["allowed"], second["reason"], second["sip_code"]) == (False, "call_limit", 486)
            assert "device 'desk'" in second["detail"]
            unknown = client.post("/v1/authorize", headers=api.headers, json={
                "server_id": "s1", "call_id": "d-unknown", "account": "", "sip_user": "7777",
                "dst": "37060000000"}).json()
            assert unknown["reason"] == "unknown_account" and 'sip_user "7777"' in unknown["detail"]

            send_segment(settings, "d1", "1", 720)  # 2.40: releases the call's 6.00
            send_segment(settings, "d1", "2", 60)  # 0.20: charged on its own
            api.wait_balance("5.400000", "0")
            assert by_device(api, "d3")["allowed"]  # the desk's call has ended
    finally:
        worker.kill()
    rated = [m.key for m in asyncio.run(read_all(settings, "cdr.rated"))]
    assert b"s1/d1/1" in rated and b"s1/d1/2" in rated
    events = [orjson.loads(m.value) for m in asyncio.run(read_all(settings, "auth.holds"))]
    assert [e["call"] for e in events if e["state"] == "settled" and e["call"] == "s1/d1"] == ["s1/d1"]
