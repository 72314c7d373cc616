"""balance.charges + balance.payments -> the balances table, and balance.updates for the guard.

The table is written once per account per batch (not per event): Faust's per-event table write
is the slowest thing it does (NOTES-faust.md).
"""
from __future__ import annotations

import logging
from decimal import Decimal

from pydantic import ValidationError

from pipeline.app import app, settings, topics
from pipeline.balances.ledger import Ledger
from pipeline.cdr.decode import describe_validation_error
from pipeline.cdr.process import Source, rejection
from pipeline.schemas import wire
from pipeline.schemas.payment import PaymentIn

log = logging.getLogger(__name__)
CHARGES = topics.charges.get_topic_name()
UPDATES = topics.balance_updates.get_topic_name()
REJECTED = topics.cdr_rejected.get_topic_name()


async def apply_balances(stream):
    send = app.producer.send
    async for events in stream.take_events(settings.balance_batch_size, within=settings.balance_batch_seconds):
        ledgers: dict[bytes, Ledger] = {}
        changed: set[bytes] = set()
        for event in events:
            message = event.message
            entry = _entry(message)
            if isinstance(entry, bytes):  # a payment we cannot read: rejected, with the reason
                await send(REJECTED, message.key, entry, None, None, None)
                continue
            account, apply = entry
            ledger = ledgers.get(account)
            if ledger is None:
                ledger = ledgers[account] = Ledger.from_json(balances.get(account))
            if apply(ledger):
                changed.add(account)
        for account in changed:
            ledger = ledgers[account]
            balances[account] = ledger.to_json()
            update = {"account": account.decode(), "balance": str(ledger.balance), "seq": ledger.seq}
            await send(UPDATES, account, wire.encode("balance_update.v1", update, settings.wire_format), None, None, None)


def _entry(message):
    """(account, function applying the message to a ledger), or a cdr.rejected body."""
    if message.topic == CHARGES:
        charge = wire.decode("balance_charge.v1", message.value)
        amount = Decimal(charge["amount"])
        return charge["account"].encode(), lambda ledger: ledger.debit(
            charge["origin_partition"], charge["origin_offset"], amount
        )
    source = Source(message.topic, message.partition, message.offset)
    try:
        payment = PaymentIn.model_validate_json(message.value or b"")
    except ValidationError as exc:
        return rejection(message.key, message.value, source, "bad_payment", describe_validation_error(exc)).value
    if message.key is not None and message.key.decode(errors="replace") != payment.account:
        detail = f"key {message.key!r} is not the payment's account {payment.account!r}"
        return rejection(message.key, message.value, source, "bad_payment", detail).value
    return payment.account.encode(), lambda ledger: ledger.credit(payment.id, payment.amount)


if settings.runs("balance"):
    balances = app.Table(
        "balances",
        partitions=settings.partitions,
        key_type=bytes,  # raw bytes both ways: the changelog key must equal the source's key
        value_type=bytes,
        use_partitioner=True,  # charges and payments are keyed by account with the same partitioner
    )
    money_in = app.topic(CHARGES, topics.payments.get_topic_name(), key_serializer="raw", value_serializer="raw")
    app.agent(money_in, name="apply_balances")(apply_balances)
