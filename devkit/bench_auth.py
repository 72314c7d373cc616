"""`bench-auth`: POST /v1/authorize measured at the client while the worker rates other CDRs, beside
the broker's own produce -> consume round trip measured in the same run at the same rates; then
the authorizer's throughput, live holds (memory, restart-to-ready), and the overspend storm.

Everything runs on this machine: the worker and the API as child processes (as deployed), the
client and the CDR load here. All times are this process's perf_counter.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import random
import socket
import statistics
import time
import uuid

import click
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from devkit.auth_storm import storm
from devkit.worker_process import WorkerProcess, start_api
from pipeline.api.kafka_backend import ensure_api_topics, publish_logins
from pipeline.reference.publish import Located, apply_files, publish
from pipeline.reference.records import parse_reference_record
from pipeline.reports.output import text_table
from pipeline.reports.run import Table
from pipeline.schemas.cards import CardGroupIn, card_account, hash_pin
from pipeline.settings import REPO_ROOT, Settings

DST = "37060000000"
CALLERS = 200  # prepaid users the timed authorizations are spread over
CARDS, CARD_PIN = 100, "2468"  # calling cards, asked by number + PIN


def card_number(n: int) -> str:
    return f"77{n:08d}"
TARGETS_MS = {"p50": 5, "p99": 25, "max": 250}


def run(settings: Settings, rates: list[int], seconds: float, background_rate: int, holds: int,
        storm_calls: int) -> None:
    run_id = f"bench-auth-{uuid.uuid4().hex[:6]}"
    database = f"{settings.clickhouse_database}_{run_id.replace('-', '_')}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = settings.model_copy(update={
        "topic_prefix": f"{settings.topic_prefix}{run_id}-", "api_port": port, "metrics_port": 0,
        "clickhouse_url": settings.clickhouse_url.rsplit("/", 1)[0] + "/" + database, "dedup_days": 36500})
    say = lambda text: click.echo(f"[bench-auth] {text}")  # noqa: E731
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    say(f"topics {settings.topic_prefix}*, database {database}")
    token = asyncio.run(_prepare(settings))
    logs = settings.local_dir / "logs"
    worker = WorkerProcess(settings, logs / f"{run_id}-worker.log").start()
    api = start_api(settings, logs / f"{run_id}-api.log")
    rows, extra = [], []
    try:
        worker.wait_until_logged("authorizer active", timeout=180)
        base = f"http://127.0.0.1:{port}"
        asyncio.run(_fund(settings, base, token, say))
        for rate in rates:
            say(f"{rate} authorizations/s for {seconds:g} s, {background_rate} CDR/s rated meanwhile ...")
            auth, background, errors = asyncio.run(_timed(settings, base, token, rate, seconds, background_rate))
            if errors:
                say(f"  errors: {errors}")
            say("  the broker's round trip at the same rate ...")
            baseline = asyncio.run(_round_trips(settings, rate, seconds))
            rows.append((f"authorize at {rate}/s", *_figures(auth), sum(errors.values()), f"{background:,.0f}"))
            rows.append((f"  broker round trip at {rate}/s", *_figures(baseline), 0, ""))
        say(f"calling cards (number + PIN) at {rates[0]}/s ...")
        auth, background, errors = asyncio.run(_timed(settings, base, token, rates[0], seconds, background_rate,
                                                      cards=True))
        rows.append((f"authorize a card at {rates[0]}/s", *_figures(auth), sum(errors.values()), f"{background:,.0f}"))
        say("throughput: 2,000 questions at once ...")
        extra.append(("authorizations/s, one worker (2,000 at once)",
                      f"{asyncio.run(_burst(base, token, 2000)):,.0f}"))
        if holds:
            say(f"{holds:,} live holds: placing them ...")
            rss_before = _rss_mib(worker)
            asyncio.run(_burst(base, token, holds, prefix="hold"))
            time.sleep(2)
            extra.append((f"worker memory with {holds:,} live holds (MiB)", f"{_rss_mib(worker) - rss_before:+.0f}"))
            worker.kill()
            started = time.perf_counter()
            worker = WorkerProcess(settings, logs / f"{run_id}-worker-2.log").start()
            worker.wait_until_logged("authorizer active", timeout=600)
            extra.append((f"restart to ready with {holds:,} holds (s)", f"{time.perf_counter() - started:.1f}"))
        if storm_calls:
            say(f"the overspend storm: {storm_calls} calls ...")
            report = asyncio.run(storm(settings, base, token, users=60, resellers=6, calls=storm_calls,
                                       concurrency=48, seed=7, say=say))
            extra += [("storm: calls asked / allowed", f"{report.asked} / {report.allowed}"),
                      ("storm: worst prepaid balance (target >= 0)", str(report.worst_balance)),
                      ("storm: balances exact to the micro-unit", "yes" if report.balances_exact else "NO"),
                      ("storm: false refusal rate", f"{report.false_refusals}/{report.money_refusals} money refusals"),
                      ("storm: refusals by reason", ", ".join(f"{k} {v}" for k, v in sorted(report.refused.items())))]
    finally:
        api.stop()
        worker.stop()
        _drop_database(settings)
    columns = ("path", "n", "p50 ms", "p99 ms", "max ms", "errors", "CDR/s meanwhile")
    click.echo(text_table(Table(columns, rows)), nl=False)
    click.echo(f"targets: p50 <= {TARGETS_MS['p50']} ms, p99 <= {TARGETS_MS['p99']} ms, nothing over "
               f"{TARGETS_MS['max']} ms")
    click.echo(text_table(Table(("figure", "value"), extra)), nl=False)


async def _prepare(settings: Settings) -> str:
    from pipeline.sinks.migrate import migrate

    migrate(settings)
    await ensure_api_topics(settings)
    await apply_files(settings, [str(REPO_ROOT / "samples" / "operator.json"),
                                 str(REPO_ROOT / "samples" / "resellers.json")])
    records = [{"kind": "tariff", "id": "t-ba", "owner": "admin", "rates": [{"prefix": "370", "rate": "0.1"}]}]
    records += [{"kind": "account", "id": f"ba{n}", "type": "user", "tariff": "t-ba", "billing": "prepaid",
                 "hold_cap_seconds": 60} for n in range(CALLERS)]
    # calling cards of the admin, on the same tariff: authorized by number + PIN
    group = {"kind": "card_group", "id": "g-ba", "owner": "admin", "tariff": "t-ba", "face_value": "0",
             "simultaneous": True}
    records.append(group)
    for n in range(CARDS):
        records += [card_account(CardGroupIn.model_validate(group), card_number(n)),
                    {"kind": "card", "number": card_number(n), "group": "g-ba", "pin_hash": hash_pin(CARD_PIN),
                     "state": "sold", "created": "2026-01-01T00:00:00+00:00"}]
    await publish(settings, [Located("bench", n, parse_reference_record(r)) for n, r in enumerate(records, 1)])
    return (await publish_logins(settings, ["admin"]))["admin"]


async def _fund(settings: Settings, base: str, token: str, say) -> None:
    """Every caller rich (a million holds' worth), and seen so by the authorizer."""
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for account in [f"ba{n}" for n in range(CALLERS)] + [card_number(n) for n in range(CARDS)]:
            (await client.post("/v1/payments", json={"id": account, "account": account,
                                                      "amount": "100000"})).raise_for_status()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            answer = (await client.post("/v1/authorize", json={"server_id": "bench", "call_id": uuid.uuid4().hex,
                                                                "account": f"ba{CALLERS - 1}", "dst": DST})).json()
            if answer["allowed"]:
                say("callers funded and seen by the authorizer")
                return
            await asyncio.sleep(0.3)
    raise RuntimeError("the authorizer never saw the payments")


async def _paced(rate: int, seconds: float, act) -> list[float]:
    """Start act() `rate` times a second for `seconds`, without waiting for one to start the next."""
    latencies: list[float] = []
    tasks = []
    count, started = int(rate * seconds), time.perf_counter()

    async def timed(n: int) -> None:
        t0 = time.perf_counter()
        await act(n)
        latencies.append((time.perf_counter() - t0) * 1000)

    for n in range(count):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(n)))
    await asyncio.gather(*tasks)
    return latencies


async def _timed(settings: Settings, base: str, token: str, rate: int, seconds: float,
                 background_rate: int, cards: bool = False) -> tuple[list[float], float, dict[str, int]]:
    # the CDR load comes from a process of its own: in this one it would slow the very event loop
    # whose answers are being timed
    context = multiprocessing.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    background = context.Process(target=_background_process, args=(settings, background_rate, stop, results))
    background.start()
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30,
                                 limits=limits) as client:
        async def ask(n: int, tag: str = "t") -> None:
            caller = {"card": card_number(n % CARDS), "pin": CARD_PIN} if cards else {"account": f"ba{n % CALLERS}"}
            try:
                answer = await client.post("/v1/authorize", json={
                    "server_id": "bench", "call_id": f"{tag}{rate}-{cards}-{n}", "dst": DST, **caller})
                if answer.status_code != 200:
                    errors[f"HTTP {answer.status_code}"] = errors.get(f"HTTP {answer.status_code}", 0) + 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

        errors: dict[str, int] = {}
        await _paced(min(rate, 50), 1.0, lambda n: ask(n, "warm"))  # open the connections
        errors.clear()
        latencies = await _paced(rate, seconds, ask)
    stop.set()
    sent, elapsed = await asyncio.to_thread(results.get, True, 60)
    background.join(10)
    return latencies, sent / elapsed if elapsed else 0.0, errors


def _background_process(settings: Settings, rate: int, stop, results) -> None:
    async def run() -> tuple[int, float]:
        done = asyncio.Event()

        async def watch() -> None:
            await asyncio.to_thread(stop.wait)
            done.set()

        watcher = asyncio.create_task(watch())
        try:
            return await _background_cdrs(settings, rate, done)
        finally:
            await watcher

    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    results.put(asyncio.run(run()))


async def _background_cdrs(settings: Settings, rate: int, stop: asyncio.Event) -> tuple[int, float]:
    """Sample users' CDRs at `rate` a second into cdr.raw until stopped (the worker rates them)."""
    if rate <= 0:
        await stop.wait()
        return 0, 0.0
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=20)
    await producer.start()
    topic, sent, started = settings.topic("cdr.raw"), 0, time.perf_counter()
    try:
        while not stop.is_set():
            due = int((time.perf_counter() - started) * rate) - sent
            for _ in range(max(0, min(due, 5000))):
                cdr = {"call_id": uuid.uuid4().hex, "server_id": "bg", "account": random.choice(("u1", "u2", "d1")),
                       "dst": "37052123456", "start_time": "2026-11-20T10:00:00Z", "billsec": 60, "provider": "p1"}
                await producer.send(topic, orjson.dumps(cdr))
                sent += 1
            await asyncio.sleep(0.01)
    finally:
        await producer.stop()
    return sent, time.perf_counter() - started


async def _round_trips(settings: Settings, rate: int, seconds: float) -> list[float]:
    """The broker alone: a record produced (acks=all) and read back by a consumer waiting at the end."""
    topic = settings.topic("bench-auth-baseline")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=0, acks="all")
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, fetch_max_wait_ms=5)
    await producer.start()
    await consumer.start()
    await producer.send_and_wait(topic, b"warm-up")
    waiting: dict[bytes, asyncio.Future] = {}
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_end(tp)
        await consumer.position(tp)

        async def follow() -> None:
            while True:
                for messages in (await consumer.getmany(timeout_ms=100)).values():
                    for message in messages:
                        future = waiting.pop(message.key, None)
                        if future is not None and not future.done():
                            future.set_result(None)

        follower = asyncio.create_task(follow())

        async def trip(n: int) -> None:
            key = f"{n}".encode()
            arrived = waiting[key] = asyncio.get_running_loop().create_future()
            await producer.send_and_wait(topic, b"x", key=key, partition=0)
            await arrived

        latencies = await _paced(rate, seconds, trip)
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        return latencies
    finally:
        await consumer.stop()
        await producer.stop()


async def _burst(base: str, token: str, count: int, prefix: str = "burst") -> float:
    """`count` questions at once (each a new call of a rich caller); answers a second."""
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    tag = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600,
                                 limits=limits) as client:
        started = time.perf_counter()
        semaphore = asyncio.Semaphore(128)

        async def ask(n: int) -> None:
            async with semaphore:
                for _ in range(3):  # a kept-alive connection the server closed meanwhile: ask again
                    try:
                        answer = await client.post("/v1/authorize", json={
                            "server_id": "bench", "call_id": f"{prefix}-{tag}-{n}", "account": f"ba{n % CALLERS}",
                            "dst": DST})
                        answer.raise_for_status()
                        return
                    except httpx.TransportError:
                        continue

        await asyncio.gather(*(ask(n) for n in range(count)))
        return count / (time.perf_counter() - started)


def _figures(latencies: list[float]) -> tuple:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return len(ordered), f"{statistics.median(ordered):.1f}", f"{p99:.1f}", f"{ordered[-1]:.1f}"


def _rss_mib(worker: WorkerProcess) -> float:
    with open(f"/proc/{worker.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _drop_database(settings: Settings) -> None:
    from pipeline.sinks.clickhouse import connect

    connect(settings, database="default").execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")

