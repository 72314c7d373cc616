"""Producing a payment onto balance.payments (the `pay` command; billing systems do the same)."""
from __future__ import annotations

from decimal import Decimal

import orjson

from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topics import BALANCE_PAYMENTS
from pipeline.schemas.payment import PaymentIn
from pipeline.settings import Settings


async def send_payment(settings: Settings, payment_id: str, account: str, amount: str | Decimal,
                       kind: str = "payment", reason: str = "") -> PaymentIn:
    """Checked by the same model as the pipeline checks it (raises pydantic's ValidationError) before
    Kafka is touched; the text is judged as given, so what is refused here the pipeline refuses too.
    `kind` "refund" takes `amount` back, "correction" adds it signed; both need a `reason`."""
    payment = PaymentIn.model_validate({"id": payment_id, "account": account, "amount": str(amount),
                                        "kind": kind, "reason": reason})
    await ensure_topics(settings)
    producer = KafkaClients(settings).producer()
    await producer.start()
    try:
        value = orjson.dumps(payment.published())
        # keyed by account, as billing systems do; the pipeline re-keys it with its own partitioner
        await producer.send_and_wait(settings.topic(BALANCE_PAYMENTS), value, key=account.encode())
    finally:
        await producer.stop()
    return payment
