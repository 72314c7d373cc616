"""ClickHouseWriter retries with capped backoff and never drops rows."""
from __future__ import annotations

import logging

from pipeline.settings import Settings
from pipeline.sinks.clickhouse import Backoff, ClickHouseWriter, client_url, insert_statement
from pipeline.sinks.rows import COLUMNS


class FlakyClient:
    """Fails `failures` inserts (as a dead server would), then stores them."""

    def __init__(self, log: list, failures: int) -> None:
        self.log, self.failures, self.closed = log, failures, False

    def execute(self, statement, rows):
        if len(self.log) < self.failures:
            self.log.append(None)
            raise ConnectionRefusedError("Connection refused (127.0.0.1:9000)")
        self.log.append((statement, list(rows)))

    def disconnect(self):
        self.closed = True


def make_writer(failures: int, sleeps: list, clients: list, log: list) -> ClickHouseWriter:
    def factory():
        clients.append(FlakyClient(log, failures))
        return clients[-1]

    settings = Settings(clickhouse_url="clickhouse://127.0.0.1:9/rating_x")
    return ClickHouseWriter(settings, client_factory=factory, backoff=Backoff(first=0.5, factor=2, cap=3),
                            sleep=sleeps.append)


def test_write_retries_until_the_insert_succeeds_with_capped_backoff(caplog):
    sleeps, clients, log = [], [], []
    writer = make_writer(failures=5, sleeps=sleeps, clients=clients, log=log)
    rows = [("a",), ("b",)]
    with caplog.at_level(logging.WARNING, logger="pipeline.sinks.clickhouse"):
        assert writer.write(rows) == 2
    assert sleeps == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert log[-1] == ("INSERT INTO rating_x.rated_calls (" + ", ".join(COLUMNS) + ") VALUES", rows)
    # each failure dropped its connection and logged a retry
    assert len(clients) == 6 and all(client.closed for client in clients[:5])
    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 5


def test_a_healthy_writer_keeps_one_connection_and_never_sleeps():
    sleeps, clients, log = [], [], []
    writer = make_writer(failures=0, sleeps=sleeps, clients=clients, log=log)
    writer.write([("a",)])
    writer.write([("b",)])
    assert len(clients) == 1 and sleeps == [] and len(log) == 2


def test_an_empty_batch_opens_nothing():
    sleeps, clients, log = [], [], []
    assert make_writer(0, sleeps, clients, log).write([]) == 0
    assert clients == []


def test_client_url_points_at_another_database_and_keeps_the_rest():
    settings = Settings(clickhouse_url="clickhouse://u:p@db:9001/rating?compression=lz4")
    assert client_url(settings, "default") == "clickhouse://u:p@db:9001/default?compression=lz4"
    assert insert_statement("r", "accounts", ("id", "name")) == "INSERT INTO r.accounts (id, name) VALUES"




def test_close_ends_a_retry_loop_without_inserting():
    import threading

    from pipeline.sinks.clickhouse import WriterStopped

    class Down:
        def execute(self, *args):
            raise ConnectionError("ClickHouse is down")

        def disconnect(self):
            pass

    writer = ClickHouseWriter(Settings(), client_factory=Down)
    outcome = []

    def insert():
        try:
            writer.write([("a",)])
        except WriterStopped as exc:
            outcome.append(exc)

    thread = threading.Thread(target=insert)
    thread.start()
    writer.close()  # as the sink does when the worker stops
    thread.join(timeout=5)
    assert not thread.is_alive() and len(outcome) == 1
