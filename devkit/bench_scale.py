"""`bench-scale`: the whole pipeline with 1, 2, 4 ... worker processes in one consumer
group, beside raw aiokafka consumer processes in one group (the ceiling); the pause in output when
a worker joins or leaves under load; and a profile of one worker.

How a run is timed, start-up never counted:
- the CDRs are produced before anything reads them, inside one Kafka transaction left open (the
  gate). Every stage and every raw consumer reads `read_committed`, so none sees a CDR until the
  gate commits. The N workers start, join their groups and answer /ready (the raw consumers: hold
  their partitions paused); then the gate opens and the clock starts.
- done, three ways: `rated` = the newest record on cdr.rated/cdr.rejected (the worker's
  timestamps); `balances` = the newest balance.updates record, once the rate, charge and balance
  stages' groups have committed all their input (every CDR's charges applied to the ledgers);
  `ClickHouse` = the sink's group has committed all of cdr.rated (rows are inserted before the
  commit; seen by polling every POLL seconds). The pipeline figure is the later of the last two.
- every run has its own topics, groups, state and ClickHouse rows, and checks that each CDR was
  counted once: distinct call ids on cdr.rated + cdr.rejected and in ClickHouse equal the input,
  and every balance equals the sum of its distinct calls' prices.
"""
from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

import click
import orjson
from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener

from devkit.bench_stream import cdr_messages, seed
from devkit.scratch import delete_topics_with_prefix
from devkit.worker_process import WorkerProcess
from pipeline.balances.charges import charges_for
from pipeline.control_topic import current_balances
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topic_io import read_all
from pipeline.kafka.topic_read import topic_partitions
from pipeline.schemas import wire
from pipeline.settings import REPO_ROOT, Settings
from pipeline.worker import ALL_JOINED

RAW_PASSES = 5  # the raw consumers read the topic this often: one pass takes a fraction of a second
POLL = 0.2  # seconds between looks at the groups' committed offsets
GATE_TIMEOUT_MS = 600_000  # the gate's transaction may stay open this long (workers starting)
READY_AT = re.compile(rb"readiness on http://([^/:]+):(\d+)/")
PROFILE_HZ = 40  # py-spy --native stops the worker for each sample: fewer samples, less slow-down
STALL = 180.0  # seconds without progress before a run is given up
SETTLE_AFTER_KILL = 10.0  # the groups' session timeout (pipeline/runtime/clients.py): a killed member's partitions wait that long


def say(text: str) -> None:
    click.echo(f"[bench-scale] {text}")


# --- one run: N workers, CDRs behind the gate --------------------------------------------------

@dataclass
class PipelineRun:
    workers: int
    cdrs: int
    rated_s: float  # from the gate opening to the newest rated record
    balances_s: float  # ... to every charge applied to the ledgers
    clickhouse_s: float  # ... to every rated call inserted into ClickHouse
    ready_s: float  # worker start-up, not counted
    distinct_out: int  # distinct call ids on cdr.rated + cdr.rejected
    rejected: int
    distinct_clickhouse: int
    balances_exact: bool
    cores: dict[str, float] = field(default_factory=dict)  # CpuMeter.stop() from the gate to done
    retried: list[str] = field(default_factory=list)  # the workers' retried failures (disturbances)

    @property
    def worker_us_per_cdr(self) -> float:
        """Worker CPU per CDR, all stages (microseconds)."""
        return self.cores.get("workers", 0.0) * self.seconds / self.cdrs * 1e6

    @property
    def seconds(self) -> float:
        return max(self.balances_s, self.clickhouse_s)

    @property
    def cdr_per_s(self) -> float:
        return self.cdrs / self.seconds

    def per_s(self, seconds: float) -> float:
        return self.cdrs / max(seconds, 1e-3)


class Gate:
    """CDRs on cdr.raw inside one open transaction: invisible to read_committed consumers until
    `open()` commits it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, transactional_id=f"{settings.app_id}-bench-gate",
            transaction_timeout_ms=GATE_TIMEOUT_MS, linger_ms=20, acks="all", enable_idempotence=True,
        )
        self.opened: float | None = None

    async def fill(self, messages) -> int:
        await self.producer.start()
        await self.producer.begin_transaction()
        topic, count = self.settings.topic("cdr.raw"), 0
        for key, value in messages:
            await self.producer.send(topic, value, key=key)
            count += 1
        await self.producer.flush()
        return count

    async def open(self) -> float:
        """Commit: the clock starts now (just before the commit's round trip)."""
        self.opened = time.time()
        await self.producer.commit_transaction()
        await self.producer.stop()
        return self.opened

    async def close(self) -> None:
        if self.opened is None:
            try:
                await self.producer.abort_transaction()
            except Exception:  # noqa: BLE001 - never started, or the broker is gone: nothing to abort
                pass
            await self.producer.stop()


class CpuMeter:
    """CPU seconds of the workers, the local broker and ClickHouse (their pid files under
    RATING_LOCAL_DIR/run), this command and the whole machine, between `start()` and `stop()`:
    whether a run was CPU-bound, where the cores went, and how much others took meanwhile."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, settings: Settings, workers: list[WorkerProcess]) -> None:
        self.pids = {"workers": [w.process.pid for w in workers], "broker": _pid_file(settings, "kafka"),
                     "ClickHouse": _pid_file(settings, "clickhouse"), "this command": [os.getpid()]}
        self.first: dict[str, float] = {}
        self.started = 0.0

    def start(self) -> None:
        self.first, self.started = self._sample(), time.monotonic()

    def stop(self) -> dict[str, float]:
        """Cores used on average, per part, `machine` (all of it) and `others` (the rest)."""
        last, wall = self._sample(), max(time.monotonic() - self.started, 1e-3)
        used = {name: (last[name] - self.first.get(name, 0.0)) / wall for name in last}
        used["others"] = max(0.0, used["machine"] - sum(v for k, v in used.items() if k != "machine"))
        return used

    def _sample(self) -> dict[str, float]:
        # a worker's children (the sink's rows process) are the worker's
        pids = {name: _with_descendants(found) if name == "workers" else found for name, found in self.pids.items()}
        sample = {name: sum(map(self._process_seconds, found)) for name, found in pids.items()}
        with open("/proc/stat") as stat:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, stat.readline().split()[1:9])
        sample["machine"] = (user + nice + system + irq + softirq + steal) / self.TICK
        return sample

    def _process_seconds(self, pid: int) -> float:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:  # gone: counted up to its last sample
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self.TICK  # utime + stime, every thread


def _with_descendants(pids: list[int]) -> list[int]:
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as children:
                todo.extend(int(child) for child in children.read().split())
        except OSError:
            pass
    return found


def _pid_file(settings: Settings, name: str) -> list[int]:
    try:
        return [int((settings.local_dir / "run" / f"{name}.pid").read_text().strip())]
    except (OSError, ValueError):
        return []


def log_sizes(workers: list[WorkerProcess]) -> list[int]:
    return [w.log_path.stat().st_size if w.log_path.exists() else 0 for w in workers]


def disturbances(workers: list[WorkerProcess], since: list[int]) -> list[str]:
    """Failures the workers retried after their logs had `since` bytes (ClickHouse or the broker
    restarted by someone else, a rebalance that went wrong): a run with any is not a clean figure."""
    lines = []
    for worker, offset in zip(workers, since):
        with open(worker.log_path, "rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        lines += [line.split("] ", 3)[-1].strip() for line in text.splitlines() if "retrying" in line]
    return lines


def run_settings(base: Settings, name: str) -> Settings:
    """A run's own topics, groups, changelogs and state directory under the bench's prefix."""
    return base.model_copy(update={"topic_prefix": f"{base.topic_prefix}{name}-"})


def start_workers(settings: Settings, count: int, name: str) -> list[WorkerProcess]:
    logs = settings.local_dir / "logs"
    return [WorkerProcess(settings, logs / f"bench-scale-{settings.topic_prefix}{name}{n}.log").start()
            for n in range(count)]


async def until_ready(worker: WorkerProcess, timeout: float = 300.0) -> None:
    """Every stage in its group (ALL_JOINED) and /ready answering 200 (reference data loaded)."""
    deadline = time.monotonic() + timeout
    while True:
        if not worker.alive():
            raise click.ClickException(f"a worker exited ({worker.process.returncode}):\n{worker.log_tail()}")
        text = worker.log_path.read_bytes() if worker.log_path.exists() else b""
        address = READY_AT.search(text)
        if ALL_JOINED.encode() in text and address and await asyncio.to_thread(_answers_ready, *address.groups()):
            return
        if time.monotonic() > deadline:
            raise click.ClickException(f"a worker was not ready after {timeout:.0f} s:\n{worker.log_tail()}")
        await asyncio.sleep(0.25)


async def settled(workers: list[WorkerProcess], quiet: float = 1.0, timeout: float = 30.0) -> None:
    """After /ready a worker still restores the state of the partitions it was given and its guard
    takes over, each with a log line; wait until no worker's log grew for `quiet` seconds."""
    sizes, since, deadline = None, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = log_sizes(workers)
        if now != sizes:
            sizes, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        await asyncio.sleep(0.1)


def _answers_ready(host: bytes, port: bytes) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host.decode()}:{port.decode()}/ready", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def stop_all(workers: list[WorkerProcess]) -> None:
    for worker in workers:
        if worker.alive():
            worker.process.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.stop()  # waits for the SIGTERM above; SIGKILL after 30 s


class Groups:
    """The stages' committed offsets against their inputs' ends (what is done, not what is read)."""

    def __init__(self, settings: Settings) -> None:
        from pipeline.stages.apply_balances import ApplyBalances
        from pipeline.stages.charge_calls import ChargeCalls
        from pipeline.stages.rate_cdrs import RateCdrs
        from pipeline.stages.sink_clickhouse import SinkClickHouse

        self.settings = settings
        self.inputs = {RateCdrs.name: "cdr.raw", ChargeCalls.name: "cdr.rated",
                       ApplyBalances.name: "balance.charges", SinkClickHouse.name: "cdr.rated"}
        self.rate, self.charge, self.balance, self.sink = (
            RateCdrs.name, ChargeCalls.name, ApplyBalances.name, SinkClickHouse.name)
        clients = KafkaClients(settings)
        self.admin, self.reader = clients.admin(), clients.reader()
        self.partitions: dict[str, list] = {}

    async def __aenter__(self) -> Groups:
        await self.admin.start()
        await self.reader.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.reader.stop()
        await self.admin.close()

    async def position(self, stage: str) -> tuple[int, int]:
        """(messages committed by the stage's group, messages in its input) over all partitions."""
        topic = self.inputs[stage]
        if topic not in self.partitions:
            self.partitions[topic] = await topic_partitions(self.reader, self.settings.topic(topic))
        parts = self.partitions[topic]
        committed = await self.admin.list_consumer_group_offsets(f"{self.settings.app_id}-{stage}")
        ends = await self.reader.end_offsets(parts)
        done = sum(max(0, committed[tp].offset) for tp in parts if tp in committed)
        return done, sum(ends.values())


async def follow(settings: Settings, workers: list[WorkerProcess], cdrs: int, opened: float, label: str) -> dict[str, float]:
    """Poll until every CDR is rated, charged to the balances and in ClickHouse; the moment each
    was first seen done (seconds after `opened`)."""
    done: dict[str, float] = {}
    last_line, last_progress, seen = time.monotonic(), time.monotonic(), None
    async with Groups(settings) as groups:
        while len(done) < 3:
            for worker in workers:
                if not worker.alive():
                    raise click.ClickException(f"{label}: a worker died:\n{worker.log_tail()}")
            now = time.time() - opened
            rated, _ = await groups.position(groups.rate)
            charged = balanced = stored = 0
            if rated >= cdrs:
                done.setdefault("rated", now)
                charged, rated_end = await groups.position(groups.charge)
                if charged >= rated_end:
                    balanced, charges = await groups.position(groups.balance)
                    if balanced >= charges:
                        done.setdefault("balances", now)
                stored, rated_end = await groups.position(groups.sink)
                if stored >= rated_end:
                    done.setdefault("clickhouse", now)
            if (rated, charged, balanced, stored) != seen:
                seen, last_progress = (rated, charged, balanced, stored), time.monotonic()
            elif time.monotonic() - last_progress > STALL:
                raise click.ClickException(f"{label}: no progress for {STALL:.0f} s at {seen}")
            if time.monotonic() - last_line >= 3.0:
                last_line = time.monotonic()
                say(f"  {label}: {now:5.1f} s  {rated:,}/{cdrs:,} rated" + (
                    f", {charged:,} charged, {balanced:,} charges applied, {stored:,} in ClickHouse" if rated >= cdrs else ""))
            await asyncio.sleep(POLL)
    return done


async def pipeline_run(base: Settings, workers: int, cdrs: int, profile_to: Path | None = None) -> PipelineRun:
    name = f"w{workers}" if profile_to is None else "profile"
    label = f"{workers} worker{'s' * (workers > 1)}" + (" (profiled)" if profile_to else "")
    settings = run_settings(base, name)
    await seed(settings)
    gate = Gate(settings)
    processes: list[WorkerProcess] = []
    spy = None
    try:
        started = time.monotonic()
        produced = await gate.fill(cdr_messages(cdrs, run=name))
        say(f"{label}: {produced:,} CDRs behind the gate in {time.monotonic() - started:.1f} s; starting the workers")
        started = time.monotonic()
        processes = start_workers(settings, workers, "worker")
        await asyncio.gather(*(until_ready(worker) for worker in processes))
        await settled(processes)
        ready_s = time.monotonic() - started
        if profile_to is not None:
            spy = await start_py_spy(processes[0].process.pid, profile_to)
        say(f"{label}: ready in {ready_s:.1f} s (not counted); gate open")
        meter, marks = CpuMeter(settings, processes), log_sizes(processes)
        meter.start()
        opened = await gate.open()
        polled = await follow(settings, processes, cdrs, opened, label)
        cores = meter.stop()
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file and exits
            await asyncio.to_thread(spy.wait, 60)
    finally:
        await gate.close()
        if spy is not None and spy.poll() is None:
            spy.kill()
        await asyncio.to_thread(stop_all, processes)
    checked = await counted_once(settings, name)
    result = PipelineRun(
        workers=workers, cdrs=cdrs, ready_s=ready_s, cores=cores, retried=disturbances(processes, marks),
        rated_s=checked.pop("newest_rated") - opened,
        balances_s=min(polled["balances"], checked.pop("newest_update") - opened),
        clickhouse_s=polled["clickhouse"], **checked,
    )
    say(f"{label}: rated in {result.rated_s:.1f} s, charges applied in {result.balances_s:.1f} s, in ClickHouse in "
        f"{result.clickhouse_s:.1f} s: {result.cdr_per_s:,.0f} CDR/s; counted once: {result.distinct_out:,} distinct "
        f"calls out ({result.rejected} rejected), {result.distinct_clickhouse:,} in ClickHouse, balances "
        f"{'exact' if result.balances_exact else 'NOT EXACT'}")
    say(f"{label}: cores used meanwhile: " + ", ".join(f"{k} {v:.2f}" for k, v in cores.items())
        + f"; worker CPU {result.worker_us_per_cdr:,.0f} us per CDR")
    if result.retried:
        say(f"{label}: the workers retried {len(result.retried)} failures meanwhile (a restarted ClickHouse or "
            f"broker, or a bug), e.g. {result.retried[0][:160]}")
    return result


async def counted_once(settings: Settings, run: str) -> dict:
    """Each CDR once: distinct call ids out (`<run>-<n>`), in ClickHouse, and every balance to the
    last digit."""
    from pipeline.sinks.clickhouse import connect

    rated = await read_all(settings, "cdr.rated")
    rejected = await read_all(settings, "cdr.rejected")
    records = {m.key: wire.decode("rated_call.v1", m.value) for m in rated}  # one per call
    calls = {record["call_id"] for record in records.values()} | {m.key.decode() for m in rejected}
    client = connect(settings)
    try:
        in_clickhouse = client.execute(
            f"SELECT uniqExact(call_id) FROM {settings.clickhouse_database}.rated_calls WHERE call_id LIKE %(run)s",
            {"run": f"{run}-%"})[0][0]
    finally:
        client.disconnect()
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for record in records.values():
        for account, amount in charges_for(record):
            expected[account] -= amount
    actual = await current_balances(settings)
    updates = await read_all(settings, "balance.updates")
    return {
        "distinct_out": len(calls), "rejected": len({m.key for m in rejected}), "distinct_clickhouse": in_clickhouse,
        "balances_exact": {a: b for a, b in actual.items() if b} == {a: b for a, b in expected.items() if b},
        "newest_rated": max((m.timestamp for m in (*rated, *rejected)), default=0) / 1000,
        "newest_update": max((m.timestamp for m in updates), default=0) / 1000,
    }


# --- the ceiling: raw aiokafka consumers in one group ------------------------------------------

@dataclass
class RawRun:
    consumers: int
    messages: int
    seconds: float

    @property
    def msg_per_s(self) -> float:
        return self.messages / max(self.seconds, 1e-3)


def raw_consumers(settings: Settings, count: int, expected: int) -> RawRun:
    """`count` processes, each a plain AIOKafkaConsumer (the stages' options) in one new group,
    reading cdr.raw to its end RAW_PASSES times; held paused until all of them hold their
    partitions."""
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    group = f"raw-ceiling-{count}-{uuid.uuid4().hex[:6]}"
    pipes, children, finished = [], [], False
    for _ in range(count):
        mine, theirs = context.Pipe()
        child = context.Process(target=_raw_consumer, args=(settings, group, theirs, go), daemon=True)
        child.start()
        pipes.append(mine)
        children.append(child)
    try:
        held: dict[int, list[int]] = {}
        deadline = time.monotonic() + 180
        while not _covers(held, count, settings.partitions):
            for n, pipe in enumerate(pipes):
                while pipe.poll():
                    kind, *data = pipe.recv()
                    if kind == "assigned":
                        held[n] = data[0]
            if time.monotonic() > deadline or any(not child.is_alive() for child in children):
                raise click.ClickException(f"raw consumers never held every partition: {held}")
            time.sleep(0.05)
        opened = time.time()
        go.set()
        counted, newest = 0, opened
        for pipe in pipes:
            while True:
                if not pipe.poll(300):
                    raise click.ClickException("a raw consumer did not finish in 300 s")
                kind, *data = pipe.recv()
                if kind == "done":
                    counted += data[0]
                    newest = max(newest, data[1] or opened)
                    break
        finished = True
    finally:
        for child in children:
            child.join(30 if finished else 0)  # one that never got going waits for a go that will not come
            if child.is_alive():
                child.kill()
    if counted != expected * RAW_PASSES:
        raise click.ClickException(f"raw consumers read {counted} messages, expected {RAW_PASSES} x {expected}")
    return RawRun(count, counted, newest - opened)


def _covers(held: dict[int, list[int]], count: int, partitions: int) -> bool:
    parts = [p for assigned in held.values() for p in assigned]
    return (len(held) == count and sorted(parts) == list(range(partitions))
            and (count > partitions or all(held.values())))


def _raw_consumer(settings: Settings, group: str, pipe, go) -> None:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # a member joining is a routine rebalance
    asyncio.run(_raw_consume(settings, group, pipe, go))


async def _raw_consume(settings: Settings, group: str, pipe, go) -> None:
    consumer = KafkaClients(settings).group_consumer(group, max_poll_records=settings.rate_batch_size,
                                                     large_messages=True)

    class Hold(ConsumerRebalanceListener):
        async def on_partitions_revoked(self, revoked) -> None:
            pass

        async def on_partitions_assigned(self, assigned) -> None:
            if not go.is_set():
                consumer.pause(*assigned)  # nothing fetched before the go
            pipe.send(("assigned", sorted(tp.partition for tp in assigned)))

    consumer.subscribe([settings.topic("cdr.raw")], listener=Hold())
    await consumer.start()
    try:
        while not go.is_set():
            await asyncio.sleep(0.01)
        mine = list(consumer.assignment())
        consumer.resume(*mine)
        ends = await consumer.end_offsets(mine)
        count, newest = 0, None
        for _ in range(RAW_PASSES):
            await consumer.seek_to_beginning(*mine)
            left = {tp for tp, end in ends.items() if end > 0}
            while left:
                batches = await consumer.getmany(timeout_ms=100, max_records=settings.rate_batch_size)
                for messages in batches.values():
                    count += len(messages)
                if batches:
                    newest = time.time()
                left = {tp for tp in left if await consumer.position(tp) < ends[tp]}
        pipe.send(("done", count, newest))
    finally:
        await consumer.stop()


# --- the pause when a worker joins or leaves under load -----------------------------------------

@dataclass
class Pause:
    event: str
    window_s: float
    all_output_gap_s: float  # the longest time no rated record came out at all
    partition_gap_s: float  # the longest time one input partition's CDRs came out of nothing
    worst_delay_s: float  # the longest CDR -> rated record among those rated in the window
    note: str = ""


async def pauses(base: Settings, rate: float, settle: float) -> list[Pause]:
    """Two workers at a steady `rate` CDR/s; a third joins; it leaves (SIGTERM); one of the two
    first is killed (SIGKILL). Gaps in cdr.rated around each event, beside the quiet baseline."""
    settings = run_settings(base, "pause")
    await seed(settings)
    say(f"pauses: 2 workers, {rate:,.0f} CDR/s, events {settle:.0f} s apart")
    first = start_workers(settings, 2, "worker")
    everyone = list(first)
    stop = asyncio.Event()
    feeding = None
    events: list[tuple[str, float, str]] = []
    try:
        await asyncio.gather(*(until_ready(worker) for worker in first))
        await settled(first)
        feeding = asyncio.create_task(steady_feed(settings, rate, stop))
        quiet_from = time.time()
        await asyncio.sleep(settle)

        joined_at = time.time()
        third = start_workers(settings, 1, "joiner")[0]
        everyone.append(third)
        await until_ready(third)
        events.append(("join (3rd worker)", joined_at, f"it joined {time.time() - joined_at:.1f} s after its start"))
        await asyncio.sleep(settle)

        events.append(("leave (SIGTERM)", time.time(), "the 3rd stops, commits and leaves its groups"))
        await asyncio.to_thread(third.stop)
        await asyncio.sleep(settle)

        events.append(("leave (SIGKILL)", time.time(), f"includes the {SETTLE_AFTER_KILL:.0f} s session timeout"))
        first[1].kill()
        await asyncio.sleep(SETTLE_AFTER_KILL + settle)
        ended = time.time()
        stop.set()
        produced = await feeding
        say(f"pauses: {produced:,} CDRs fed; waiting for the last of them")
        await follow(settings, [first[0]], produced, time.time(), "pauses")
    finally:
        stop.set()
        if feeding is not None and not feeding.done():
            feeding.cancel()
        await asyncio.to_thread(stop_all, everyone)
    checked = await counted_once(settings, "pause")
    if (checked["distinct_out"] != produced or checked["distinct_clickhouse"] != produced - checked["rejected"]
            or not checked["balances_exact"]):
        raise click.ClickException(f"pauses: CDRs lost or counted twice: {produced} in, {checked}")
    return measure_pauses(await read_all(settings, "cdr.raw"), await read_all(settings, "cdr.rated"),
                          [("steady (2 workers, no event)", quiet_from + 1.0, ""), *events], ended)


async def steady_feed(settings: Settings, rate: float, stop: asyncio.Event) -> int:
    """`rate` CDRs a second, in 10 ms steps, until told to stop; how many it sent."""
    producer = KafkaClients(settings).producer(linger_ms=5)
    await producer.start()
    messages = cdr_messages(10**9, run="pause")
    sent, started = 0, time.monotonic()
    try:
        while not stop.is_set():
            due = int((time.monotonic() - started) * rate)
            for key, value in (next(messages) for _ in range(due - sent)):
                await producer.send(settings.topic("cdr.raw"), value, key=key)
            sent = max(sent, due)
            await asyncio.sleep(0.01)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


def measure_pauses(raw: list, rated: list, windows: list[tuple[str, float, str]], ended: float) -> list[Pause]:
    """Per window (from its event to the next): the longest gap between consecutive rated records,
    overall and per input partition (by the CDR's cdr.raw partition), and the longest delay from a
    CDR to its first rated record among those rated in the window (a CDR a killed worker held
    counts where it finally came out)."""
    source = {m.key: (m.partition, m.timestamp / 1000) for m in raw}
    first_out: dict[bytes, float] = {}
    by_partition: dict[int, list[float]] = defaultdict(list)
    stamps = []
    for message in rated:
        call = message.key.split(b"/", 1)[-1]
        at = message.timestamp / 1000
        stamps.append(at)
        if call in source:
            by_partition[source[call][0]].append(at)
            first_out[call] = min(first_out.get(call, at), at)
    stamps.sort()
    for times in by_partition.values():
        times.sort()
    results = []
    for n, (event, start, note) in enumerate(windows):
        end = windows[n + 1][1] if n + 1 < len(windows) else ended
        delays = [out - source[call][1] for call, out in first_out.items() if start <= out < end]
        results.append(Pause(
            event=event, window_s=end - start, note=note,
            all_output_gap_s=_longest_gap(stamps, start, end),
            partition_gap_s=max((_longest_gap(t, start, end) for t in by_partition.values()), default=0.0),
            worst_delay_s=max(delays, default=0.0),
        ))
    return results


def _longest_gap(times: list[float], start: float, end: float) -> float:
    """The longest interval between consecutive times whose later end falls in [start, end)."""
    return max((b - a for a, b in zip(times, times[1:]) if start <= b < end), default=0.0)


# --- the profile -------------------------------------------------------------------------------

PIPELINE_FILES = str(REPO_ROOT / "pipeline") + "/"
SOCKET_CALLS = {"send", "recv", "sendmsg", "recvmsg", "sendto", "recvfrom"}
CATEGORIES = (  # a busy sample counts for the first of these that its innermost telling frame is
    ("waiting for the GIL", lambda function, where: function in {"take_gil", "pthread_cond_timedwait", "pthread_cond_wait"}),
    ("socket syscalls (to the broker, ClickHouse)", lambda function, where: function in SOCKET_CALLS and "libc" in where),
    ("JSON (orjson)", lambda function, where: "orjson" in where),
    ("Decimal", lambda function, where: "_decimal" in where or where.endswith("/decimal.py") or "mpdec" in where),
    ("aiokafka", lambda function, where: "/aiokafka/" in where),
    ("RocksDB (rocksdict)", lambda function, where: "rocksdict" in where),
    ("ClickHouse driver", lambda function, where: "/clickhouse_driver/" in where),
    ("Python's garbage collector", lambda function, where: function.startswith("gc_collect")),
    ("pipeline's own Python", lambda function, where: where.startswith(PIPELINE_FILES)),
    ("asyncio, Faust, mode", lambda function, where: any(m in where for m in ("/asyncio/", "/selectors.py", "/faust/", "/mode/"))),
)
# a sample with one of these in its stack is a thread waiting for work: the event loop in epoll,
# a pool thread on its queue, a sleep (py-spy --native counts them as active)
IDLE = ("epoll_wait", "select_epoll_poll", "select_poll_poll", "_queue_SimpleQueue_get", "clock_nanosleep", "Condition.wait (", "sem_timedwait")


async def start_py_spy(pid: int, output: Path) -> subprocess.Popen | None:
    """py-spy recording the worker (native frames too: orjson, Decimal and RocksDB are C/Rust)."""
    if shutil.which("py-spy") is None:
        say("py-spy is not installed (pip install py-spy): no profile")
        return None
    said = output.with_suffix(".log")
    with open(said, "wb") as log:
        spy = subprocess.Popen(
            ["py-spy", "record", "-p", str(pid), "--native", "--threads", "--rate", str(PROFILE_HZ), "--format", "raw",
             "--nolineno", "--full-filenames", "-o", str(output)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while b"Sampling" not in said.read_bytes():  # "Sampling process 100 times a second" once attached
        if spy.poll() is not None or time.monotonic() > deadline:
            say(f"py-spy could not attach: {said.read_text(errors='replace').strip()[-500:]}")
            spy.kill()
            return None
        await asyncio.sleep(0.1)
    return spy


@dataclass
class Profile:
    samples: int  # busy samples, all threads
    loop_busy: float  # share of the event loop thread's samples in which it was not waiting
    other_threads: float  # busy samples of the other threads, in event loops' worth (cores)
    top_self: list[tuple[str, float, float]]  # (function, self share, cumulative share) of busy samples
    shares: dict[str, float]  # of busy samples


def read_profile(path: Path, top: int = 15) -> Profile | None:
    """py-spy's raw output with --threads: `thread (id): name;frame;...;leaf count` lines."""
    if not path.exists():
        return None
    own, seen_in, category = Counter(), Counter(), Counter()
    loop = loop_idle = busy = others = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        thread, *frames = stack.split(";")
        weight, main = int(count), thread.endswith(": MainThread")
        idle = any(m in stack for m in IDLE) or _librdkafka_waiting(stack)
        loop += weight if main else 0
        loop_idle += weight if main and idle else 0
        if idle or not frames:
            continue
        busy += weight
        others += 0 if main else weight
        own[_leaf(frames)] += weight
        for name in {_leaf(frames), *(_short(frame) for frame in frames if not frame.startswith("0x"))}:
            seen_in[name] += weight
        category[_category(frames)] += weight
    if not busy or not loop:
        return None
    return Profile(
        samples=busy, loop_busy=1 - loop_idle / loop, other_threads=others / loop,
        top_self=[(name, weight / busy, seen_in[name] / busy) for name, weight in own.most_common(top)],
        shares={name: category[name] / busy for name, _ in (*CATEGORIES, ("everything else", ()))},
    )


def _librdkafka_waiting(stack: str) -> bool:
    """A thread of the librdkafka clients blocked in C (a consumer's poll, the producer's delivery
    reports), not for the GIL: waiting for the broker, as the event loop in epoll is."""
    return (any(m in stack for m in ("RdConsumer._fetch", "RdProducer._serve_reports", "RdConsumer._call_listener"))
            and "take_gil" not in stack
            and any(w in stack for w in ("pthread_cond_timedwait", "pthread_cond_wait", ";poll (", "epoll_wait")))


def _leaf(frames: list[str]) -> str:
    """The innermost frame; native code without a symbol is named by its library and the frame
    that called into it."""
    if not frames[-1].startswith("0x"):
        return _short(frames[-1])
    library = _short(frames[-1]).partition(" (")[2].rstrip(")")
    caller = next((_short(f) for f in reversed(frames) if not f.startswith("0x")), "?")
    return f"[{library}] under {caller}"


def _category(frames: list[str]) -> str:
    for frame in reversed(frames):
        function, where = _split(frame)
        for name, matches in CATEGORIES:
            if matches(function, where):
                return name
    return "everything else"


def _split(frame: str) -> tuple[str, str]:
    function, _, where = frame.partition(" (")
    return function, where[:-1] if where.endswith(")") else where


def _short(frame: str) -> str:
    """`function (file)`, the file relative to the repository or site-packages, or its base name."""
    function, where = _split(frame)
    if where.startswith(str(REPO_ROOT) + "/"):
        where = where[len(str(REPO_ROOT)) + 1:]
    elif "site-packages/" in where:
        where = where.split("site-packages/", 1)[1]
    elif re.search(r"/lib/python3\.\d+/", where):
        where = re.split(r"/lib/python3\.\d+/", where, maxsplit=1)[1]
    else:
        where = where.rsplit("/", 1)[-1]
    return f"{'(native)' if function.startswith('0x') else function} ({where})"


# --- the whole command --------------------------------------------------------------------------

@dataclass
class Report:
    cdrs: int
    partitions: int
    cores: int
    runs: list[PipelineRun] = field(default_factory=list)
    raw: list[RawRun] = field(default_factory=list)
    pauses: list[Pause] = field(default_factory=list)
    profile: Profile | None = None
    profile_run: PipelineRun | None = None


def run(settings: Settings, workers: list[int], cdrs: int, partitions: int, profile: bool = True,
        with_pauses: bool = True, pause_rate: float = 1000.0, pause_settle: float = 8.0,
        json_path: Path | None = None) -> Report:
    tag = f"{int(time.time())}-{uuid.uuid4().hex[:4]}"
    base, database = scratch(settings, partitions, tag)
    report = Report(cdrs=cdrs, partitions=partitions, cores=os.cpu_count() or 1)
    say(f"topics {base.topic_prefix}*, {partitions} partitions, ClickHouse database {database}; "
        f"{cdrs:,} CDRs per run; workers {', '.join(map(str, workers))}; {report.cores} cores here")
    migrate_scratch(settings, base)
    try:
        for count in workers:
            report.runs.append(asyncio.run(pipeline_run(base, count, cdrs)))
            raw = raw_consumers(run_settings(base, f"w{count}"), count, cdrs)
            report.raw.append(raw)
            say(f"raw aiokafka, {count} consumer process{'es' * (count > 1)}: {raw.msg_per_s:,.0f} msg/s "
                f"({raw.messages:,} = {RAW_PASSES} passes over the topic in {raw.seconds:.2f} s)")
        if with_pauses:
            report.pauses = asyncio.run(pauses(base, pause_rate, pause_settle))
        if profile:
            output = base.local_dir / "logs" / f"bench-scale-{tag}-profile.txt"
            # half the CDRs: py-spy --native stops the worker for each sample, it runs slower
            report.profile_run = asyncio.run(pipeline_run(base, 1, max(1, cdrs // 2), profile_to=output))
            report.profile = read_profile(output)
    finally:
        say("cleaning up: topics, ClickHouse database, worker state")
        cleanup(settings, base, database)
    print_report(report)
    if json_path is not None:
        json_path.write_bytes(orjson.dumps(as_json(report), option=orjson.OPT_INDENT_2))
        say(f"figures written to {json_path}")
    if not counted_once_everywhere(report):
        raise click.ClickException("a run lost CDRs or counted some twice (above)")
    return report


def scratch(settings: Settings, partitions: int, tag: str) -> tuple[Settings, str]:
    """Settings of a benchmark's own topics, groups, state and ClickHouse database."""
    from pipeline.sinks.clickhouse import client_url

    database = f"{settings.clickhouse_database}_scale_{tag.replace('-', '_')}"
    return settings.model_copy(update={
        "topic_prefix": f"{settings.topic_prefix}scale-{tag}-", "partitions": partitions,
        "clickhouse_url": client_url(settings, database),
        "metrics_port": 0,  # several workers on one machine: each its own free port
    }), database


def migrate_scratch(settings: Settings, base: Settings) -> None:
    from pipeline.sinks.migrate import migrate

    try:
        migrate(base)
    except Exception as exc:  # noqa: BLE001 - say what is missing, not a traceback
        raise click.ClickException(f"ClickHouse at {settings.clickhouse_url} refused the scratch database ({exc}); "
                                   "is the local stack up (deploy/local/up)?") from None


def whole_pipeline(settings: Settings, cdrs: int) -> PipelineRun:
    """One worker with every stage, timed from the gate to every charge applied and every call in
    ClickHouse, counted once (bench-stream's whole-worker figure); its scratch is deleted."""
    tag = f"{int(time.time())}-{uuid.uuid4().hex[:4]}"
    base, database = scratch(settings, settings.partitions, tag)
    migrate_scratch(settings, base)
    try:
        result = asyncio.run(pipeline_run(base, 1, cdrs))
    finally:
        cleanup(settings, base, database)
    if not (result.distinct_out == cdrs and result.distinct_clickhouse == cdrs - result.rejected
            and result.balances_exact):
        raise click.ClickException("the whole-worker run lost CDRs or counted some twice (above)")
    return result


def counted_once_everywhere(report: Report) -> bool:
    runs = [*report.runs, *([report.profile_run] if report.profile_run else [])]
    return all(r.distinct_out == r.cdrs and r.distinct_clickhouse == r.cdrs - r.rejected and r.balances_exact
               for r in runs)


def cleanup(settings: Settings, base: Settings, database: str) -> None:
    """Each step on its own: one that fails (ClickHouse restarting) must not hide the others, nor
    the error that ended the run."""
    from pipeline.sinks.clickhouse import connect

    steps = (
        ("topics", lambda: asyncio.run(delete_topics_with_prefix(base))),
        ("ClickHouse database", lambda: connect(settings, database="default").execute(f"DROP DATABASE IF EXISTS {database}")),
    )
    for what, step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - reported, the rest still cleaned
            say(f"could not delete the {what} ({type(exc).__name__}: {exc}); delete {base.topic_prefix}* / {database} by hand")
    for data in (base.local_dir / "worker").glob(f"{base.topic_prefix}*"):
        shutil.rmtree(data, ignore_errors=True)


def print_report(report: Report) -> None:
    echo = click.echo
    echo(f"\n{report.cdrs:,} CDRs, {report.partitions} partitions, one broker, {report.cores} cores shared by the "
         f"broker, ClickHouse, the workers and this command; every run from the gate opening (start-up not counted)\n")
    one = report.runs[0] if report.runs else None
    raw_one = report.raw[0] if report.raw else None
    echo(f"{'workers':>7} | {'pipeline CDR/s':>14} | {'speed-up':>8} | {'rated':>8} | {'to balances':>11} | "
         f"{'to ClickHouse':>13} | {'raw consumer msg/s':>18} | {'speed-up':>8}")
    echo("-" * 108)
    for result, raw in zip(report.runs, report.raw):
        echo(f"{result.workers:>7} | {result.cdr_per_s:>14,.0f} | {result.cdr_per_s / one.cdr_per_s:>7.2f}x | "
             f"{result.per_s(result.rated_s):>8,.0f} | {result.per_s(result.balances_s):>11,.0f} | "
             f"{result.per_s(result.clickhouse_s):>13,.0f} | {raw.msg_per_s:>18,.0f} | {raw.msg_per_s / raw_one.msg_per_s:>7.2f}x")
    echo("pipeline CDR/s: every CDR's charges applied to the balances and every call in ClickHouse (the later); "
         "rated, to balances, to ClickHouse: each alone")
    echo(f"counted once: {'yes' if counted_once_everywhere(report) else 'NO'} in every run (distinct call ids out and in ClickHouse = "
         f"CDRs in; every balance = the sum of its distinct calls' prices)")
    echo("\nwhere the cores went, from the gate to done (average cores busy; 'others' is everything else on the machine):")
    parts = ("workers", "broker", "ClickHouse", "this command", "others", "machine")
    echo(f"{'workers':>7} | " + " | ".join(f"{part:>12}" for part in parts) + " | worker us/CDR | retried failures")
    echo("-" * 125)
    for result in report.runs:
        echo(f"{result.workers:>7} | " + " | ".join(f"{result.cores.get(part, 0):>12.2f}" for part in parts)
             + f" | {result.worker_us_per_cdr:>13,.0f} | "
             + (f"{len(result.retried)}, e.g. {result.retried[0][:60]}" if result.retried else "none"))
    if report.pauses:
        echo("\npause in rated output when a worker joins or leaves (2 workers under steady load; from the event to the next):")
        echo(f"{'event':<30} | {'all output stopped':>18} | {'one partition waited':>20} | {'worst CDR delay':>15} | note")
        echo("-" * 120)
        for pause in report.pauses:
            echo(f"{pause.event:<30} | {pause.all_output_gap_s:>16.2f} s | {pause.partition_gap_s:>18.2f} s | "
                 f"{pause.worst_delay_s:>13.2f} s | {pause.note}")
        echo("all output stopped: the longest time no rated record came out at all; one partition waited: the "
             "longest time the CDRs of one cdr.raw partition\ncame out of nothing (a leaving worker's partitions wait "
             "for their new owner); worst CDR delay: CDR produced -> first rated, among those rated in the window")
    if report.profile is not None:
        profile, sampled = report.profile, report.profile_run
        echo(f"\nprofile: 1 worker under py-spy (--native, {PROFILE_HZ} Hz; {sampled.cdr_per_s:,.0f} CDR/s while sampled, "
             f"{profile.samples:,} busy samples): its event loop was busy {profile.loop_busy:.0%} of the time, "
             f"its other Python threads (the librdkafka clients' polls, thread pools) {profile.other_threads:.2f} "
             f"of a core more; not sampled: librdkafka's own threads (C) and the sink's rows process")
        echo(f"{'self':>6} {'cum':>6}  function (busy samples, all threads)")
        for name, own, cumulative in profile.top_self:
            echo(f"{own:>6.1%} {cumulative:>6.1%}  {name[:110]}")
        echo("where the busy samples are (innermost frame that says): " + ", ".join(
            f"{name} {share:.0%}" for name, share in profile.shares.items()))
    for line in projection(report):
        echo(line)


def projection(report: Report) -> list[str]:
    """The measured curve, why it bends, and what it takes elsewhere: linear in workers with the
    per-worker efficiency measured here, and from the CPU a CDR costs each part."""
    if not report.runs:
        return []
    first = report.runs[0]
    one = first.cdr_per_s / first.workers
    fits = [r for r in report.runs if r.workers <= report.cores] or report.runs[:1]
    best = max(fits, key=lambda r: r.workers)
    efficiency = best.cdr_per_s / best.workers / one
    curve = ", ".join(f"{r.workers} -> {r.cdr_per_s:,.0f} ({r.cdr_per_s / first.cdr_per_s:.2f}x)" for r in report.runs)
    used = first.cores
    lines = [
        f"\nprojection for N cores. Measured here ({report.cores} cores, shared with the broker, ClickHouse and whatever "
        f"else runs): workers -> CDR/s {curve}.",
        "  Why it bends: a worker's stages share one Python process, kept on one core at most by the GIL (its "
        "sink rows process and librdkafka's threads run beside it)"
        + (f"; it is CPU-bound: its event loop never waited for input (busy {report.profile.loop_busy:.0%} of the "
           "profile's samples)" if report.profile else "")
        + f". The lone worker got {used.get('workers', 0):.2f} cores while the machine was busy "
        f"{used.get('machine', 0):.2f} of {report.cores} (broker {used.get('broker', 0):.2f}, ClickHouse "
        f"{used.get('ClickHouse', 0):.2f}, others {used.get('others', 0):.2f}); with {best.workers} workers it was busy "
        f"{best.cores.get('machine', 0):.2f}: the cores ran out, not the partitions or the group. Workers beyond the "
        "cores only share them.",
    ]
    capped = sorted({min(c, report.partitions) for c in (2, 4, 8, 16, 32) if c >= 2})
    lines.append(
        f"  Linear with the per-worker efficiency measured at {best.workers} worker{'s' * (best.workers > 1)} "
        f"({efficiency:.0%} of a lone worker's {one:,.0f} CDR/s), a core per worker, at most a worker per partition "
        f"({report.partitions}): " + ", ".join(f"{w} workers ~{one * efficiency * w:,.0f}" for w in capped) + " CDR/s"
        + (f"; 10,000 CDR/s takes ~{math.ceil(10_000 / (one * efficiency))} workers" if one * efficiency > 0 else "")
        + (" (raise --partitions / RATING_PARTITIONS beyond that)" if one * efficiency * report.partitions < 10_000 else "")
        + ".")
    per_cdr = {name: used.get(name, 0.0) * first.seconds / first.cdrs * 1e6 for name in ("workers", "broker", "ClickHouse")}
    if per_cdr["workers"] > 0:
        lines.append(
            "  From the CPU a CDR cost in the 1-worker run (" + ", ".join(f"{k} {v:,.0f} us" for k, v in per_cdr.items())
            + f"): ~{1e6 / per_cdr['workers']:,.0f} CDR/s per core the workers get; 10,000 CDR/s takes ~"
            + ", ".join(f"{v * 10_000 / 1e6:.1f} cores for the {k}" for k, v in per_cdr.items())
            + f" = {sum(per_cdr.values()) * 10_000 / 1e6:.1f} cores (no contention counted).")
    return lines


def as_json(report: Report) -> dict:
    def run_json(r: PipelineRun) -> dict:
        return {**asdict(r), "cdr_per_s": r.cdr_per_s, "rated_per_s": r.per_s(r.rated_s),
                "balances_per_s": r.per_s(r.balances_s), "clickhouse_per_s": r.per_s(r.clickhouse_s)}

    one = report.runs[0].cdr_per_s if report.runs else None
    raw_one = report.raw[0].msg_per_s if report.raw else None
    return {
        "cdrs": report.cdrs, "partitions": report.partitions, "cores": report.cores,
        "counted_once": counted_once_everywhere(report),
        "runs": [{**run_json(r), "speed_up": r.cdr_per_s / one} for r in report.runs],
        "raw": [{**asdict(r), "msg_per_s": r.msg_per_s, "speed_up": r.msg_per_s / raw_one} for r in report.raw],
        "pauses": [asdict(p) for p in report.pauses],
        "profile": None if report.profile is None else {
            "samples": report.profile.samples, "shares": report.profile.shares,
            "top_self": [{"function": n, "self": s, "cumulative": c} for n, s, c in report.profile.top_self],
            "run": run_json(report.profile_run)},
        "projection": projection(report),
    }
