"""The sink's rows made and inserted in a process of their own, beside the worker's event loop.

Why: decoding a rated call, mapping it to a row and serialising it for ClickHouse cost ~30 us of
Python per call, a third of the whole worker's CPU, and all of it under the GIL that the money
path (rate, charge, balance, guard) needs. In a child process it runs on the other core. An
insert from a thread of the busy worker was slow too: each of its many socket calls waited up to
the GIL's 5 ms switch interval to get the GIL back (a 5-row mirror insert took up to 2 s).

The child keeps the rows it made until told to insert them, so only raw payloads cross the pipe
(bytes, cheap to pickle) and only small answers come back: a batch's refused positions from
`prepare`, the count inserted from `insert`. The checkpoint loop's order is unchanged: `prepare`
in the stage's `handle` (refused payloads become dead letters there), `insert` in its `flush`.

A child that dies loses the rows it held: `insert` of a batch it does not hold raises, the loop
treats that as transient, rewinds to the last commit and prepares the batches again. The child
dies with the worker (PR_SET_PDEATHSIG), so a SIGKILLed worker leaves no orphan inserting rows.
"""
from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import pickle
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from pipeline.runtime.checkpoint import TransientError
from pipeline.settings import Settings
from pipeline.sinks.batch import Refused, rows_from_payloads
from pipeline.sinks.clickhouse import ClickHouseWriter
from pipeline.sinks.reference_rows import MIRRORS, mirror_row
from pipeline.sinks.rows import COLUMNS

log = logging.getLogger(__name__)
RATED_TABLE = "rated_calls"
LOG_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"  # as the worker's (mode's)


class RowsLost(TransientError):
    """The child no longer holds a batch's rows (it was restarted): the checkpoint loop rewinds
    and reads the batch again, as after any transient failure."""


class InsertFailed(Exception):
    """ClickHouse refused the insert `attempts` times; carries how many tries failed."""

    def __init__(self, message: str, failures: int) -> None:
        super().__init__(message)
        self.failures = failures

    def __reduce__(self):
        # raised in the child and pickled to the parent, where an exception is rebuilt from its
        # args alone by default: `failures` must cross too (_in_child would cross only the text)
        return type(self), (str(self), self.failures)


class _Rows:
    """What the sink calls, wherever the rows are made: `prepare(payloads) -> (batch id, refused)`,
    `prepare_mirror(topic, records) -> batch id`, `insert(batch ids) -> (rows, failed tries)`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._next_id = 0

    async def prepare(self, payloads: list[tuple[int, bytes]]) -> tuple[int, list[Refused]]:
        """rated_calls rows of cdr.rated payloads ((position, value)), held until inserted."""
        self._next_id += 1
        return self._next_id, await self._run("prepare", self._next_id, payloads)

    async def prepare_mirror(self, topic: str, records: list[tuple]) -> int:
        """Rows of a reference topic's mirror table, of (key, value, offset, timestamp in s);
        raises for a bad record, as mirror_row does."""
        self._next_id += 1
        await self._run("prepare_mirror", self._next_id, topic, records)
        return self._next_id

    async def insert(self, batch_ids: list[int], attempts: int) -> tuple[int, int]:
        return await self._run("insert", batch_ids, attempts)

    async def start(self) -> None: ...

    def close(self) -> None: ...

    async def _run(self, method: str, *args):
        raise NotImplementedError


class RowsProcess(_Rows):
    """The rows made and held by a single child process (this module's docstring says why)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._pool: ProcessPoolExecutor | None = None
        self.child_pid: int | None = None

    async def start(self) -> None:
        self._pool = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"),  # never fork a process with librdkafka threads
            initializer=_child_start, initargs=(self.settings.model_dump_json(),))
        self.child_pid = await self._run("ready")  # imports and connection before the first batch

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())  # no public way before 3.14
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:  # an insert still retrying is abandoned: read again at start
            process.terminate()
        for process in processes:
            process.join(5)
        pool.shutdown(wait=True)  # its queues closed: no semaphores left for the resource tracker

    async def _run(self, method: str, *args):
        if self._pool is None:
            await self.start()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, _in_child, method, *args)
        except BrokenProcessPool as exc:
            log.warning("the sink's rows process died; starting another (its batches are read again)")
            self.close()
            raise RowsLost("the rows process died") from exc


class RowsInThread(_Rows):
    """The same rows held by the worker itself and made in a thread (RATING_SINK_ROWS_PROCESS=false)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._rows = HeldRows(settings)

    def close(self) -> None:
        self._rows.close()

    async def _run(self, method: str, *args):
        return await asyncio.to_thread(getattr(self._rows, method), *args)


class HeldRows:
    """Rows by batch id until inserted, and a writer per table: the child's state, or the worker's."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._writers: dict[str, ClickHouseWriter] = {}  # table -> its writer
        self._held: dict[int, tuple[str, list[tuple]]] = {}  # batch id -> (table, its rows)

    def ready(self) -> int:
        self._writer(RATED_TABLE)
        return os.getpid()

    def prepare(self, batch_id: int, payloads: list[tuple[int, bytes]]) -> list[Refused]:
        rows, refused = rows_from_payloads(payloads)
        self._held[batch_id] = (RATED_TABLE, rows)
        return refused

    def prepare_mirror(self, batch_id: int, topic: str, records: list[tuple]) -> None:
        self._held[batch_id] = (MIRRORS[topic][0], [mirror_row(topic, *record) for record in records])

    def insert(self, batch_ids: list[int], attempts: int) -> tuple[int, int]:
        missing = [b for b in batch_ids if b not in self._held]
        if missing:
            raise RowsLost(f"batches {missing} are not held (the rows process was restarted)")
        for stale in [b for b in self._held if b < min(batch_ids)]:
            del self._held[stale]  # prepared for a batch the loop dropped (a rewind): never inserted
        per_table: dict[str, list[tuple]] = {}
        for b in batch_ids:
            table, rows = self._held[b]
            per_table.setdefault(table, []).extend(rows)
        inserted = failures = 0

        def count_failure() -> None:
            nonlocal failures
            failures += 1

        for table, rows in per_table.items():
            writer = self._writer(table)
            writer.on_failure = count_failure
            try:
                inserted += writer.write(rows, attempts)
            except Exception as exc:  # noqa: BLE001 - the caller decides; the rows stay held for a retry
                raise InsertFailed(f"{table}: {type(exc).__name__}: {str(exc)[:300]}", failures) from None
        for b in batch_ids:
            del self._held[b]
        return inserted, failures

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()  # a writer still retrying gives up; its rows are not committed

    def _writer(self, table: str) -> ClickHouseWriter:
        if table not in self._writers:
            columns = COLUMNS if table == RATED_TABLE else next(m[1] for m in MIRRORS.values() if m[0] == table)
            self._writers[table] = ClickHouseWriter(self.settings, table=table, columns=columns)
        return self._writers[table]


# --- in the child ---------------------------------------------------------------------------------
_rows: HeldRows | None = None


def _child_start(settings_json: str) -> None:
    global _rows
    try:  # die with the worker: a SIGKILLed parent must not leave a child inserting
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker stops it, not the terminal's ^C
    settings = Settings.model_validate_json(settings_json)
    # the writer's retries go to the worker's log (stderr is inherited), in the worker's format
    logging.basicConfig(format=LOG_FORMAT, level=settings.log_level.upper())
    _rows = HeldRows(settings)


def _in_child(method: str, *args):
    try:
        return getattr(_rows, method)(*args)
    except Exception as exc:
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:  # noqa: BLE001 - whatever the reason, it cannot cross the pipe
            # the parent would take a failed unpickling for a dead child (RowsLost: the batch read
            # again, and failing again, for ever); its type and message cross instead
            raise RuntimeError(f"{type(exc).__name__}: {exc}") from None
        raise
