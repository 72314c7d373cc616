"""Faust test_context for the money agents: no broker. The producer and the tables' changelog are
replaced by recorders; the table values live in the app's memory store."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from faust.tables.table import Table

from pipeline.app import app


@pytest.fixture
def sent(monkeypatch):
    """(topic, key, value) of every message the agents produce."""
    out: list[tuple[str, bytes, bytes]] = []

    async def send(topic, key, value, *args, **kwargs):
        out.append((topic, key, value))

    monkeypatch.setattr(app.producer, "send", send)
    return out


@pytest.fixture(autouse=True)
def changelog_stub(monkeypatch):
    """Table writes go to the memory store; their changelog message would need a broker."""
    written: list[tuple[bytes, bytes]] = []

    def send_changelog(self, partition, key, value, *args, **kwargs):
        written.append((key, value))
        return SimpleNamespace(message=SimpleNamespace(partition=partition or 0))

    monkeypatch.setattr(Table, "send_changelog", send_changelog)
    return written


async def until(condition, timeout: float = 5.0) -> None:
    """put() returns when the event entered the stream, before take_events' batch has run."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the agent did not get there in time")
        await asyncio.sleep(0.005)


async def put(agent, topic: str, key: bytes | None, value: bytes, partition: int, offset: int) -> None:
    """Deliver one message as if read from `topic` at (partition, offset)."""
    make = type(agent).to_message

    def to_message(key, value, **kwargs):
        message = make(agent, key, value, **kwargs)
        message.topic = topic
        return message

    agent.to_message = to_message
    agent.sent_offset = offset
    try:
        await agent.put(value, key=key, partition=partition)
    finally:
        del agent.to_message
