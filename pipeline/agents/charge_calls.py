"""cdr.rated -> balance.charges: each call debits its accounts once, however often delivered.

`charged_calls` remembers, per call, the cdr.rated position that charged it. The same position
seen again is a replay after a crash: its debits are sent again (the ledger drops what it already
applied). Another position with the same call is a second delivery: nothing is charged.
"""
from __future__ import annotations

from pipeline.agents.stage import Stage
from pipeline.app import app, settings
from pipeline.balances.charges import charges_for
from pipeline.kafka_batches import BatchSender
from pipeline.schemas import wire

CHARGES = settings.topic("balance.charges")


class ChargeCalls(Stage):
    name = "charge"
    sources = ("cdr.rated",)
    stores = ("charged_calls",)
    settings = settings
    batch_size = settings.balance_batch_size
    batch_seconds = settings.balance_batch_seconds

    async def handle(self, messages: list, sender: BatchSender) -> None:
        charged = self.stores_by_name["charged_calls"]
        for message in messages:
            origin = f"{message.partition}:{message.offset}".encode()
            charged_at = charged.get(message.partition, message.key)
            if charged_at is not None and charged_at != origin:
                continue  # a second delivery of a call already charged
            debits = charges_for(wire.decode("rated_call.v1", message.value))
            for account, amount in debits:
                charge = {
                    "account": account,
                    "call": message.key.decode(),
                    "amount": str(amount),
                    "origin_partition": message.partition,
                    "origin_offset": message.offset,
                }
                await sender.add(CHARGES, account.encode(), wire.encode("balance_charge.v1", charge, settings.wire_format))
            if charged_at is None and debits:
                await charged.put(sender, message.partition, message.key, origin)


if settings.runs("charge"):
    app.service(ChargeCalls)
