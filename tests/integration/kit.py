"""Helpers for integration tests: run a worker, feed it, wait for what it writes."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from devkit.worker_process import WorkerProcess
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.topic_io import count_messages
from pipeline.reference.publish import apply_files
from pipeline.settings import REPO_ROOT, Settings
from pipeline.sinks.migrate import migrate
from pipeline.worker import ALL_JOINED

SAMPLES = REPO_ROOT / "samples"


async def seed_reference(settings: Settings, *files: Path) -> None:
    """Topics, the ClickHouse schema (the worker's sink needs it) and reference data."""
    migrate(settings)
    await ensure_topics(settings)
    paths = files or (SAMPLES / "operator.json", SAMPLES / "resellers.json")
    await apply_files(settings, [str(p) for p in paths])


WORKER_READY = ALL_JOINED  # the worker's line once every stage is in its consumer group
GUARD_ACTIVE = "balance guard active"  # only the worker that holds the guard's partition says it


def start_worker(settings: Settings, name: str = "worker", ready: str = GUARD_ACTIVE) -> WorkerProcess:
    worker = WorkerProcess(settings, settings.local_dir / "logs" / f"{name}.log").start()
    try:
        worker.wait_until_logged(ready, timeout=120)
    except BaseException:
        worker.kill()  # a worker that never got ready must not outlive its test
        raise
    return worker


async def wait_for(condition: Callable[[], object], timeout: float, what: str, worker: WorkerProcess | None = None):
    """Poll an async or sync condition until it is truthy; fail with the worker's log if not."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.3)
    tail = worker.log_tail() if worker else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})\n{tail}")


async def outputs(settings: Settings) -> int:
    return await count_messages(settings, "cdr.rated") + await count_messages(settings, "cdr.rejected")
