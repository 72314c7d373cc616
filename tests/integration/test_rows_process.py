"""The sink's rows process (pipeline/sinks/rows_process.py) on the real ClickHouse: rows made in
the child and inserted on the parent's word, a dead child turned into a transient failure (the
batch is read again, never skipped), and no child left behind by a SIGKILLed worker."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import orjson
import pytest

from pipeline.runtime.checkpoint import TransientError
from pipeline.settings import REPO_ROOT
from pipeline.sinks.clickhouse import connect
from pipeline.sinks.migrate import migrate
from pipeline.sinks.rows_process import InsertFailed, RowsLost, RowsProcess
from tests.unit.sinks.rated_example import example_json, example_payload

pytestmark = pytest.mark.clickhouse


@pytest.fixture
async def rows(settings_factory):
    settings = settings_factory()
    migrate(settings)
    process = RowsProcess(settings)
    await process.start()
    yield settings, process
    process.close()


def final_calls(settings) -> list[tuple]:
    return connect(settings).execute(
        f"SELECT call_id, user_price FROM {settings.clickhouse_database}.rated_calls FINAL ORDER BY call_id")


async def test_rows_are_made_in_the_child_and_inserted_only_when_told(rows):
    settings, process = rows
    payloads = [(0, example_payload(call_id="c0")), (1, orjson.dumps({**example_json(), "call_id": "c1"})),
                (2, b"not a rated call")]
    batch, refused = await process.prepare(payloads)
    assert [r.position for r in refused] == [2]
    account = orjson.dumps({"kind": "account", "id": "u9", "type": "user", "parent": "r1"})
    mirror = await process.prepare_mirror("ref.accounts", [(b"u9", account, 0, 1764057600.0)])
    assert final_calls(settings) == []  # held, not inserted
    inserted, failures = await process.insert([batch, mirror], attempts=3)
    assert (inserted, failures) == (3, 0)
    price = Decimal(example_json()["user_price"])
    assert final_calls(settings) == [("c0", price), ("c1", price)]
    accounts = connect(settings).execute(f"SELECT id FROM {settings.clickhouse_database}.accounts FINAL")
    assert accounts == [("u9",)]
    with pytest.raises(RowsLost):  # inserted rows are not held twice
        await process.insert([batch], attempts=3)


async def test_a_child_that_dies_loses_its_rows_as_a_transient_failure_and_a_new_one_takes_over(rows):
    settings, process = rows
    batch, _ = await process.prepare([(0, example_payload(call_id="lost"))])
    os.kill(process.child_pid, signal.SIGKILL)
    with pytest.raises(TransientError):  # the checkpoint loop rewinds and reads the batch again
        await process.insert([batch], attempts=3)
    again, _ = await process.prepare([(0, example_payload(call_id="lost"))])  # a new child
    assert await process.insert([again], attempts=3) == (1, 0)
    assert [call for call, _ in final_calls(settings)] == ["lost"]


async def test_batches_prepared_before_a_rewind_are_dropped_not_inserted(rows):
    settings, process = rows
    dropped, _ = await process.prepare([(0, example_payload(call_id="old"))])  # the loop rewound past it
    kept, _ = await process.prepare([(0, example_payload(call_id="new"))])
    await process.insert([kept], attempts=3)
    assert [call for call, _ in final_calls(settings)] == ["new"]
    with pytest.raises(RowsLost):
        await process.insert([dropped], attempts=3)


async def test_an_insert_clickhouse_refuses_is_an_insert_failure_and_the_child_keeps_its_rows(settings_factory):
    settings = settings_factory()
    migrate(settings)
    down = settings.model_copy(update={"clickhouse_url": "clickhouse://127.0.0.1:1/" + settings.clickhouse_database})
    process = RowsProcess(down)  # a ClickHouse that is not there: every try refused
    await process.start()
    try:
        child = process.child_pid
        batch, _ = await process.prepare([(0, example_payload(call_id="kept"))])
        with pytest.raises(InsertFailed) as failed:  # not RowsLost: the child did not die
            await process.insert([batch], attempts=2)
        assert failed.value.failures == 2 and "rated_calls" in str(failed.value)
        assert process.child_pid == child and _alive(child)
        with pytest.raises(InsertFailed):  # the rows are still held for the next try
            await process.insert([batch], attempts=1)
    finally:
        process.close()


def test_a_sigkilled_worker_leaves_no_rows_process_behind(settings_factory, tmp_path):
    settings = settings_factory()
    script = tmp_path / "parent.py"
    script.write_text(
        "import asyncio, sys, time\n"
        "from pipeline.settings import Settings\n"
        "from pipeline.sinks.rows_process import RowsProcess\n"
        "async def main():\n"
        "    process = RowsProcess(Settings.model_validate_json(sys.argv[1]))\n"
        "    await process.start()\n"
        "    print(process.child_pid, flush=True)\n"
        "    time.sleep(600)\n"
        "if __name__ == '__main__':  # spawn imports this file again in the child\n"
        "    asyncio.run(main())\n")
    parent = subprocess.Popen([sys.executable, str(script), settings.model_dump_json()], cwd=REPO_ROOT,
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})  # a script's path is its own dir
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the rows process outlived its worker"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
