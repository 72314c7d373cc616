"""switch.control as a switch reads it: from the beginning, the last value per account."""
from __future__ import annotations

import orjson

from pipeline.settings import Settings
from pipeline.topic_io import read_all


async def account_states(settings: Settings) -> dict[str, dict]:
    """account id -> its current state on switch.control (the last value per key)."""
    latest: dict[str, dict] = {}
    for message in await read_all(settings, "switch.control"):
        if message.value:
            latest[message.key.decode()] = orjson.loads(message.value)
        else:
            latest.pop(message.key.decode(), None)
    return latest
