"""A refund on the real broker, end to end: the reseller records it in the API, the worker applies
it, and the balance (balance.updates, and the API's own answer) is lower by exactly its amount,
once however often it is sent; a negative "payment" is refused at the door and, written to the
topic by another client, reported on cdr.rejected, never silently dropped."""
from __future__ import annotations

import asyncio
from decimal import Decimal

import orjson
from fastapi.testclient import TestClient

from pipeline.api.app import production_app
from pipeline.api.config import ApiConfig
from pipeline.control_topic import current_balances
from pipeline.kafka.topic_io import produce_all, read_all
from tests.integration.api_kit import seed
from tests.integration.kit import start_worker, wait_for


async def test_a_refund_lowers_the_balance_by_exactly_its_amount(settings_factory):
    settings = settings_factory()
    tokens = await asyncio.to_thread(seed, settings)
    r1 = {"Authorization": f"Bearer {tokens['r1']}"}
    worker = start_worker(settings)
    try:
        with TestClient(production_app(settings, ApiConfig(secret="integration-secret"))) as api:
            def pay(body: dict):
                return api.post("/v1/payments", headers=r1, json={"account": "u1", **body})

            assert pay({"id": "pay-1", "amount": "30.000001"}).status_code == 201
            await wait_for(lambda: api.get("/v1/balances/u1", headers=r1).json()["balance"] == "30.000001", 60,
                           "the payment in the API's balance", worker)
            above = pay({"id": "ref-0", "amount": "30.000002", "kind": "refund", "reason": "too much"})
            assert above.status_code == 422 and "at most the balance 30.000001" in above.json()["detail"]
            negative = pay({"id": "neg-1", "amount": "-5"})
            assert negative.status_code == 422 and 'kind "refund"' in negative.json()["detail"]
            for _ in range(2):  # sent twice under one id: applied once
                assert pay({"id": "ref-1", "amount": "12.345678", "kind": "refund",
                            "reason": "unused credit returned"}).status_code == 201
            assert pay({"id": "cor-1", "amount": "-0.000001", "kind": "correction",
                        "reason": "rounding of the first payment"}).status_code == 201
            expected = Decimal("30.000001") - Decimal("12.345678") - Decimal("0.000001")
            await wait_for(lambda: api.get("/v1/balances/u1", headers=r1).json()["balance"] == f"{expected:f}", 60,
                           "the refund and the correction in the API's balance", worker)
        assert (await current_balances(settings))["u1"] == expected == Decimal("17.654322")

        # another billing system writes a negative amount straight onto the topic
        await produce_all(settings, "balance.payments",
                          [(b"u1", orjson.dumps({"id": "raw-neg", "account": "u1", "amount": "-5"}))])

        async def rejected():
            found = [orjson.loads(m.value) for m in await read_all(settings, "cdr.rejected")]
            return [r for r in found if r["reason"] == "bad_payment"]
        [report] = await wait_for(rejected, 60, "the negative payment reported", worker)
        assert 'kind "refund"' in report["detail"]
        assert (await current_balances(settings))["u1"] == expected
    finally:
        worker.stop()
