"""balance.charges + balance.payments -> each account's ledger, and balance.updates for the guard."""
from __future__ import annotations

import logging
from decimal import Decimal

from pydantic import ValidationError

from pipeline.agents.stage import Stage
from pipeline.app import app, settings
from pipeline.balances.ledger import Ledger
from pipeline.cdr.decode import describe_validation_error
from pipeline.cdr.process import Source, rejection
from pipeline.kafka_batches import BatchSender
from pipeline.schemas import wire
from pipeline.schemas.payment import PaymentIn

log = logging.getLogger(__name__)
CHARGES = settings.topic("balance.charges")
UPDATES = settings.topic("balance.updates")
REJECTED = settings.topic("cdr.rejected")


class ApplyBalances(Stage):
    name = "balance"
    sources = ("balance.charges", "balance.payments")  # both keyed by account, co-partitioned
    stores = ("ledgers",)
    settings = settings
    batch_size = settings.balance_batch_size
    batch_seconds = settings.balance_batch_seconds

    async def handle(self, messages: list, sender: BatchSender) -> None:
        store = self.stores_by_name["ledgers"]
        ledgers: dict[tuple[int, bytes], Ledger] = {}
        changed: set[tuple[int, bytes]] = set()
        for message in messages:
            entry = _entry(message)
            if isinstance(entry, bytes):  # a payment we cannot read: rejected, with the reason
                await sender.add(REJECTED, message.key, entry)
                continue
            account, apply = entry
            where = (message.partition, account)
            ledger = ledgers.get(where)
            if ledger is None:
                ledger = ledgers[where] = Ledger.from_json(store.get(*where))
            if apply(ledger):
                changed.add(where)
        # once per account per batch: the ledger (with its watermarks) and the guard's snapshot
        for partition, account in changed:
            ledger = ledgers[(partition, account)]
            await store.put(sender, partition, account, ledger.to_json())
            update = {"account": account.decode(), "balance": str(ledger.balance), "seq": ledger.seq}
            await sender.add(UPDATES, account, wire.encode("balance_update.v1", update, settings.wire_format))


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
    app.service(ApplyBalances)
