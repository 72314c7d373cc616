"""`bench-stream`: CDRs/s through the rating stage, beside (a) an empty Faust agent, (b) raw
aiokafka and (c) raw librdkafka consume -> produce, all reading the same CDRs from the same
broker in the same run.
Each contender is timed from its first output to its last, so start-up is not counted."""
from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from devkit.sample_cdrs import good_cdr
from devkit.worker_process import WorkerProcess, settings_env
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.reference.publish import apply_files
from pipeline.settings import REPO_ROOT, Settings

SAMPLES = [str(REPO_ROOT / "samples" / name) for name in ("operator.json", "resellers.json")]


async def seed(settings: Settings) -> None:
    """The topics and the sample reference data (bench-stream, bench-scale)."""
    await ensure_topics(settings)
    await apply_files(settings, SAMPLES)


def cdr_messages(cdrs: int, run: str = "bench"):
    """(key, value) of `cdrs` sample CDRs keyed by their call ids `<run>-<n>` (a rejection keeps
    the key): the same calls in every run."""
    rng = random.Random(1)
    return ((f"{run}-{n}".encode(), orjson.dumps(good_cdr(run, n, rng))) for n in range(cdrs))


def prepare(settings: Settings, cdrs: int) -> float:
    """Topics, the sample reference data and `cdrs` sample CDRs on cdr.raw; the producer's rate."""
    asyncio.run(seed(settings))
    started = time.monotonic()
    asyncio.run(produce_all(settings, "cdr.raw", cdr_messages(cdrs), linger_ms=20))
    return cdrs / (time.monotonic() - started)


def run(settings: Settings, cdrs: int, with_before: bool = True) -> dict[str, float]:
    settings = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}bench-{int(time.time())}-"})
    say = lambda text: click.echo(f"[bench-stream] {text}")  # noqa: E731
    say(f"topics {settings.topic_prefix}*, {settings.partitions} partitions; producing {cdrs} CDRs")
    produced = prepare(settings, cdrs)

    results: dict[str, float] = {}
    say("(b) raw aiokafka consume -> produce ...")
    results["(b) raw aiokafka consume -> produce"] = asyncio.run(raw_passthrough(settings, cdrs))
    say("(c) raw librdkafka consume -> produce ...")
    results["(c) raw librdkafka consume -> produce"] = raw_rdkafka_passthrough(settings, cdrs)
    say("(a) empty Faust agent, take_events() ...")
    results["(a) empty Faust agent, take_events()"] = empty_faust_agent(settings, cdrs)
    say("rating stage (worker with role rate only) ...")
    results["rating stage (worker, role rate)"] = rating_worker(settings, cdrs, "rate-only", {"rate"})
    say("whole worker (rate + charge + balance + guard + ClickHouse), end to end ...")
    from devkit.bench_scale import whole_pipeline

    whole = whole_pipeline(settings, cdrs)  # the same CDRs, on topics of its own
    results["whole worker, all roles (rated output)"] = whole.per_s(whole.rated_s)
    results["whole worker, end to end (charged, in CH)"] = whole.cdr_per_s
    if with_before:
        say("the same whole worker as before the hot-path work (aiokafka, rows in a thread) ...")
        before = whole_pipeline(settings.model_copy(update={"kafka_client": "aiokafka", "sink_rows_process": False}),
                                cdrs)
        results["  before: aiokafka, rows in a thread"] = before.cdr_per_s

    click.echo(f"\nproducer (aiokafka, batched): {produced:,.0f} CDR/s\n")
    click.echo(f"{'pipeline':<42} {'CDR/s':>10} {'vs (a)':>8} {'vs (b)':>8} {'vs (c)':>8}")
    click.echo("-" * 80)
    empty = results["(a) empty Faust agent, take_events()"]
    raw = results["(b) raw aiokafka consume -> produce"]
    raw_rd = results["(c) raw librdkafka consume -> produce"]
    for name, rate in results.items():
        click.echo(f"{name:<42} {rate:>10,.0f} {rate / empty:>8.0%} {rate / raw:>8.0%} {rate / raw_rd:>8.0%}")
    click.echo(f"\nwhole worker: worker CPU {whole.worker_us_per_cdr:,.0f} us per CDR (all its threads and its rows "
               f"process: ~{1e6 / max(whole.worker_us_per_cdr, 1):,.0f} CDR/s per core it gets); end to end = every CDR's charges applied to "
               f"the balances and every call in ClickHouse, from the moment the ready worker could read them")
    click.echo(f"targets: rating stage >= 10,000 CDR/s and >= 60% of (a); whole worker >= 10,000 CDR/s; "
               f"{cdrs} CDRs, same broker, same run")
    return results


async def raw_passthrough(settings: Settings, cdrs: int) -> float:
    consumer = AIOKafkaConsumer(
        settings.topic("cdr.raw"), bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{settings.app_id}-raw-baseline", auto_offset_reset="earliest", enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    out, seen, first = settings.topic("bench.passthrough"), 0, None
    try:
        while seen < cdrs:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            first = first or (time.monotonic() if batches else None)
            for messages in batches.values():
                for message in messages:
                    await producer.send(out, message.value, key=message.key)
                seen += len(messages)
            await producer.flush()  # as at-least-once demands: outputs durable before the commit
            await consumer.commit()
        return seen / (time.monotonic() - first)
    finally:
        await consumer.stop()
        await producer.stop()


def raw_rdkafka_passthrough(settings: Settings, cdrs: int) -> float:
    """(c): (b) on librdkafka, the stages' client: the floor of what a stage's Kafka side costs."""
    from confluent_kafka import Consumer, Producer

    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"{settings.app_id}-raw-rd",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 5,
                         "enable.idempotence": True, "acks": "all"})
    consumer.subscribe([settings.topic("cdr.raw")])
    out, seen, first = settings.topic("bench.passthrough.rd"), 0, None
    try:
        while seen < cdrs:
            messages = [m for m in consumer.consume(5000, 0.5) if m.error() is None]
            first = first or (time.monotonic() if messages else None)
            for message in messages:
                producer.produce(out, message.value(), message.key())
            seen += len(messages)
            producer.flush()  # as at-least-once demands: outputs durable before the commit
            if messages:
                consumer.commit(asynchronous=False)
        return seen / (time.monotonic() - first)
    finally:
        consumer.close()


def empty_faust_agent(settings: Settings, cdrs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        env = settings_env(settings) | {"BENCH_EVENTS": str(cdrs), "BENCH_RESULT": str(result)}
        process = subprocess.Popen(
            [sys.executable, "-m", "devkit.bench_empty_faust", "worker", "--without-web", "-l", "warn"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 600
            while not result.exists() and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.2)
            data = orjson.loads(result.read_bytes())
        finally:
            process.terminate()
            process.wait(30)
    return data["events"] / data["seconds"]


def rating_worker(settings: Settings, cdrs: int, name: str, roles: set[str]) -> float:
    worker_settings = settings.model_copy(update={"roles": frozenset(roles)})
    worker = WorkerProcess(worker_settings, settings.local_dir / "logs" / f"bench-{name}.log").start()
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            count = asyncio.run(_outputs(settings))
            click.echo(f"\r    {count}/{cdrs} out", nl=False)
            if count >= cdrs:
                break
            if not worker.alive():
                raise click.ClickException(f"worker died:\n{worker.log_tail()}")
            time.sleep(1)
        click.echo()
    finally:
        worker.stop()
    # from the first output to the last, by the broker's timestamps: start-up is not counted
    stamps = [m.timestamp for t in ("cdr.rated", "cdr.rejected") for m in asyncio.run(read_all(settings, t))]
    return len(stamps) / max((max(stamps) - min(stamps)) / 1000, 1e-3)


async def _outputs(settings: Settings) -> int:
    from pipeline.kafka.topic_io import count_messages

    return await count_messages(settings, "cdr.rated") + await count_messages(settings, "cdr.rejected")
