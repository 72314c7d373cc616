"""`bench-state`: the charge stage's dedup state at scale, on disk (RocksDB) beside the in-memory
dict kept before RocksDB, in the same run and from the same changelog.

1. writes N charged-call records (the keys and values ChargeCalls writes) to a scratch
   `state.charged_calls` changelog on the local broker;
2. first start with RocksDB: an empty disk, the whole changelog read into RocksDB;
3. restart with RocksDB: what a worker does after a stop or a crash, the state is on disk and
   only the changelog's tail is read;
4. the in-memory dict kept before RocksDB: every start reads the whole changelog into a dict.
Each of 2-4 runs in a child process of its own, so its peak RSS is its own.
"""
from __future__ import annotations

import asyncio
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
from aiokafka import TopicPartition
from aiokafka.admin import NewTopic

from devkit.scratch import delete_topics_with_prefix
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topic_read import read_to_end
from pipeline.kafka.topics import COMPACTED
from pipeline.runtime.state import Store
from pipeline.settings import Settings

DAYS = 60


def _key(n: int, day0: datetime) -> bytes:
    day = (day0 + timedelta(days=n % DAYS)).strftime("%Y%m%d")
    return f"{day}|ast{n % 7}/call-{n:012d}-{uuid.UUID(int=n).hex[:12]}".encode()


async def write_changelog(settings: Settings, topic: str, calls: int, progress) -> float:
    clients = KafkaClients(settings)
    admin = clients.admin()
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, settings.partitions, settings.replication_factor, topic_configs=COMPACTED)])
    finally:
        await admin.close()
    producer = clients.producer(linger_ms=20)
    await producer.start()
    day0 = datetime.now(timezone.utc) - timedelta(days=DAYS)
    started = time.monotonic()
    try:
        batches = {p: producer.create_batch() for p in range(settings.partitions)}
        pending = []
        for n in range(calls):
            partition = n % settings.partitions
            record = dict(key=_key(n, day0), value=f"{partition}:{n}".encode(), timestamp=None)
            if batches[partition].append(**record) is None:
                pending.append(await producer.send_batch(batches[partition], topic, partition=partition))
                batches[partition] = producer.create_batch()
                batches[partition].append(**record)
            if len(pending) >= 200:
                await asyncio.gather(*pending)
                pending = []
            if n % 500_000 == 0 and n:
                progress(n)
        for partition, batch in batches.items():
            pending.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.monotonic() - started


async def _load_rocksdb(settings: Settings, topic: str, directory: Path) -> dict:
    started = time.monotonic()
    clients = KafkaClients(settings)
    reader = clients.reader()
    await reader.start()
    store = Store("charged_calls", topic, directory)
    try:
        records = await store.restore(list(range(settings.partitions)), reader)
        seconds = time.monotonic() - started
        probe = store.partition(0).get(_key(0, datetime.now(timezone.utc) - timedelta(days=DAYS)))
    finally:
        store.close()
        await reader.stop()
    return {"seconds": seconds, "records_read": records, "found": probe is not None}


async def _load_dict(settings: Settings, topic: str) -> dict:
    started = time.monotonic()
    reader = KafkaClients(settings).reader()
    await reader.start()
    data: dict[int, dict[bytes, bytes]] = {p: {} for p in range(settings.partitions)}
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        reader.assign(tps)

        def apply(message) -> None:
            data[message.partition][message.key] = message.value

        await read_to_end(reader, tps, apply)
    finally:
        await reader.stop()
    return {"seconds": time.monotonic() - started, "records_read": sum(map(len, data.values())), "found": True}


def child(mode: str, topic: str, directory: str) -> None:
    """Runs in its own process; prints one JSON line with its figures and its peak RSS."""
    settings = Settings()
    if mode == "rocksdb":
        figures = asyncio.run(_load_rocksdb(settings, topic, Path(directory)))
    else:
        figures = asyncio.run(_load_dict(settings, topic))
    figures["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def _run_child(settings_env: dict, mode: str, topic: str, directory: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "devkit.bench_state", mode, topic, str(directory)],
                          env=settings_env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def run(settings: Settings, calls: int) -> list[tuple]:
    from devkit.worker_process import settings_env

    settings = settings.model_copy(update={"topic_prefix": f"bench-state-{uuid.uuid4().hex[:6]}-"})
    env = settings_env(settings)
    topic = settings.topic("state.charged_calls")
    workdir = Path(tempfile.mkdtemp(prefix="bench-state-"))
    try:
        click.echo(f"writing {calls:,} charged calls to {topic} ...")
        seconds = asyncio.run(write_changelog(settings, topic, calls, lambda n: click.echo(f"  {n:,} written")))
        click.echo(f"  {calls:,} in {seconds:.1f} s")
        click.echo("first start, RocksDB (empty disk: the whole changelog) ...")
        first = _run_child(env, "rocksdb", topic, workdir / "state")
        click.echo("restart, RocksDB (state on disk: the tail only) ...")
        restart = _run_child(env, "rocksdb", topic, workdir / "state")
        click.echo("every start, in-memory dict (the whole changelog) ...")
        in_memory = _run_child(env, "dict", topic, workdir / "state")
        disk = _disk_mb(workdir / "state")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        asyncio.run(delete_topics_with_prefix(settings))
    rows = [
        ("RocksDB, first start", f"{first['records_read']:,}", f"{first['seconds']:.1f}", f"{first['rss_mb']:.0f}", f"{disk:.0f}"),
        ("RocksDB, restart (target < 10 s, < 300 MB)", f"{restart['records_read']:,}", f"{restart['seconds']:.2f}",
         f"{restart['rss_mb']:.0f}", f"{disk:.0f}"),
        ("in-memory dict, every start (baseline)", f"{in_memory['records_read']:,}", f"{in_memory['seconds']:.1f}",
         f"{in_memory['rss_mb']:.0f}", "0"),
    ]
    header = ("state of charge_calls", "changelog records read", "to ready (s)", "peak RSS (MB)", "disk (MB)")
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    click.echo()
    for row in (header, tuple("-" * w for w in widths), *rows):
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    return rows


if __name__ == "__main__":
    child(*sys.argv[1:4])
