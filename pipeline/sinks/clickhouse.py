"""ClickHouseWriter: inserts rated_calls rows, retrying until ClickHouse takes them.

The sink stage commits a batch's offsets only after `write` returned, so `write` never gives up
and never drops a row: while ClickHouse is down it waits with capped exponential backoff, logging
each retry. Rows from rows.row_from_record are valid for the table, so a failure here is taken as
transient (server down, network, too many parts); a schema missing its table is fixed by running
`migrate` while the writer waits. A retried insert that had in fact landed is a duplicate, which
ReplacingMergeTree folds into one row per call.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse, urlunparse

from pipeline.settings import Settings
from pipeline.sinks.rows import COLUMNS

log = logging.getLogger(__name__)


def client_url(settings: Settings, database: str | None = None) -> str:
    """settings.clickhouse_url, optionally pointed at another database (migrate starts in `default`)."""
    url = urlparse(settings.clickhouse_url)
    if database is not None:
        url = url._replace(path="/" + database)
    return urlunparse(url)


def connect(settings: Settings, database: str | None = None):
    # imported at the first connection, not with this module: clickhouse_driver adds ~1-1.5 s
    # (measured, -X importtime) to the start of every command that imports a module using connect
    import clickhouse_driver

    return clickhouse_driver.Client.from_url(client_url(settings, database))


def insert_statement(database: str, table: str = "rated_calls", columns: Sequence[str] = COLUMNS) -> str:
    # rows go as data, never as literal VALUES: a literal INSERT without data hung on 18.16
    return f"INSERT INTO {database}.{table} ({', '.join(columns)}) VALUES"


@dataclass(frozen=True)
class Backoff:
    first: float = 0.5
    factor: float = 2.0
    cap: float = 30.0  # a ClickHouse restart takes seconds; retrying faster only fills the log

    def delay(self, attempt: int) -> float:
        return min(self.cap, self.first * self.factor ** (attempt - 1))


class WriterStopped(Exception):
    """The writer was closed while it was still retrying: the rows were not inserted."""


class ClickHouseWriter:
    """`write(rows)` inserts into `<database>.<table>`; blocking, so the sink stage runs it in its rows
    child process (rows_process.py), or in a thread with RATING_SINK_ROWS_PROCESS=false."""

    def __init__(
        self,
        settings: Settings,
        *,
        table: str = "rated_calls",
        columns: Sequence[str] = COLUMNS,
        client_factory: Callable[[], object] | None = None,
        backoff: Backoff = Backoff(),
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.statement = insert_statement(settings.clickhouse_database, table, columns)
        self._client_factory = client_factory or (lambda: connect(settings))
        self._client = None
        self._backoff = backoff
        self._stopped = threading.Event()
        # waiting on the event, not time.sleep: close() ends a retry loop at once (worker stop)
        self._sleep = sleep or self._stopped.wait
        self.retries = 0  # over the writer's life, for tests and the benchmark
        self.on_failure: Callable[[], None] | None = None  # counts failed inserts (metrics)

    def write(self, rows: Sequence[tuple], attempts: int | None = None) -> int:
        """Insert the rows, retrying; after `attempts` failed tries (None: never) raise the last
        error, so that a caller with a consumer to keep alive can poll in between."""
        if not rows:
            return 0
        attempt = 0
        while True:
            attempt += 1
            if self._stopped.is_set():
                raise WriterStopped(f"stopped with {len(rows)} rows not inserted; they are read again at start")
            try:
                if self._client is None:
                    self._client = self._client_factory()
                self._client.execute(self.statement, rows)
                if attempt > 1:
                    log.info("ClickHouse insert of %d rows succeeded after %d attempts", len(rows), attempt)
                return len(rows)
            except Exception as exc:  # noqa: BLE001 - every failure is retried, see module doc
                delay = self._backoff.delay(attempt)
                self.retries += 1
                if self.on_failure is not None:
                    self.on_failure()
                if attempts is not None and attempt >= attempts:
                    self._drop_client()
                    raise
                log.warning(
                    "ClickHouse insert of %d rows failed (attempt %d): %s; retrying in %.1f s",
                    len(rows), attempt, _one_line(exc), delay,
                )
                self._drop_client()  # a half-used native connection cannot be trusted again
                self._sleep(delay)

    def close(self) -> None:
        self._stopped.set()
        self._drop_client()

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.disconnect()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail too
                pass


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
