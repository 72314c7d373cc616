"""Chaos under load: CDRs and payments flow while a broker, the leader of a cdr.raw
partition, one worker of two, or ClickHouse goes away; afterwards every balance is exact to the
micro-unit, every call is in rated_calls FINAL once at its price, switch.control blocks exactly the
accounts whose balance says so, and nothing valid was rejected (tests/integration/chaos_kit.py).

The broker cases run on a second, 3-broker cluster (tests/support/cluster3.py: replication factor
3, min.insync.replicas 2); the others on the shared local stack. The table of what was killed,
when, and what was checked is printed at the end of the run and kept in
tests/artifacts/faults-report.md.
"""
from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest

from tests.integration.chaos_kit import (
    LoadRun,
    chaos_accounts,
    check_outcome,
    coordinator_of,
    group_members,
    guard_holder,
    guard_lines,
    make_load,
    reference_book,
    replication,
    reported,
    start_clickhouse,
    stop_clickhouse,
)
from tests.integration.kit import SAMPLES, WORKER_READY, seed_reference, start_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.clickhouse]

CDRS, PAYMENTS = 3000, 200
LOAD_SECONDS = 15.0
BROKER_DOWN_SECONDS = 5.0  # at least
LEADER_PARTITION = 1
CLICKHOUSE_DOWN_SECONDS = 25.0  # (and the restart) well past the max.poll.interval below
# An insert that meets ClickHouse shutting down waits out its shutdown (5 s); the loop polls
# (paused) during an insert as during a backoff, so even that stays inside 6 s of not polling.
MAX_POLL_INTERVAL_MS = 6_000


async def prepare(settings, tmp_path, tag: str, seed: int):
    """Reference data on the topics and in a local book; the load, priced by the rating code."""
    accounts, users = chaos_accounts(tmp_path, limits=True)
    await seed_reference(settings, SAMPLES / "operator.json", accounts)
    book = reference_book(SAMPLES / "operator.json", accounts)
    return book, make_load(book, users, tag=tag, cdrs=CDRS, payments=PAYMENTS, seed=seed)


async def test_one_worker_of_two_sigkilled_under_load(settings_factory, tmp_path):
    async with reported("2 workers: one SIGKILLed") as row:
        settings = settings_factory()
        book, load = await prepare(settings, tmp_path, "worker", seed=16)
        workers = [start_worker(settings, "first"), start_worker(settings, "second", ready=WORKER_READY)]
        try:
            run = await LoadRun(settings, load, LOAD_SECONDS).start()
            at = await run.until(0.3)
            # the one holding the guard (either, after the second joined) and half of every stage
            killed = guard_holder(*workers)
            survivor = next(w for w in workers if w is not killed)
            taken_before = len(guard_lines(survivor))
            killed.kill()
            # the survivor takes the killed worker's partitions and the guard's single one
            await wait_for(lambda: len(guard_lines(survivor)) > taken_before, 60,
                           "the other worker taking over the guard", survivor)
            took = run.elapsed()
            workers.append(await asyncio.to_thread(start_worker, settings, "restarted", WORKER_READY))
            row.fault = (f"worker pid {killed.process.pid} (the guard's, half the partitions) SIGKILLed; pid "
                         f"{survivor.process.pid} took over {took - at:.0f} s later; a new worker joined")
            row.at = f"{at:.1f}, joined at {run.elapsed():.1f}"
            await row.load_done(run)
            await check_outcome(settings, load, book, row.outcome)
            assert survivor.alive() and workers[-1].alive(), f"a worker died:\n{survivor.log_tail()}"
        finally:
            for worker in workers:
                worker.stop()


async def test_clickhouse_down_longer_than_max_poll_interval_keeps_the_sink_in_its_group(settings_factory, tmp_path):
    async with reported("ClickHouse stopped") as row:
        settings = settings_factory(max_poll_interval_ms=MAX_POLL_INTERVAL_MS)
        book, load = await prepare(settings, tmp_path, "clickhouse", seed=17)
        worker = start_worker(settings, "clickhouse-outage")
        try:
            members = await wait_for(lambda: _stable_single_member(settings), 30, "the sink in its group", worker)
            run = await LoadRun(settings, load, LOAD_SECONDS + CLICKHOUSE_DOWN_SECONDS).start()
            at = await run.until(0.2)
            seen: list[tuple[float, tuple[str, tuple[str, ...]]]] = []
            watch = asyncio.create_task(_watch_group(settings, seen))
            try:
                try:
                    await asyncio.to_thread(stop_clickhouse)
                    stopped = time.monotonic()
                    await asyncio.sleep(CLICKHOUSE_DOWN_SECONDS)
                finally:
                    await asyncio.to_thread(start_clickhouse)
                down = time.monotonic() - stopped
                failing = _failing_inserts(worker.log_path.read_text())
                row.fault = (f"ClickHouse stopped for {down:.0f} s, the sink's inserts failing for {failing:.0f} s "
                             f"(max.poll.interval {MAX_POLL_INTERVAL_MS // 1000} s)")
                row.at = f"{at:.1f}, back at {run.elapsed():.1f}"
                await row.load_done(run)
                await check_outcome(settings, load, book, row.outcome)
            finally:
                watch.cancel()
            # a member that left its group (or was dropped) joins again under a new member id
            changes = [(round(t, 1), state) for t, state in seen if state != ("Stable", members)]
            assert not changes, f"the sink's group changed: {changes[:4]}; before the outage: Stable {members}"
            assert len(seen) > CLICKHOUSE_DOWN_SECONDS, f"the group was looked at only {len(seen)} times"
            # the sink itself met the outage for longer than it may go without polling
            assert failing > MAX_POLL_INTERVAL_MS / 1000, (
                f"the sink's inserts failed for {failing:.1f} s only:\n" + "\n".join(
                    line[:200] for line in worker.log_path.read_text().splitlines() if "ClickHouse" in line))
            row.outcome.clickhouse += "; sink kept its member id"
            assert worker.alive(), f"the worker died during the outage:\n{worker.log_tail()}"
        finally:
            worker.stop()


def _failing_inserts(log: str) -> float:
    """Seconds from the sink's first failed insert to its last (log lines start with their time)."""
    stamps = [datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f") for line in log.splitlines()
              if "ClickHouse insert of" in line and " failed " in line]
    return (stamps[-1] - stamps[0]).total_seconds() if stamps else 0.0


async def _stable_single_member(settings):
    state, members = await group_members(settings, "clickhouse")
    return members if state == "Stable" and len(members) == 1 else None


async def _watch_group(settings, seen: list) -> None:
    """The sink's group state and members about every half second, until cancelled."""
    started = time.monotonic()
    while True:
        try:
            seen.append((time.monotonic() - started, await group_members(settings, "clickhouse")))
        except Exception as exc:  # noqa: BLE001 - recorded as a change: the main broker always answers
            seen.append((time.monotonic() - started, ("error", (repr(exc),))))
        await asyncio.sleep(0.5)


# --- the broker cases last: the 3-broker cluster (module-scoped) runs only while they do -------
@pytest.fixture(scope="module")
def cluster3():
    from tests.support.cluster3 import LocalCluster3

    cluster = LocalCluster3()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


async def test_a_broker_sigkilled_under_load_and_restarted(cluster3, settings_factory, tmp_path):
    """The broker that coordinates the ledgers' consumer group: the stages' joins, heartbeats and
    commits move to another node while the load goes on."""
    async def coordinator(settings, dead=None):
        try:
            node = await coordinator_of(settings, "balance")
        except Exception:  # noqa: BLE001 - asked of the dead node, or none elected yet
            return None
        return node if node != dead else None

    async with reported("3 brokers: one SIGKILLed") as row:
        settings = settings_factory(kafka_bootstrap=cluster3.bootstrap, replication_factor=3)
        await kill_a_broker(cluster3, settings, tmp_path, row, "coordinator of the balance group", coordinator, seed=14)


async def test_the_leader_of_a_cdr_raw_partition_sigkilled_mid_batch(cluster3, settings_factory, tmp_path):
    """Slices are in flight to every partition all along: its leader dies under the producers."""
    async def leader(settings, dead=None):
        try:
            node = await asyncio.to_thread(cluster3.leader_node, settings.topic("cdr.raw"), LEADER_PARTITION)
        except Exception:  # noqa: BLE001 - no live leader for a moment
            return None
        return node if node != dead else None

    async with reported("3 brokers: a cdr.raw leader SIGKILLed") as row:
        settings = settings_factory(kafka_bootstrap=cluster3.bootstrap, replication_factor=3)
        await kill_a_broker(cluster3, settings, tmp_path, row, f"leader of cdr.raw[{LEADER_PARTITION}]", leader, seed=15)


async def kill_a_broker(cluster, settings, tmp_path, row, role: str, holder, seed: int) -> None:
    """Under load, SIGKILL the node `holder(settings)` names; once another node holds the role
    (`holder(settings, dead=node)`) and it was down long enough, restart it; check everything."""
    book, load = await prepare(settings, tmp_path, f"broker-{seed}", seed)
    assert await replication(settings, "cdr.raw") == ({3}, "2")
    worker = start_worker(settings, f"broker-{seed}")
    try:
        run = await LoadRun(settings, load, LOAD_SECONDS).start()
        at = await run.until(0.4)
        node = await holder(settings)
        pid = await asyncio.to_thread(cluster.kill, node)
        successor = await wait_for(lambda: holder(settings, dead=node), 60, f"a new {role}", worker)
        await asyncio.sleep(max(0.0, at + BROKER_DOWN_SECONDS - run.elapsed()))
        back = run.elapsed()
        await asyncio.to_thread(cluster.restart)
        row.fault = (f"{role}: node {node} (pid {pid}) SIGKILLed, node {successor} took over; "
                     f"restarted {back - at:.0f} s later")
        row.at = f"{at:.1f}, back at {run.elapsed():.1f}"
        await row.load_done(run)
        await check_outcome(settings, load, book, row.outcome)
        assert worker.alive(), f"the worker died:\n{worker.log_tail()}"
    finally:
        worker.stop()
