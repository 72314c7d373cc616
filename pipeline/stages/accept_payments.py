"""balance.payments (any partition, any client) -> balance.payments.accepted, keyed by our own
partitioner, or cdr.rejected with reason `bad_payment`. Refunds and corrections
(pipeline/schemas/payment.py) travel the same way, their `amount` on the accepted topic signed as
the ledger adds it.

Billing systems write payments with whatever client they have; librdkafka clients (kcat,
confluent-kafka) partition keys by CRC32, not the Java client's murmur2, so a payment keyed by
its account may land on another partition than the account's charges, whose ledger it would
split. Here every payment is read, checked against the reference data, and re-keyed onto an
internal topic that the pipeline partitions itself, beside the account's charges.
"""
from __future__ import annotations

import orjson
from pydantic import ValidationError

from pipeline.cdr.process import Source, rejection
from pipeline.kafka.message import Message
from pipeline.kafka.topics import BALANCE_PAYMENTS, BALANCE_PAYMENTS_ACCEPTED
from pipeline.observability.metrics import Metrics
from pipeline.reference.feed import ReferenceFeed
from pipeline.runtime.outputs import Context
from pipeline.schemas.payment import PaymentIn, payment_problem
from pipeline.schemas.validation_errors import describe_validation_error
from pipeline.settings import Settings
from pipeline.stages.base import PipelineStage


class AcceptPayments(PipelineStage):
    name = "payments"
    fetch_max_wait_ms = 250  # payments are few: an idle stage asks 4 times a second, not 50

    def __init__(self, settings: Settings, feed: ReferenceFeed, metrics: Metrics | None = None) -> None:
        super().__init__(settings)
        self.feed = feed
        self.metrics = metrics
        self.sources = (settings.topic(BALANCE_PAYMENTS),)
        self.accepted_topic = settings.topic(BALANCE_PAYMENTS_ACCEPTED)
        self.batch_size = settings.balance_batch_size
        self.batch_seconds = settings.balance_batch_seconds

    async def prepare(self) -> None:
        await self.feed.ready.wait()

    async def handle(self, messages: list[Message], ctx: Context) -> None:
        checked = [self._check(m) for m in messages]
        if any(problem is not None and problem[1] for _, problem in checked):
            await self.feed.catch_up()  # an account created a moment ago may be on its way
            checked = [self._check(m) if problem is not None and problem[1] else (payment, problem)
                       for m, (payment, problem) in zip(messages, checked)]
        for message, (payment, problem) in zip(messages, checked):
            if problem is not None:
                source = Source(message.topic, message.partition, message.offset)
                out = rejection(message.key, message.value, source, "bad_payment", problem[0])
                ctx.send(self.rejected_topic, out.key, out.value)
                if self.metrics is not None:
                    self.metrics.rejected(self.name, "bad_payment")
                continue
            assert payment is not None  # no problem: it was read
            # `amount` is what the ledger adds: a refund's (or a negative correction's) is below 0
            accepted = {"id": payment.id, "account": payment.account, "amount": str(payment.delta),
                        "kind": payment.kind, "reason": payment.reason,
                        # the day the payment was made: its id is remembered for the dedup window
                        "timestamp": message.timestamp,
                        "origin": f"{message.topic}/{message.partition}/{message.offset}"}
            ctx.send(self.accepted_topic, payment.account.encode(), orjson.dumps(accepted))

    def _check(self, message: Message) -> tuple[PaymentIn | None, tuple[str, bool] | None]:
        """(payment, None) or (None|payment, (why it is refused, whether reference data may cure it))."""
        try:
            payment = PaymentIn.model_validate_json(message.value or b"")
        except ValidationError as exc:
            return None, (describe_validation_error(exc), False)
        if message.key is not None and message.key.decode(errors="replace") != payment.account:
            return payment, (f"key {message.key[:200]!r} is not the payment's account {payment.account!r}", False)
        problem = payment_problem(payment, self.feed.book)
        if problem is not None:
            return payment, (problem, True)
        return payment, None
