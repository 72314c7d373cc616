"""cdr.rated -> balance.charges: each call debits its accounts once, however often delivered.

`charged_calls` remembers, per call, the cdr.rated position that charged it. The same position
seen again is a replay after a crash: its debits are sent again (the ledger drops what it already
applied). Another position with the same call is a second delivery: nothing is charged.
"""
from __future__ import annotations

from pipeline.app import app, settings, topics
from pipeline.balances.charges import charges_for
from pipeline.schemas import wire

CHARGES = topics.charges.get_topic_name()


async def charge_calls(stream):
    send = app.producer.send
    async for events in stream.take_events(settings.balance_batch_size, within=settings.balance_batch_seconds):
        for event in events:
            message = event.message
            origin = f"{message.partition}:{message.offset}".encode()
            charged_at = charged_calls.get(message.key)
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
                await send(CHARGES, account.encode(), wire.encode("balance_charge.v1", charge, settings.wire_format), None, None, None)
            if charged_at is None and debits:
                charged_calls[message.key] = origin


if settings.runs("charge"):
    charged_calls = app.Table(
        "charged-calls",
        partitions=settings.partitions,
        key_type=bytes,  # raw bytes both ways: the changelog key must equal cdr.rated's key
        value_type=bytes,
        # the key alone decides the changelog partition, the same way it decided cdr.rated's:
        # so a take() batch may write the table, and a partition's keys are restored with it
        use_partitioner=True,
    )
    app.agent(topics.cdr_rated, name="charge_calls")(charge_calls)
