"""The stages' librdkafka clients (pipeline/runtime/rdkafka.py) against the real broker: the
aiokafka methods the checkpoint loop relies on mean the same thing on them."""
from __future__ import annotations

import asyncio

from aiokafka import TopicPartition
from aiokafka.admin import NewTopic

from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topic_io import read_all


async def create_topics(settings, topics: dict[str, int]) -> None:
    admin = KafkaClients(settings).admin()
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name, partitions in topics.items()])
    finally:
        await admin.close()


def stage_clients(settings):
    clients = KafkaClients(settings)
    return (clients.stage_consumer("rd", max_poll_records=500, large_messages=False, fetch_min_bytes=1,
                                   fetch_max_wait_ms=20), clients)


async def send(producer, topic: str, partition: int, values: list[bytes], headers=None):
    batch = producer.create_batch()
    for value in values:
        batch.append(key=b"k", value=value, timestamp=None, headers=headers)
    return await (await producer.send_batch(batch, topic, partition=partition))


async def read_until(consumer, count: int, seconds: float = 20.0) -> dict:
    got: dict = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while sum(map(len, got.values())) < count and loop.time() < deadline:
        for tp, messages in (await consumer.getmany(timeout_ms=200, max_records=100)).items():
            got.setdefault(tp, []).extend(messages)
    return got


class Recorder:
    """A rebalance listener that, like the checkpoint loop's, awaits the broker inside it."""

    def __init__(self, consumer) -> None:
        self.consumer = consumer
        self.events: list[tuple[str, frozenset, frozenset]] = []  # (what, partitions, assignment then)

    async def on_partitions_revoked(self, revoked) -> None:
        self.events.append(("revoked", frozenset(revoked), frozenset(self.consumer.assignment())))
        done = {tp: 1 for tp in revoked if tp.topic.endswith("rd-in")}
        if done:
            await self.consumer.commit(done)  # a commit inside the listener, as revoked() does

    async def on_partitions_assigned(self, assigned) -> None:
        self.events.append(("assigned", frozenset(assigned), frozenset(self.consumer.assignment())))


async def test_batches_are_acknowledged_with_their_offsets_and_read_back_with_aiokafka_names(settings_factory):
    settings = settings_factory(partitions=2)
    topic = settings.topic("rd-in")
    await create_topics(settings, {topic: 2})
    consumer, clients = stage_clients(settings)
    producer = clients.stage_producer()
    await producer.start()
    try:
        first = await send(producer, topic, 1, [b"a", b"b", b"c"], headers=[("rating-schema", b"x.v2")])
        second = await send(producer, topic, 1, [b"d"])
        assert (first.offset, second.offset) == (0, 3)  # each batch's first offset, as aiokafka's
    finally:
        await producer.stop()
    stored = [m for m in await read_all(settings, "rd-in") if m.partition == 1]
    assert [m.value for m in stored] == [b"a", b"b", b"c", b"d"]
    assert list(stored[0].headers) == [("rating-schema", b"x.v2")]

    consumer.subscribe([topic])
    await consumer.start()
    try:
        got = await read_until(consumer, 4)
        tp = TopicPartition(topic, 1)
        messages = got[tp]
        assert [(m.topic, m.partition, m.offset, m.key, m.value) for m in messages] == [
            (topic, 1, i, b"k", v) for i, v in enumerate([b"a", b"b", b"c", b"d"])]
        assert messages[0].headers == [("rating-schema", b"x.v2")] and messages[0].timestamp > 0
        assert consumer.assignment() == {TopicPartition(topic, 0), tp}
        assert consumer.highwater(tp) == 4

        await consumer.commit({tp: 2})
        assert await consumer.committed(tp) == 2
        assert await consumer.committed(TopicPartition(topic, 0)) is None

        consumer.seek(tp, 1)  # a rewind reads again from there
        again = await read_until(consumer, 3)
        assert [m.offset for m in again[tp]] == [1, 2, 3]

        consumer.pause(tp)  # paused: polled, nothing handed over
        await send_with(clients, topic, 1, [b"e"])
        assert tp not in await read_until(consumer, 1, seconds=1.5)
        consumer.resume(tp)
        assert [m.value for m in (await read_until(consumer, 1))[tp]] == [b"e"]
    finally:
        await consumer.stop()


async def send_with(clients, topic: str, partition: int, values: list[bytes]) -> None:
    producer = clients.stage_producer()
    await producer.start()
    try:
        await send(producer, topic, partition, values)
    finally:
        await producer.stop()


async def test_a_member_joining_takes_partitions_through_the_listener_inside_the_poll(settings_factory):
    """The listener runs inside getmany on librdkafka's thread; it must see the partitions it is
    about to lose, be able to commit them, and the two members must end with all partitions
    between them, none twice. Stopping a member runs the listener too, and returns."""
    settings = settings_factory(partitions=4)
    topic = settings.topic("rd-in")
    await create_topics(settings, {topic: 4})
    a, _ = stage_clients(settings)
    b, _ = stage_clients(settings)
    a_events, b_events = Recorder(a), Recorder(b)
    a.subscribe([topic], listener=a_events)
    b.subscribe([topic], listener=b_events)
    everything = {TopicPartition(topic, p) for p in range(4)}
    await a.start()
    try:
        while a.assignment() != everything:
            await a.getmany(timeout_ms=200)
        joining = asyncio.create_task(b.start())  # start() returns once b is in the group, which
        while not joining.done():  # takes a rebalance that `a` joins in its polls
            await a.getmany(timeout_ms=100)
        await joining
        for _ in range(150):  # both poll until the group settles (a revokes, both are assigned)
            await asyncio.gather(a.getmany(timeout_ms=100), b.getmany(timeout_ms=100))
            if a.assignment() and b.assignment() and a.assignment() | b.assignment() == everything:
                break
        assert a.assignment().isdisjoint(b.assignment())
        assert a.assignment() | b.assignment() == everything
        revoked = [event for event in a_events.events if event[0] == "revoked"]
        assert revoked and revoked[0][1] == everything == revoked[0][2]  # still assigned while revoked
        assert await a.committed(TopicPartition(topic, 0)) == 1  # the listener's commit landed
    finally:
        await asyncio.wait_for(b.stop(), 30)
        await asyncio.wait_for(a.stop(), 30)
    assert b_events.events[-1][0] == "revoked"  # the stop ran the listener, and did not hang


async def test_a_fatal_error_from_the_broker_marks_the_producer_broken(settings_factory):
    """A fatal error (here: fenced by a newer producer with its transactional id, which the
    broker answers with a fatal error) must be visible to the checkpoint loop, which then
    replaces the producer (tests/runtime: ...broken_for_good_is_replaced...); left unseen, the
    stage retried for ever with a client that can never send again."""
    from confluent_kafka import Producer

    from pipeline.kafka.rdkafka import RdKafkaError, RdProducer

    settings = settings_factory(partitions=1)
    topic = settings.topic("rd-fatal")
    await create_topics(settings, {topic: 1})
    config = {"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True, "acks": "all",
              "transactional.id": f"{settings.app_id}-fenced"}
    fenced = RdProducer(config)
    await fenced.start()
    newer = Producer(config)
    try:
        await asyncio.to_thread(fenced._producer.init_transactions, 30)
        fenced._producer.begin_transaction()
        await send(fenced, topic, 0, [b"before"])  # it could send until ...
        assert fenced.broken is None
        await asyncio.to_thread(newer.init_transactions, 30)  # ... a newer producer took its id
        try:
            await asyncio.wait_for(send(fenced, topic, 0, [b"after"]), 30)
        except RdKafkaError:
            pass  # refused at once, or its delivery failed: either way, never sent
        for _ in range(100):
            if fenced.broken is not None:
                break
            await asyncio.sleep(0.1)
        assert fenced.broken is not None and "fenced" in fenced.broken.lower(), fenced.broken
        await asyncio.wait_for(fenced.stop(), 10)  # stopping does not wait for what can never go
    finally:
        await asyncio.to_thread(newer.flush, 5)
