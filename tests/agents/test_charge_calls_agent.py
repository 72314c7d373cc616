"""charge_calls: a rated call debits its accounts once, however often cdr.rated delivers it."""
import json

import orjson
import pytest

import pipeline.agents.charge_calls as module
from pipeline.app import app
from pipeline.schemas import avro, wire
from tests.agents.conftest import put, until

RATED = module.topics.cdr_rated.get_topic_name()
EXAMPLE = json.loads((avro.SCHEMA_DIR / "examples" / "rated_call.json").read_text())


@pytest.fixture
def agent():
    module.charged_calls.data.clear()
    return app.agents["charge_calls"]


def rated(key: bytes, fmt="json", **changes) -> bytes:
    server, call = key.decode().split("/")
    return wire.encode("rated_call.v1", {**EXAMPLE, "server_id": server, "call_id": call, **changes}, fmt)


def charges(sent):
    return [(topic, key, wire.decode("balance_charge.v1", value)) for topic, key, value in sent]


async def test_call_debits_user_and_reseller_with_its_origin(agent, sent):
    async with agent.test_context() as ctx:
        await put(ctx, RATED, b"ast1/c1", rated(b"ast1/c1"), partition=2, offset=40)
        await until(lambda: len(sent) == 2)
    assert charges(sent) == [
        (module.CHARGES, b"u1", {"account": "u1", "call": "ast1/c1", "amount": "2.000000",
                                 "origin_partition": 2, "origin_offset": 40}),
        (module.CHARGES, b"r1", {"account": "r1", "call": "ast1/c1", "amount": "1.200000",
                                 "origin_partition": 2, "origin_offset": 40}),
    ]
    assert module.charged_calls[b"ast1/c1"] == b"2:40"


async def test_second_delivery_of_a_call_charges_nothing(agent, sent):
    async with agent.test_context() as ctx:
        await put(ctx, RATED, b"ast1/c2", rated(b"ast1/c2"), partition=1, offset=5)
        await put(ctx, RATED, b"ast1/c2", rated(b"ast1/c2"), partition=1, offset=6)  # another position
        await put(ctx, RATED, b"ast1/c3", rated(b"ast1/c3"), partition=1, offset=7)
        await until(lambda: len(sent) == 4)
        await put(ctx, RATED, b"ast1/c2", rated(b"ast1/c2"), partition=1, offset=9)  # a later batch
        await put(ctx, RATED, b"ast1/c4", rated(b"ast1/c4", reseller="", reseller_price="0"), partition=1, offset=10)
        await until(lambda: len(sent) == 5)
    assert [(c["call"], c["origin_offset"]) for _, _, c in charges(sent)] == \
        [("ast1/c2", 5), ("ast1/c2", 5), ("ast1/c3", 7), ("ast1/c3", 7), ("ast1/c4", 10)]


async def test_replay_of_the_same_position_sends_the_debits_again(agent, sent):
    # after a crash the same cdr.rated position is read again; the ledger drops what it applied
    module.charged_calls.data[b"ast1/c5"] = b"0:3"
    async with agent.test_context() as ctx:
        await put(ctx, RATED, b"ast1/c5", rated(b"ast1/c5"), partition=0, offset=3)
        await until(lambda: len(sent) == 2)
    assert {(c["account"], c["origin_offset"]) for _, _, c in charges(sent)} == {("u1", 3), ("r1", 3)}


async def test_free_call_sends_nothing_and_is_not_remembered(agent, sent):
    async with agent.test_context() as ctx:
        await put(ctx, RATED, b"ast1/c6", rated(b"ast1/c6", user_price="0", reseller_price="0"), 0, 1)
        await put(ctx, RATED, b"ast1/c7", rated(b"ast1/c7"), 0, 2)
        await until(lambda: len(sent) == 2)
    assert {c["call"] for _, _, c in charges(sent)} == {"ast1/c7"}
    assert b"ast1/c6" not in module.charged_calls


async def test_avro_rated_records_are_read_too(agent, sent):
    async with agent.test_context() as ctx:
        await put(ctx, RATED, b"ast1/c8", rated(b"ast1/c8", "avro"), 0, 1)
        await until(lambda: len(sent) == 2)
    assert [c["amount"] for _, _, c in charges(sent)] == ["2.000000", "1.200000"]
    assert orjson.loads(sent[0][2])["account"] == "u1"  # written in the default wire format, JSON
