"""bench-scale's arithmetic without a broker: the pause windows and py-spy's raw output."""
from __future__ import annotations

from types import SimpleNamespace

from devkit.bench_scale import _covers, measure_pauses, read_profile
from pipeline.settings import REPO_ROOT


def _message(key: bytes, partition: int, seconds: float):
    return SimpleNamespace(key=key, partition=partition, timestamp=round(seconds * 1000))


def test_a_pause_is_the_longest_gap_in_its_window_overall_per_partition_and_per_cdr():
    # partition 0 flows every 0.1 s throughout; partition 1 stops at t=20 and its CDRs come out at t=31
    raw, rated = [], []
    for n in range(400):
        at = n * 0.1
        raw.append(_message(f"c0-{n}".encode(), 0, at))
        rated.append(_message(f"ast1/c0-{n}".encode(), 0, at + 0.05))
        raw.append(_message(f"c1-{n}".encode(), 1, at))
        rated.append(_message(f"ast1/c1-{n}".encode(), 3, (31.0 if 20 <= at < 31 else at) + 0.05))
    windows = [("steady", 1.0, ""), ("kill", 20.0, "note")]

    steady, kill = measure_pauses(raw, rated, windows, ended=39.0)

    assert (steady.event, kill.event, kill.note) == ("steady", "kill", "note")
    assert round(steady.window_s, 3) == 19.0 and round(kill.window_s, 3) == 19.0
    assert round(steady.all_output_gap_s, 3) == 0.1 and round(steady.partition_gap_s, 3) == 0.1
    assert round(steady.worst_delay_s, 3) == 0.05
    assert round(kill.all_output_gap_s, 3) == 0.1  # partition 0 kept the output going
    assert round(kill.partition_gap_s, 2) == 11.1  # 19.95 -> 31.05 for partition 1
    assert round(kill.worst_delay_s, 2) == 11.05  # the CDR of t=20.0, rated at 31.05


def test_raw_consumers_go_only_when_they_hold_every_partition_once():
    assert not _covers({0: [0, 1, 2, 3]}, 2, 4)  # one member still to join
    assert not _covers({0: [0, 1, 2, 3], 1: [2, 3]}, 2, 4)  # an old assignment beside a new one
    assert _covers({0: [0, 1], 1: [2, 3]}, 2, 4)
    assert not _covers({0: [0, 1, 2, 3], 1: []}, 2, 4)
    assert _covers({0: [0], 1: [1], 2: []}, 3, 2)  # more members than partitions: someone idles


def test_the_profile_counts_busy_samples_by_innermost_telling_frame(tmp_path):
    pipeline = f"{REPO_ROOT}/pipeline/stages/rate_cdrs.py"
    lines = [
        # the event loop: rating (pipeline code calling orjson), a socket send, and waiting in epoll
        f"thread (1): MainThread;run (/x/asyncio/base_events.py);handle ({pipeline});0x7f (orjson/orjson.so) 30",
        f"thread (1): MainThread;run (/x/asyncio/base_events.py);handle ({pipeline}) 20",
        "thread (1): MainThread;run (/x/asyncio/base_events.py);sock_send (socketmodule.c);send (/usr/lib/libc.so.6) 10",
        "thread (1): MainThread;run (/x/asyncio/base_events.py);select (/x/selectors.py);epoll_wait (/usr/lib/libc.so.6) 40",
        # a pool thread: inserting into ClickHouse, and idle on its queue
        "thread (2): asyncio_0;write (/site-packages/clickhouse_driver/client.py) 10",
        "thread (2): asyncio_0;_queue_SimpleQueue_get (_queuemodule.c);0x7f (/usr/lib/libc.so.6) 90",
    ]
    path = tmp_path / "profile.txt"
    path.write_text("\n".join(lines) + "\n")

    profile = read_profile(path, top=3)

    assert profile.samples == 70  # 30 + 20 + 10 + 10 busy; the waits are not
    assert profile.loop_busy == 0.6 and round(profile.other_threads, 3) == 0.1
    assert profile.shares["JSON (orjson)"] == 30 / 70
    assert profile.shares["pipeline's own Python"] == 20 / 70
    assert profile.shares["socket syscalls (to the broker, ClickHouse)"] == 10 / 70
    assert profile.shares["ClickHouse driver"] == 10 / 70
    top = {name: (own, cumulative) for name, own, cumulative in profile.top_self}
    assert top["[orjson.so] under handle (pipeline/stages/rate_cdrs.py)"] == (30 / 70, 30 / 70)
    assert top["handle (pipeline/stages/rate_cdrs.py)"] == (20 / 70, 50 / 70)
    assert read_profile(tmp_path / "missing.txt") is None
