"""`bench-alerts`: CDRs/s through the alert agents with 1,000 alert definitions, beside an empty Faust
agent (devkit/bench_empty_faust.py) reading the same number of records in the same run; then the
delay from the CDR that crosses a threshold to its `fired` event on `alerts` (p50/p99).

The records go straight onto cdr.rated (the alerts' input; rating is measured by bench-stream).
When are they all through? Sentinels: after the load, one call per (cdr.rated partition,
alerts.observations partition) pair for an alert that fires at its first call. Each partition is
read in order by the router and by the window agent, so once every sentinel has fired, every record
before it has been counted.
"""
from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import click
import orjson
from aiokafka.partitioner import DefaultPartitioner

from pipeline.schemas.alerts import CALL_METRICS, WINDOW_SIZES
from pipeline.settings import Settings

USERS = 1000


def reference(users: int, sentinels: list[str], latency: int) -> list[dict]:
    records = [{"kind": "account", "id": "br", "type": "reseller"}]
    records += [{"kind": "account", "id": f"bu{i}", "type": "user", "parent": "br"} for i in range(users)]
    metrics = sorted(CALL_METRICS)
    for i in range(users):  # one alert per user, every metric and window, never crossed
        records.append({"kind": "alert", "id": f"b{i}", "scope": {"type": "account", "id": f"bu{i}"},
                        "metric": metrics[i % len(metrics)], "window_seconds": WINDOW_SIZES[i % len(WINDOW_SIZES)],
                        "op": ">", "threshold": "100" if metrics[i % len(metrics)] in ("asr", "short_call_ratio")
                        else "999999999"})
    for name in sentinels + [f"lu{i}" for i in range(latency)]:
        records.append({"kind": "account", "id": name, "type": "user", "parent": "br"})
        records.append({"kind": "alert", "id": f"a-{name}", "scope": {"type": "account", "id": name},
                        "metric": "calls", "window_seconds": 60, "op": ">", "threshold": "0"})
    return records


def rated(n: int, account: str) -> bytes:
    return orjson.dumps({"server_id": "bench", "call_id": f"c{n}", "account": account, "reseller": "br",
                         "provider": "p1", "dst": "37060000001", "billsec": n % 90, "user_price": "0.5",
                         "reseller_price": "0.3", "provider_price": "0.1", "start_time": int(time.time() * 1000)})


def sentinel_names(partitions: int) -> list[tuple[int, str]]:
    """(cdr.rated partition, account) for every pair of partitions: the account's alert key lands on
    each alerts.observations partition, its call on each cdr.rated partition."""
    partitioner, found, names = DefaultPartitioner(), {}, []
    candidate = 0
    while len(found) < partitions:
        name = f"s{candidate}"
        part = partitioner(f"a-{name}/{name}".encode(), list(range(partitions)), list(range(partitions)))
        found.setdefault(part, name)
        candidate += 1
    for rated_partition in range(partitions):
        for observation_partition in range(partitions):
            names.append((rated_partition, f"{found[observation_partition]}x{rated_partition}"))
    return names


async def _produce(settings: Settings, topic: str, items: list[tuple[int | None, bytes, bytes]]) -> None:
    from pipeline.kafka.clients import KafkaClients

    producer = KafkaClients(settings).producer(linger_ms=20)
    await producer.start()
    try:
        futures = [await producer.send(settings.topic(topic), value, key=key, partition=partition)
                   for partition, key, value in items]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _wait_fired(settings: Settings, alert_ids: set[str], timeout: float) -> dict:
    """alert id -> wall time its fired event was read; waits for all of them."""
    from pipeline.kafka.clients import KafkaClients
    from pipeline.kafka.topic_read import topic_partitions

    reader = KafkaClients(settings).reader(fetch_max_wait_ms=10)
    await reader.start()
    seen: dict[str, float] = {}
    try:
        parts = await topic_partitions(reader, settings.topic("alerts"))
        reader.assign(parts)
        await reader.seek_to_beginning(*parts)
        deadline = time.monotonic() + timeout
        while alert_ids - seen.keys() and time.monotonic() < deadline:
            for messages in (await reader.getmany(timeout_ms=50)).values():
                for message in messages:
                    event = orjson.loads(message.value)
                    if event["state"] == "fired" and event["alert"] in alert_ids:
                        seen.setdefault(event["alert"], time.time())
    finally:
        await reader.stop()
    return seen


def run(settings: Settings, cdrs: int, latency: int) -> dict:
    from devkit.bench_stream import empty_faust_agent
    from devkit.worker_process import WorkerProcess
    from pipeline.agents.app import READY
    from pipeline.kafka.admin import ensure_topics
    from pipeline.reference.publish import apply_files

    sentinels = sentinel_names(settings.partitions)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "alerts.json"
        path.write_bytes(orjson.dumps(reference(USERS, [name for _, name in sentinels], latency)))
        asyncio.run(ensure_topics(settings))
        asyncio.run(apply_files(settings, [str(path)]))
    load = [(None, f"c{n}".encode(), rated(n, f"bu{n % USERS}")) for n in range(cdrs)]
    asyncio.run(_produce(settings, "cdr.raw", load))  # the empty agent's input: the same records
    baseline = empty_faust_agent(settings, cdrs)

    asyncio.run(_produce(settings, "cdr.rated", load))
    process = WorkerProcess(settings, settings.local_dir / "logs" / "bench-alerts.log", args=("alerts", "-l", "info"))
    started = time.monotonic()
    process.start()
    try:
        process.wait_until_logged(READY, timeout=180)
        ready = time.monotonic()
        asyncio.run(_produce(settings, "cdr.rated", [(p, f"s{n}".encode(), rated(cdrs + n, name))
                                                     for n, (p, name) in enumerate(sentinels)]))
        fired = asyncio.run(_wait_fired(settings, {f"a-{name}" for _, name in sentinels}, 900))
        if len(fired) < len(sentinels):
            raise click.ClickException(f"not every sentinel fired:\n{process.log_tail()}")
        through = time.monotonic() - ready
        delays = asyncio.run(_latency(settings, latency))
    finally:
        process.stop()
    return {"cdrs": cdrs, "alerts": USERS + len(sentinels) + latency, "alerts_cdrs_per_s": cdrs / through,
            "empty_faust_per_s": baseline, "start_s": ready - started,
            "fired_p50_ms": statistics.median(delays) * 1000,
            "fired_p99_ms": sorted(delays)[max(0, int(len(delays) * 0.99) - 1)] * 1000}


async def _latency(settings: Settings, count: int) -> list[float]:
    """One crossing CDR every 50 ms; delay = its fired event read - its send."""
    from pipeline.kafka.clients import KafkaClients

    sent: dict[str, float] = {}
    watcher = asyncio.ensure_future(_wait_fired(settings, {f"a-lu{i}" for i in range(count)}, 120))
    producer = KafkaClients(settings).producer(linger_ms=0)
    await producer.start()
    try:
        await asyncio.sleep(1.0)  # the reader is at the end of `alerts`
        for i in range(count):
            sent[f"a-lu{i}"] = time.time()
            await producer.send_and_wait(settings.topic("cdr.rated"), rated(10**9 + i, f"lu{i}"), key=f"l{i}".encode())
            await asyncio.sleep(0.05)
    finally:
        await producer.stop()
    fired = await watcher
    return [fired[k] - sent[k] for k in fired]


@click.command("bench-alerts", help="CDRs/s through the alert agents (1,000 alerts) beside an empty Faust agent, "
                                    "and the delay from a crossing CDR to its fired event.")
@click.option("--cdrs", default=30_000, show_default=True)
@click.option("--latency-samples", default=100, show_default=True)
def bench_alerts(cdrs: int, latency_samples: int) -> None:
    base = Settings()
    settings = base.model_copy(update={"topic_prefix": f"bench-alerts-{uuid.uuid4().hex[:6]}-", "partitions": 2,
                                       "local_dir": Path(tempfile.mkdtemp(prefix="bench-alerts-"))})
    figures = run(settings, cdrs, latency_samples)
    click.echo(f"alert agents: {figures['alerts_cdrs_per_s']:,.0f} CDRs/s with {figures['alerts']} alerts "
               f"({figures['cdrs']} CDRs; empty Faust agent: {figures['empty_faust_per_s']:,.0f}/s)")
    click.echo(f"crossing CDR -> fired: p50 {figures['fired_p50_ms']:.0f} ms, p99 {figures['fired_p99_ms']:.0f} ms "
               f"(start to ready {figures['start_s']:.1f} s)")
