"""What switches and operators read: account states on switch.control, balances on balance.updates."""
from __future__ import annotations

from decimal import Decimal

import orjson

from pipeline.kafka.topic_io import read_all
from pipeline.kafka.topics import BALANCE_UPDATES, STATE_AUTH_CALLS, SWITCH_CONTROL
from pipeline.schemas import wire
from pipeline.settings import Settings


async def account_states(settings: Settings) -> dict[str, dict]:
    """account id -> its current state on switch.control (the last value per key)."""
    latest: dict[str, dict] = {}
    for message in await read_all(settings, SWITCH_CONTROL):
        if message.value:
            latest[message.key.decode()] = orjson.loads(message.value)
        else:
            latest.pop(message.key.decode(), None)
    return latest


async def current_balances(settings: Settings) -> dict[str, Decimal]:
    """account id -> its balance now: the newest snapshot (highest seq) on balance.updates."""
    latest: dict[str, tuple[int, Decimal]] = {}
    for message in await read_all(settings, BALANCE_UPDATES):
        update = wire.decode("balance_update.v1", message.value)
        if update["seq"] >= latest.get(update["account"], (-1, None))[0]:
            latest[update["account"]] = (update["seq"], Decimal(update["balance"]))
    return {account: balance for account, (_, balance) in latest.items()}


async def current_holds(settings: Settings) -> dict[str, Decimal]:
    """account id -> the money held for its running calls: the authorizer's last record per call
    on its changelog (pipeline/stages/authorize_calls.py), holds still in force summed."""
    calls: dict[bytes, dict] = {}
    for message in await read_all(settings, STATE_AUTH_CALLS):
        if message.value:
            calls[message.key] = orjson.loads(message.value)["holds"]
        else:
            calls.pop(message.key, None)
    held: dict[str, Decimal] = {}
    for holds in calls.values():
        for account, amount in holds.items():
            held[account] = held.get(account, Decimal(0)) + Decimal(amount)
    return held
