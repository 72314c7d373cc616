"""The alert agents in Faust's own test style: agent.test_context() and a memory store, no broker.

What the agents send is caught by replacing AlertAgents.send; the windowed tables are Faust's own
(tumbling, relative to each record's timestamp), so these tests move time by the timestamps they put.
"""
from __future__ import annotations

import time

import orjson
import pytest

from pipeline.agents.app import build_alerts_app
from pipeline.reference.book import ReferenceBook
from pipeline.reference.records import parse_reference_record
from pipeline.settings import Settings

SETTINGS = Settings(topic_prefix="t-agents-", partitions=1)
WORLD = [
    {"kind": "account", "id": "r1", "type": "reseller"},
    {"kind": "account", "id": "u1", "type": "user", "parent": "r1"},
    {"kind": "alert", "id": "flood", "scope": {"type": "account", "id": "u1"}, "metric": "calls",
     "window_seconds": 60, "op": ">", "threshold": "2", "action": "block", "lift": "on_clear"},
    {"kind": "alert", "id": "dead", "scope": {"type": "provider", "id": "p1"}, "metric": "asr",
     "window_seconds": 900, "op": "<", "threshold": "20", "min_calls": 5},
    {"kind": "alert", "id": "busy", "scope": {"type": "reseller_users", "id": "r1"}, "metric": "simultaneous_calls",
     "window_seconds": 60, "op": ">", "threshold": "1"},
]


@pytest.fixture
def agents():
    book = ReferenceBook()
    for obj in WORLD:
        book.apply(parse_reference_record(obj))
    agents = build_alerts_app(SETTINGS, book=book, store="memory://", sinks=False)
    agents.app.finalize()
    agents.app.flow_control.resume()
    agents.out = []

    async def send(topic, key, value, timestamp=None):
        agents.out.append((topic.removeprefix(SETTINGS.topic_prefix), key.decode(), orjson.loads(value), timestamp))

    agents.send = send
    return agents


def call(alert: str, target: str, offset: int, answered: bool = True, billsec: int = 30) -> bytes:
    return orjson.dumps({"k": "c", "a": alert, "t": target, "src": [0, offset], "ans": answered,
                         "bs": billsec if answered else 0, "pr": 1_000_000, "sh": False})


def events(agents, topic: str = "alerts") -> list[tuple[str, str, str]]:
    return [(key, value.get("state"), value.get("value")) for t, key, value, _ in agents.out if t == topic]


async def test_a_flood_fires_once_blocks_and_clears_when_its_window_has_slid_past(agents):
    start = (time.time() // 60) * 60  # the first 10 s bucket of a minute
    async with agents.agents["watch_windows"].test_context() as watch:
        for offset in range(5):
            await watch.put(call("flood", "u1", offset), key=b"flood/u1", timestamp=start + offset, partition=0)
        assert events(agents) == [("flood/u1", "fired", "3")]  # the third call, once
        assert events(agents, "alert_blocks") == [("flood/u1", "blocked", None)]
        await watch.put(b'{"k":"tick"}', key=b"tick", timestamp=start + 30, partition=0)
        assert len(events(agents)) == 1  # 5 calls still inside the window
        await watch.put(b'{"k":"tick"}', key=b"tick", timestamp=start + 61, partition=0)
    assert events(agents)[1] == ("flood/u1", "cleared", "0")
    assert [v["state"] for t, _, v, _ in agents.out if t == "alert_blocks"] == ["blocked", "lifted"]


async def test_a_replayed_call_is_not_counted_again(agents):
    now = time.time()
    async with agents.agents["watch_windows"].test_context() as watch:
        for _ in range(3):  # the same position three times: one call
            await watch.put(call("flood", "u1", 7), key=b"flood/u1", timestamp=now, partition=0)
        await watch.put(call("flood", "u1", 8), key=b"flood/u1", timestamp=now, partition=0)
    assert events(agents) == []  # two calls, not four


async def test_calls_older_than_the_window_no_longer_count(agents):
    start = (time.time() // 60) * 60 - 120
    async with agents.agents["watch_windows"].test_context() as watch:
        for offset in range(2):
            await watch.put(call("flood", "u1", offset), key=b"flood/u1", timestamp=start + offset, partition=0)
        for offset in range(2, 4):  # 70 s later: the first two have left the window
            await watch.put(call("flood", "u1", offset), key=b"flood/u1", timestamp=start + 70 + offset, partition=0)
    assert events(agents) == []


async def test_a_dead_provider_fires_only_once_it_has_min_calls(agents):
    now = time.time()
    async with agents.agents["watch_windows"].test_context() as watch:
        for offset in range(4):
            await watch.put(call("dead", "p1", offset, answered=False), key=b"dead/p1", timestamp=now, partition=0)
        assert events(agents) == []  # an ASR of 0 over four calls: below min_calls
        await watch.put(call("dead", "p1", 4, answered=False), key=b"dead/p1", timestamp=now, partition=0)
        assert events(agents) == [("dead/p1", "fired", "0.000000")]
        for offset in range(5, 8):  # answered again: 1 of 6 (16.7%), then 2 of 7: back past 20%
            await watch.put(call("dead", "p1", offset), key=b"dead/p1", timestamp=now, partition=0)
    assert events(agents)[1:] == [("dead/p1", "cleared", "28.571429")]  # once, not again at 3 of 8
    assert events(agents, "alert_blocks") == []  # notify only


async def test_simultaneous_calls_count_from_held_to_settled(agents):
    now = time.time()

    def hold(call_id: str, state: str, offset: int) -> bytes:
        return orjson.dumps({"k": "h", "a": "busy", "t": "u1", "call": call_id, "st": state, "src": [0, offset]})

    async with agents.agents["watch_windows"].test_context() as watch:
        await watch.put(hold("c1", "held", 0), key=b"busy/u1", timestamp=now, partition=0)
        await watch.put(hold("c2", "held", 1), key=b"busy/u1", timestamp=now, partition=0)
        await watch.put(hold("c2", "held", 2), key=b"busy/u1", timestamp=now, partition=0)  # again: no third
        assert events(agents) == [("busy/u1", "fired", "2")]
        await watch.put(hold("c1", "settled", 3), key=b"busy/u1", timestamp=now, partition=0)
    assert events(agents)[-1] == ("busy/u1", "cleared", "1")


async def test_backlog_from_long_ago_counts_but_raises_no_alarm(agents):
    long_ago = time.time() - 3600
    async with agents.agents["watch_windows"].test_context() as watch:
        for offset in range(5):
            await watch.put(call("flood", "u1", offset), key=b"flood/u1", timestamp=long_ago, partition=0)
    assert events(agents) == []


async def test_route_calls_sends_one_observation_per_watching_alert_keyed_alert_and_target(agents):
    rated = {"server_id": "ast1", "call_id": "c1", "account": "u1", "reseller": "r1", "provider": "p1",
             "dst": "37060000001", "billsec": 0, "user_price": "0", "reseller_price": "0", "provider_price": "0"}
    async with agents.agents["route_calls"].test_context() as route:
        await route.put(orjson.dumps(rated), key=b"ast1/c1", timestamp=1000.0, partition=0)
    sent = sorted((key, value["ans"], timestamp) for topic, key, value, timestamp in agents.out)
    assert sent == [("dead/p1", False, 1000.0), ("flood/u1", False, 1000.0)]  # the record's own timestamp
