from __future__ import annotations

import os
import time

from pipeline.adapters.spool import Spool


def _payloads(records) -> list[bytes]:
    return [record.payload for record in records]


def test_partial_line_waits_and_commit_resumes_after_a_restart(tmp_path):
    source, state = tmp_path / "Master.csv", tmp_path / "state.json"
    source.write_bytes(b"one\ntwo\nthr")
    spool = Spool(source, state)
    batch = spool.read_batch()
    assert _payloads(batch) == [b"one", b"two"]
    assert spool.read_batch() == batch  # nothing committed yet: the same again
    spool.commit(batch[:1])
    with source.open("ab") as out:
        out.write(b"ee\n")
    restarted = Spool(source, state)
    assert _payloads(restarted.read_batch()) == [b"two", b"three"]
    assert restarted.read_batch()[0].offset == 4  # a rejection can name the byte offset


def test_replaced_or_truncated_file_is_read_from_its_start(tmp_path):
    source, state = tmp_path / "kamailio.log", tmp_path / "state.json"
    source.write_bytes(b"a\nb\n")
    spool = Spool(source, state)
    spool.commit(spool.read_batch())
    assert spool.read_batch() == []
    source.write_bytes(b"c\n")  # truncated (same inode) and shorter than the committed offset
    assert _payloads(Spool(source, state).read_batch()) == [b"c"]
    os.replace(_write(tmp_path / "new", b"d\ne\nf\n"), source)  # rotated: another inode, longer
    assert _payloads(Spool(source, state).read_batch()) == [b"d", b"e", b"f"]


def test_missing_file_is_no_records_yet(tmp_path):
    assert Spool(tmp_path / "not-yet.log", tmp_path / "state.json").read_batch() == []


def test_directory_of_whole_files_takes_settled_files_once_in_name_order(tmp_path):
    spool_dir, state = tmp_path / "spool", tmp_path / "state.json"
    spool_dir.mkdir()
    old = time.time() - 10
    for name in ("b.json", "a.json"):
        os.utime(_write(spool_dir / name, b'{"x": 1}\n'), (old, old))
    _write(spool_dir / "c.json", b'{"half')  # still being written
    spool = Spool(spool_dir, state, framing="file", settle=2)
    batch = spool.read_batch()
    assert [os.path.basename(r.path) for r in batch] == ["a.json", "b.json"]
    assert _payloads(batch) == [b'{"x": 1}', b'{"x": 1}']
    spool.commit(batch)
    assert Spool(spool_dir, state, framing="file", settle=2).read_batch() == []
    (spool_dir / "a.json").unlink()
    spool.commit([])
    assert str(spool_dir / "a.json") not in Spool(spool_dir, state).positions  # no position for gone files


def test_directory_of_line_files_reads_every_file(tmp_path):
    spool_dir = tmp_path / "cdr-csv"
    spool_dir.mkdir()
    _write(spool_dir / "Master.csv.1", b"x\n")
    _write(spool_dir / "Master.csv", b"y\nz\n")
    assert _payloads(Spool(spool_dir, tmp_path / "state.json").read_batch()) == [b"y", b"z", b"x"]


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_the_adapters_state_is_saved_with_the_position_and_kept_until_replaced(tmp_path):
    source, state = tmp_path / "kamailio.log", tmp_path / "state.json"
    source.write_bytes(b"invite\nbye\n")
    spool = Spool(source, state)
    first = spool.read_batch(max_records=1)
    spool.commit(first, {"pairing": {"invites": {"c1|a|b": "held"}}})
    restarted = Spool(source, state)
    assert restarted.adapter_state == {"pairing": {"invites": {"c1|a|b": "held"}}}
    assert _payloads(restarted.read_batch()) == [b"bye"]
    restarted.commit(restarted.read_batch())  # a stateless commit leaves what the adapter held alone
    assert Spool(source, state).adapter_state == {"pairing": {"invites": {"c1|a|b": "held"}}}
    restarted.commit([], {"pairing": {}})
    assert Spool(source, state).adapter_state == {"pairing": {}}
