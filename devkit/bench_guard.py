"""`bench-guard`: how long from the CDR that empties a prepaid balance to its "blocked" signal on
switch.control, with other traffic flowing meanwhile, beside the broker's own
produce -> consume round trip measured in the same run.

Each sample is its own prepaid user, paid exactly the price of one call, so one CDR flips it.
Both ends are timed with this process's perf_counter: no clocks of other processes are compared.
"""
from __future__ import annotations

import asyncio
import logging
import math
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from devkit.worker_process import WorkerProcess
from pipeline.kafka.topic_io import produce_all
from pipeline.kafka.topic_read import topic_partitions
from pipeline.reference.publish import apply_files
from pipeline.settings import REPO_ROOT, Settings

PRICE = "2"  # one 60 s call to DST on the retail tariff below: 2/min, so 2.000000
DST = "37052123456"  # 370 without 3706: no connection fee anywhere in the chain
BACKGROUND_ACCOUNTS = 32  # spread the other traffic over every partition
SAMPLES_PER_SECOND = 20  # far apart enough that a sample never queues behind the previous one
WARM_UP_SECONDS = 3.0
TARGET_P99_MS = 250
START = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def run(settings: Settings, samples: int, background_rate: int) -> dict[str, float]:
    run_id = f"bench-guard-{int(time.time())}"
    database = f"{settings.clickhouse_database}_{run_id.replace('-', '_')}"
    settings = settings.model_copy(update={
        "topic_prefix": f"{settings.topic_prefix}{run_id}-",
        "clickhouse_url": settings.clickhouse_url.rsplit("/", 1)[0] + "/" + database,
    })
    say = lambda text: click.echo(f"[bench-guard] {text}")  # noqa: E731
    say(f"topics {settings.topic_prefix}*, ClickHouse database {database}; {samples} samples, "
        f"{background_rate} background CDR/s")
    # fresh topics answer NotLeaderForPartition for a moment; aiokafka retries, and says so loudly
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    prepare(settings, samples)
    log = settings.local_dir / "logs" / f"{run_id}.log"
    worker = WorkerProcess(settings, log).start()  # all roles by default, as docker-compose runs it
    try:
        say(f"worker started (log {log}); waiting for the balance guard ...")
        worker.wait_until_logged("balance guard active", timeout=180)
        latencies, baseline, background = asyncio.run(measure(settings, samples, background_rate, say))
    finally:
        worker.stop()
        if settings.runs("clickhouse"):
            drop_database(settings)
    return report(latencies, baseline, background, samples)


def prepare(settings: Settings, samples: int) -> None:
    if settings.runs("clickhouse"):  # the sink shares the worker as deployed: a database of its own
        from pipeline.sinks.migrate import migrate

        migrate(settings)
    with tempfile.TemporaryDirectory() as tmp:
        accounts = Path(tmp) / "bench-guard.json"
        accounts.write_bytes(orjson.dumps(reference_records(samples)))
        asyncio.run(apply_files(settings, [str(REPO_ROOT / "samples" / "operator.json"), str(accounts)]))


def reference_records(samples: int) -> list[dict]:
    """A postpaid reseller without a credit limit (never blocked: only his users can flip), the
    prepaid users that are the samples, and postpaid users for the background traffic."""
    records = [
        {"kind": "account", "id": "gr", "type": "reseller", "tariff": "t-r-buy", "billing": "postpaid",
         "server": "ast1"},
        {"kind": "tariff", "id": "t-gr-retail", "owner": "gr", "rates": [{"prefix": "370", "rate": PRICE}]},
    ]
    records += [{"kind": "account", "id": f"gs{n}", "type": "user", "parent": "gr",
                 "tariff": "t-gr-retail", "billing": "prepaid"} for n in range(samples)]
    records += [{"kind": "account", "id": f"gb{n}", "type": "user", "parent": "gr",
                 "tariff": "t-gr-retail", "billing": "postpaid"} for n in range(BACKGROUND_ACCOUNTS)]
    return records


def cdr(call_id: str, account: str, billsec: int) -> bytes:
    return orjson.dumps({
        "call_id": call_id, "server_id": "ast1", "account": account, "src": "37052000001", "dst": DST,
        "start_time": (START + timedelta(seconds=billsec)).isoformat(), "billsec": billsec,
        "disposition": "ANSWERED", "provider": "p1",
    })


class ControlTail:
    """switch.control read as a switch reads it (read_committed, every partition), noting when
    each account flips from active to blocked. It reads from the beginning so that it also sees
    the users turn active; from then on it waits at the end of the topic."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.states: dict[str, str] = {}
        self.blocked_at: dict[str, float] = {}

    async def start(self) -> None:
        self.consumer = tail_consumer(self.settings)
        await self.consumer.start()
        partitions = await topic_partitions(self.consumer, self.settings.topic("switch.control"))
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)
        self.task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100)
            arrived = time.perf_counter()
            for message in (m for messages in batches.values() for m in messages):
                signal = orjson.loads(message.value)
                if signal["state"] == "blocked" and self.states.get(signal["account"]) == "active":
                    self.blocked_at.setdefault(signal["account"], arrived)
                self.states[signal["account"]] = signal["state"]

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.consumer.stop()


def tail_consumer(settings: Settings) -> AIOKafkaConsumer:
    # aiokafka leaves a partition that still had unread records out of the next fetch, and new
    # records there wait for that fetch to end: up to fetch_max_wait_ms (500 by default). The
    # measuring end must not add that, so it asks the broker to answer within 10 ms.
    return AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                            isolation_level="read_committed", fetch_max_wait_ms=10)


async def measure(settings: Settings, samples: int, background_rate: int, say):
    users = [f"gs{n}" for n in range(samples)]
    tail = ControlTail(settings)
    await tail.start()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True,
                                acks="all", linger_ms=0)  # a lone CDR goes out at once
    await producer.start()
    stop = asyncio.Event()
    background = None
    try:
        await produce_all(settings, "balance.payments", (
            (u.encode(), orjson.dumps({"id": f"{settings.topic_prefix}{u}", "account": u, "amount": PRICE}))
            for u in users))
        await wait_until(lambda: sum(tail.states.get(u) == "active" for u in users), samples, 120,
                         "users active", say)
        background = asyncio.create_task(produce_background(settings, background_rate, stop))
        say(f"background traffic on; warming up {WARM_UP_SECONDS:.0f} s")
        await asyncio.sleep(WARM_UP_SECONDS)
        sent = await send_samples(settings, producer, users, tail, say)
        await wait_until(lambda: sum(u in tail.blocked_at for u in users), samples, 30, "blocked signals", say)
        # a sample without a signal counts as infinitely late: a stalled pipeline must not look fast
        latencies = [(tail.blocked_at.get(u, math.inf) - sent[u]) * 1000 for u in users]
        say("baseline: raw aiokafka produce -> consume of one message, background still on ...")
        baseline = await broker_round_trips(settings, producer, samples)
        stop.set()
        cdrs, seconds = await background
        return latencies, baseline, cdrs / seconds
    finally:
        stop.set()
        if background is not None:
            await asyncio.gather(background, return_exceptions=True)
        await producer.stop()
        await tail.stop()


async def wait_until(count, want: int, timeout: float, what: str, say) -> None:
    deadline, last_said = time.monotonic() + timeout, 0.0
    while (done := count()) < want and time.monotonic() < deadline:
        if time.monotonic() - last_said > 2:
            say(f"    {done}/{want} {what}")
            last_said = time.monotonic()
        await asyncio.sleep(0.1)
    say(f"    {done}/{want} {what}")


async def send_samples(settings: Settings, producer, users: list[str], tail: ControlTail, say) -> dict[str, float]:
    """The one CDR per user that brings his balance to 0; timed once the broker has it."""
    topic, sent = settings.topic("cdr.raw"), {}
    started = time.perf_counter()
    for n, user in enumerate(users):
        await asyncio.sleep(max(0.0, started + n / SAMPLES_PER_SECOND - time.perf_counter()))
        call_id = f"{settings.topic_prefix}s{n}"
        await producer.send_and_wait(topic, cdr(call_id, user, 60), key=call_id.encode())
        sent[user] = time.perf_counter()
        if (n + 1) % 50 == 0:
            say(f"    {n + 1}/{len(users)} samples sent, {len(tail.blocked_at)} blocked signals read")
    return sent


async def produce_background(settings: Settings, rate: int, stop: asyncio.Event) -> tuple[int, float]:
    """`rate` CDR/s of accounts that never flip, paced in 10 ms ticks like a switch fleet."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True,
                                acks="all", linger_ms=5)
    await producer.start()
    rng, topic, sent = random.Random(5), settings.topic("cdr.raw"), 0
    started = time.perf_counter()
    try:
        while not stop.is_set():
            while sent < (time.perf_counter() - started) * rate:
                call_id = f"{settings.topic_prefix}b{sent}"
                account = f"gb{rng.randrange(BACKGROUND_ACCOUNTS)}"
                await producer.send(topic, cdr(call_id, account, rng.randrange(1, 600)), key=call_id.encode())
                sent += 1
            await asyncio.sleep(0.01)
        await producer.flush()
    finally:
        await producer.stop()
    return sent, time.perf_counter() - started


async def broker_round_trips(settings: Settings, producer, count: int) -> list[float]:
    """One message at a time to a topic of its own and back, same clients' settings as above."""
    ping = settings.topic("bench.ping")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(ping, num_partitions=1, replication_factor=settings.replication_factor)])
    finally:
        await admin.close()
    await producer.send_and_wait(ping, b"warm-up")  # the first send waits for the new topic's metadata
    consumer = tail_consumer(settings)
    await consumer.start()
    try:
        consumer.assign(await topic_partitions(consumer, ping))
        await consumer.seek_to_end()
        trips = []
        for n in range(count):
            started = time.perf_counter()
            ack = await producer.send(ping, str(n).encode(), partition=0)
            await consumer.getone()
            trips.append((time.perf_counter() - started) * 1000)
            await ack
            await asyncio.sleep(1 / SAMPLES_PER_SECOND)
        return trips
    finally:
        await consumer.stop()


def report(latencies: list[float], baseline: list[float], background: float, samples: int) -> dict[str, float]:
    figures = {f"CDR -> block signal, {name}": value for name, value in stats(latencies).items()}
    figures |= {f"broker produce -> consume, {name}": value for name, value in stats(baseline).items()}
    signalled = sum(math.isfinite(v) for v in latencies)
    click.echo(f"\n{signalled}/{samples} samples got their block signal; "
               f"background traffic {background:,.0f} CDR/s meanwhile\n")
    click.echo(f"{'figure':<38} {'ms':>9}")
    click.echo("-" * 48)
    for name, value in figures.items():
        click.echo(f"{name:<38} {value:>9.1f}")
    click.echo(f"\ntarget: CDR -> block signal p99 < {TARGET_P99_MS} ms; timed from the broker's ack of "
               "the CDR to reading the signal, same broker, same run")
    return figures


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    rank = lambda q: ordered[max(0, math.ceil(q * len(ordered)) - 1)]  # noqa: E731  nearest rank
    return {"min": ordered[0], "p50": rank(0.50), "mean": sum(ordered) / len(ordered),
            "p99": rank(0.99), "max": ordered[-1]}


def drop_database(settings: Settings) -> None:
    from pipeline.sinks.clickhouse import connect

    client = connect(settings, database="default")
    client.execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    client.disconnect()
