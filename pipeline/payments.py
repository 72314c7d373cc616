"""Producing a payment onto balance.payments (the `pay` command; billing systems do the same)."""
from __future__ import annotations

from decimal import Decimal

import orjson
from aiokafka import AIOKafkaProducer

from pipeline.kafka_admin import ensure_topics
from pipeline.settings import Settings


async def send_payment(settings: Settings, payment_id: str, account: str, amount: Decimal) -> None:
    await ensure_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        value = orjson.dumps({"id": payment_id, "account": account, "amount": str(amount)})
        # keyed by account: the balance agent owns an account's ledger by that key's partition
        await producer.send_and_wait(settings.topic("balance.payments"), value, key=account.encode())
    finally:
        await producer.stop()
