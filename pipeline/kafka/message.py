"""A consumed Kafka message as the code reads it, whichever client read it: aiokafka's
ConsumerRecord or librdkafka's (rdkafka.RdMessage), and the tests' in-memory broker's."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Message(Protocol):
    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def timestamp(self) -> int: ...  # milliseconds since the epoch

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


# A consumer or producer of either client (the factory in clients.py picks): their common methods
# are what the code calls; not spelled out as a protocol, they are typed as Any.
Client = Any


def key_of(message: Message) -> bytes:
    """The key of a message that must have one (raises ValueError naming the message otherwise: the
    stage's loop makes it a dead letter)."""
    if message.key is None:
        raise ValueError(f"{message.topic}[{message.partition}]@{message.offset} has no key")
    return message.key


def value_of(message: Message) -> bytes:
    """The value of a message that must have one (a topic that is never compacted has no deletes)."""
    if message.value is None:
        raise ValueError(f"{message.topic}[{message.partition}]@{message.offset} has no value")
    return message.value
