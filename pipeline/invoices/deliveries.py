"""Each e-mail of an invoice, kept on the topic `invoices.deliveries`: when, to whom, what came of it.

One message per attempt, keyed by the invoice number, never changed (the topic keeps them for good):
the portal, the API and `invoice deliveries` show them, and a bulk e-mail skips invoices already sent.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from pipeline.invoices.topics import ensure_invoice_topics
from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.kafka.topics import INVOICES_DELIVERIES
from pipeline.settings import Settings


class Delivery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    number: str
    issuer: str
    account: str
    to: str
    at: datetime  # UTC, when the SMTP server answered
    result: Literal["sent", "failed"]
    detail: str = ""  # the server's refusal or the connection error when it failed
    message_id: str = ""
    attachment_sha256: str = ""  # of the PDF attached: the issued one's (its record's pdf_sha256)
    by: str = ""  # who asked: an account id, or "cli"


async def record_delivery(settings: Settings, delivery: Delivery) -> None:
    await ensure_invoice_topics(settings)
    await produce_all(settings, INVOICES_DELIVERIES, [(delivery.number.encode(), delivery.model_dump_json().encode())])


async def read_deliveries(settings: Settings, numbers: Iterable[str] | None = None) -> list[Delivery]:
    """Every recorded e-mail (of these invoice numbers if given), oldest first."""
    await ensure_invoice_topics(settings)
    wanted = None if numbers is None else set(numbers)
    found = []
    for message in await read_all(settings, INVOICES_DELIVERIES):
        if message.value is None or (wanted is not None and message.key.decode() not in wanted):
            continue
        found.append(Delivery.model_validate_json(message.value))
    return found


def last_by_number(deliveries: Iterable[Delivery]) -> dict[str, Delivery]:
    """The latest attempt per invoice number (deliveries oldest first)."""
    return {delivery.number: delivery for delivery in deliveries}


def sent_numbers(deliveries: Iterable[Delivery]) -> set[str]:
    return {delivery.number for delivery in deliveries if delivery.result == "sent"}
