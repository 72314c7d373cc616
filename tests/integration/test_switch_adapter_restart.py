"""`adapter NAME` as a process on the real broker: a file being written, a directory and a topic;
stopped and restarted (SIGTERM, and SIGKILL) while the switch keeps writing, no call is lost, and
bad records land on cdr.rejected with reason `adapter` and the adapter's name."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson

from pipeline.kafka.topic_io import produce_all, read_all
from pipeline.settings import REPO_ROOT, Settings

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "switch_cdrs"


def _csv_line(n: int) -> str:
    """A Master.csv line (18 columns, Asterisk's defaults) of call n, 10 + n % 50 seconds long."""
    billsec = 10 + n % 50
    return (f'"u{n % 7}","3705200{n:04d}","3706{n:07d}","from-users","","SIP/u-{n}","SIP/p-{n}","Dial","",'
            f'"2026-11-25 10:00:00","2026-11-25 10:00:05","2026-11-25 10:{(5 + billsec) // 60:02d}:{(5 + billsec) % 60:02d}",'
            f'{billsec + 5},{billsec},"ANSWERED","DOCUMENTATION","1795953600.{n}",""\n')


def _start(settings: Settings, *args: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "RATING_TOPIC_PREFIX": settings.topic_prefix, "RATING_LOCAL_DIR": str(settings.local_dir),
           "RATING_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
    return subprocess.Popen([sys.executable, "-m", "pipeline.adapters", "adapter", *args],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)


async def _keys(settings: Settings, topic: str = "cdr.raw") -> list[str]:
    return [m.key.decode() for m in await read_all(settings, topic)]


def _calls(keys) -> set[str]:
    """server_id/call_id of each key: an Asterisk record's key ends with its segment."""
    return {"/".join(key.split("/")[:2]) for key in keys}


async def _wait_for(settings: Settings, count: int, log: Path, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    keys: list[str] = []
    while time.monotonic() < deadline:
        keys = await _keys(settings)
        if len(set(keys)) >= count:
            return keys
        await asyncio.sleep(0.3)
    raise AssertionError(f"{count} calls expected on cdr.raw, {len(set(keys))} there\n{log.read_text()[-3000:]}")


async def test_file_being_written_survives_sigterm_restarts_exactly_once(settings_factory, tmp_path):
    settings = settings_factory()
    master, log = tmp_path / "Master.csv", tmp_path / "adapter.log"
    args = ("asterisk_csv", "--from-file", str(master), "--server", "ast1", "--state", str(tmp_path / "state.json"))
    adapter = _start(settings, *args, log=log)
    written = 0

    def switch_writes(calls: int) -> None:
        nonlocal written
        with master.open("a") as out:  # the switch appends, sometimes half a line at a time
            for _ in range(calls):
                line = _csv_line(written)
                out.write(line[:20])
                out.flush()
                out.write(line[20:])
                written += 1

    for _ in range(3):
        switch_writes(200)
        await _wait_for(settings, written - 199, log)  # the adapter runs and has read some of them
        switch_writes(200)
        adapter.send_signal(signal.SIGTERM)  # while it is reading: it finishes its batch and stops
        assert adapter.wait(timeout=30) == 0, log.read_text()[-3000:]
        adapter = _start(settings, *args, log=log)
    try:
        keys = await _wait_for(settings, written, log)
    finally:
        adapter.send_signal(signal.SIGTERM)
        adapter.wait(timeout=30)
    assert Counter(keys).most_common(1)[0][1] == 1, "a call was sent twice"
    assert len(keys) == written and _calls(keys) == {f"ast1/1795953600.{n}" for n in range(written)}


async def test_sigkill_loses_nothing_and_a_resent_call_is_the_same_cdr(settings_factory, tmp_path):
    settings = settings_factory()
    master, log = tmp_path / "Master.csv", tmp_path / "adapter.log"
    args = ("asterisk_csv", "--from-file", str(master), "--server", "ast1", "--state", str(tmp_path / "state.json"))
    calls = 10000
    master.write_text("".join(_csv_line(n) for n in range(calls)))
    seen_after_kills = []
    for wait in (1.2, 0.9, 1.5):
        adapter = _start(settings, *args, log=log)
        await asyncio.sleep(wait)  # somewhere in the middle of the file, maybe between ack and commit
        adapter.kill()
        adapter.wait()
        seen_after_kills.append(len(set(await _keys(settings))))
    assert min(seen_after_kills) < calls, "no kill happened mid-file: the test proved nothing"
    adapter = _start(settings, *args, log=log)
    try:
        await _wait_for(settings, calls, log)
    finally:
        adapter.send_signal(signal.SIGTERM)
        adapter.wait(timeout=30)
    values: dict[str, set[bytes]] = {}
    for message in await read_all(settings, "cdr.raw"):
        values.setdefault(message.key.decode(), set()).add(message.value)
    assert len(values) == calls and _calls(values) == {f"ast1/1795953600.{n}" for n in range(calls)}
    # a batch in flight at the kill may be sent again: the same key with the same CDR, one call
    assert all(len(distinct) == 1 for distinct in values.values())


async def test_freeswitch_directory_and_bad_records_go_to_cdr_rejected(settings_factory, tmp_path):
    settings = settings_factory()
    spool, log = tmp_path / "json_cdr", tmp_path / "adapter.log"
    spool.mkdir()
    for fixture in sorted((FIXTURES / "freeswitch").glob("*.json")):
        (spool / fixture.name).write_bytes(fixture.read_bytes())
    (spool / "a_broken.cdr.json").write_text('{"variables": {"uuid": "x"}}')
    adapter = _start(settings, "freeswitch", "--from-dir", str(spool), "--server", "fs1", "--once",
                     "--timezone", "Europe/Vilnius", log=log)
    assert adapter.wait(timeout=60) == 0, log.read_text()[-3000:]
    keys = await _keys(settings)
    assert sorted(keys) == [f"fs1/3f0d8c1e-6b1f-4c9e-8f6b-0a1b2c3d4e0{n}" for n in (1, 2, 3)]
    (rejected,) = [orjson.loads(m.value) for m in await read_all(settings, "cdr.rejected")]
    assert rejected["reason"] == "adapter"
    assert rejected["detail"].startswith("freeswitch: variables.")
    assert rejected["topic"] == f"file:{spool / 'a_broken.cdr.json'}"
    assert orjson.loads(rejected["payload"]) == {"variables": {"uuid": "x"}}


async def test_topic_source_resumes_from_its_committed_offsets(settings_factory, tmp_path):
    settings = settings_factory()
    log = tmp_path / "adapter.log"
    source = settings.topic("asterisk.cdrs")
    records = [orjson.loads(line) for line in (FIXTURES / "asterisk" / "cdrs.jsonl").read_text().splitlines()]

    def batch(first: int, count: int):
        return [(None, orjson.dumps({**records[n % 2], "uniqueid": f"9.{n}"})) for n in range(first, first + count)]

    await produce_all(settings, "asterisk.cdrs", batch(0, 300) + [(b"k", b"not json")])
    adapter = _start(settings, "asterisk_json", "--from-topic", source, "--server", "ast2", log=log)
    await _wait_for(settings, 300, log)
    adapter.send_signal(signal.SIGTERM)
    assert adapter.wait(timeout=30) == 0, log.read_text()[-3000:]
    await produce_all(settings, "asterisk.cdrs", batch(300, 200))
    adapter = _start(settings, "asterisk_json", "--from-topic", source, "--server", "ast2", log=log)
    try:
        keys = await _wait_for(settings, 500, log)
    finally:
        adapter.send_signal(signal.SIGTERM)
        adapter.wait(timeout=30)
    assert len(keys) == 500 and _calls(keys) == {f"ast2/9.{n}" for n in range(500)}  # each once
    (rejected,) = [orjson.loads(m.value) for m in await read_all(settings, "cdr.rejected")]
    assert (rejected["reason"], rejected["topic"], rejected["payload"]) == ("adapter", source, "not json")
    assert rejected["detail"].startswith("asterisk_json: record: is not JSON")
