"""The cards CLI's I/O: the reference data as it is now (`current_book`, re-exported: the one
`ref apply` reads), and publishing a batch or a state change
through the write rules `ref apply` uses (as the admin), in one Kafka transaction, then the face
values onto balance.payments (after the accounts they pay into: the payment stage reads the
reference data again for an account it does not know yet)."""
from __future__ import annotations

import asyncio

import orjson

from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topics import BALANCE_PAYMENTS
from pipeline.reference.book import ReferenceBook
from pipeline.reference.publish import Located, current_book, publish, refuse_broken
from pipeline.schemas.reference import ADMIN_ID
from pipeline.settings import Settings


async def publish_records(settings: Settings, book: ReferenceBook, records: list, writer: str = ADMIN_ID) -> None:
    """All of them or none; raises ApplyError naming every broken rule."""
    located = [Located("cards", number, record) for number, record in enumerate(records, start=1)]
    refuse_broken(book, located, writer)
    await publish(settings, located)


async def publish_payments(settings: Settings, payments: list[dict[str, str]] | tuple) -> None:
    if not payments:
        return
    producer = KafkaClients(settings).producer(linger_ms=20)
    await producer.start()
    try:
        topic = settings.topic(BALANCE_PAYMENTS)
        sent = [await producer.send(topic, orjson.dumps(p), key=p["account"].encode()) for p in payments]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


__all__ = ["current_book", "publish_payments", "publish_records"]
