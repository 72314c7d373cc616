"""The money stages (charge, payments, balances) and the rating stage on the in-memory broker:
their dedup and retry rules, in seconds and without Kafka."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from pipeline.kafka.topics import REFERENCE_TOPICS, TOPICS, partitions_of
from pipeline.reference.feed import ReferenceFeed
from pipeline.reference.publish import read_files
from pipeline.runtime import checkpoint as checkpoint_module
from pipeline.schemas import wire
from pipeline.settings import REPO_ROOT, Settings
from pipeline.stages.accept_payments import AcceptPayments
from pipeline.stages.apply_balances import ApplyBalances
from pipeline.stages.charge_calls import ChargeCalls, call_state_key
from pipeline.stages.rate_cdrs import RateCdrs
from tests.runtime.conftest import run_steps
from tests.unit.sinks.rated_example import example_json

SETTINGS = Settings(topic_prefix="", partitions=2, dedup_days=62)
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _commit_every_step(monkeypatch):
    monkeypatch.setattr(checkpoint_module, "COMMIT_EVERY", 0.0)


@pytest.fixture
def topics(broker):
    for spec in TOPICS:
        broker.create_topic(spec.name, partitions_of(spec, SETTINGS))
    return broker


@pytest.fixture
async def feed(topics):
    """The seed's reference data (samples/), read by a ReferenceFeed from the memory broker."""
    for located in read_files([str(REPO_ROOT / "samples" / "operator.json"), str(REPO_ROOT / "samples" / "resellers.json")]):
        publish_reference(topics, located.record)
    feed = ReferenceFeed(SETTINGS, topics.clients())
    await feed.start()
    await feed.catch_up()
    yield feed
    await feed.stop()


def publish_reference(broker, record) -> None:
    body = orjson.dumps(record.model_dump(mode="json", exclude_none=True))
    broker.append(TopicPartition(REFERENCE_TOPICS[record.kind], 0), record.id.encode(), body)


def rated(call_id: str, start: datetime = NOW, **changes) -> tuple[bytes, bytes]:
    record = {**example_json(), "call_id": call_id, "start_time": int(start.timestamp() * 1000), **changes}
    return f"{record['server_id']}/{call_id}".encode(), wire.encode("rated_call.v1", record)


def charges(broker) -> list[dict]:
    """Every debit sent, one dict each (a balance.charges v2 message carries a batch's)."""
    debits = []
    for r in broker.records("balance.charges"):
        charge = orjson.loads(r.value)
        if "offsets" not in charge:  # a v1 debit
            debits.append(charge)
            continue
        for offset, amount in zip(charge["offsets"], charge["amounts"]):
            debits.append({"account": charge["account"], "origin_partition": charge["origin_partition"],
                           "origin_offset": offset, "amount": amount})
    return debits


async def test_a_call_delivered_twice_is_charged_once_and_a_replay_resends_the_same_debits(topics, make_checkpointer):
    key, value = rated("c1")
    topics.append(TopicPartition("cdr.rated", 0), key, value)
    topics.append(TopicPartition("cdr.rated", 0), key, value)  # second delivery, another offset
    stage = make_checkpointer(ChargeCalls(SETTINGS, clock=lambda: NOW))
    await stage.start()
    await run_steps(stage, 3)
    first = charges(topics)
    assert {c["origin_offset"] for c in first} == {0}  # only the first delivery debits
    # a replay of the same position (a crash before the commit) sends the same debits again
    stage.consumer.seek(TopicPartition("cdr.rated", 0), 0)
    await run_steps(stage, 3)
    await stage.stop()
    again = charges(topics)[len(first):]
    assert again == first


async def test_calls_are_forgotten_after_the_dedup_window(topics, make_checkpointer):
    old_start = NOW - timedelta(days=70)
    topics.append(TopicPartition("cdr.rated", 0), *rated("old", start=old_start))
    clock = {"now": old_start}
    stage = make_checkpointer(ChargeCalls(SETTINGS, clock=lambda: clock["now"]))
    await stage.start()
    await run_steps(stage, 2)
    state = stage.stores["charged_calls"].partition(0)
    key = call_state_key(old_start, rated("old")[0])
    assert [k for k, _ in state.items()] == [key]
    clock["now"] = NOW  # 70 days later: past the 62-day window
    topics.append(TopicPartition("cdr.rated", 0), *rated("new"))
    await run_steps(stage, 3)
    await stage.stop()
    tombstones = [r for r in topics.records("state.charged_calls") if r.value is None]
    assert [r.key for r in tombstones] == [key]


def payment(broker, partition: int, pid: str, account: str, amount: str) -> None:
    broker.append(TopicPartition("balance.payments", partition), account.encode(),
                  orjson.dumps({"id": pid, "account": account, "amount": amount}))


async def test_a_payment_on_any_partition_is_rekeyed_beside_the_accounts_charges(topics, feed, make_checkpointer):
    payment(topics, 1, "p1", "u1", "10")  # a librdkafka client put it wherever CRC32 said
    payment(topics, 0, "p2", "nobody", "5")  # an account that does not exist
    stage = make_checkpointer(AcceptPayments(SETTINGS, feed))
    await stage.start()
    await run_steps(stage, 3)
    await stage.stop()
    accepted = topics.records("balance.payments.accepted")
    parts = sorted(topics.partitions("balance.payments.accepted"))
    assert [(r.key, r.partition) for r in accepted] == [(b"u1", DefaultPartitioner()(b"u1", parts, parts))]
    rejected = [orjson.loads(r.value) for r in topics.records("cdr.rejected")]
    assert [(r["reason"], r["offset"]) for r in rejected] == [("bad_payment", 0)]
    assert "nobody" in rejected[0]["detail"]


async def test_a_payment_for_an_account_published_a_moment_ago_is_accepted(topics, feed, make_checkpointer):
    payment(topics, 0, "p1", "u-new", "10")
    stage = make_checkpointer(AcceptPayments(SETTINGS, feed))
    await stage.start()
    # the account arrives after the feed caught up, before the payment is judged
    new_user = next(r.record for r in read_files([str(REPO_ROOT / "samples" / "resellers.json")])
                    if r.record.kind == "account" and r.record.type == "user")
    publish_reference(topics, new_user.model_copy(update={"id": "u-new"}))
    await run_steps(stage, 2)
    await stage.stop()
    assert [r.key for r in topics.records("balance.payments.accepted")] == [b"u-new"]
    assert topics.records("cdr.rejected") == []


def accepted_payment(broker, pid: str, account: str, amount: str) -> None:
    parts = broker.partitions("balance.payments.accepted")
    partition = DefaultPartitioner()(account.encode(), parts, parts)
    broker.append(TopicPartition("balance.payments.accepted", partition), account.encode(), orjson.dumps(
        {"id": pid, "account": account, "amount": amount, "timestamp": int(NOW.timestamp() * 1000),
         "origin": "balance.payments/0/7"}))


def balances(broker) -> dict[str, Decimal]:
    latest: dict[str, tuple[int, Decimal]] = {}
    for r in broker.records("balance.updates"):
        update = orjson.loads(r.value)
        if update["seq"] >= latest.get(update["account"], (-1, 0))[0]:
            latest[update["account"]] = (update["seq"], Decimal(update["balance"]))
    return {a: b for a, (_, b) in latest.items()}


async def test_a_payment_id_counts_once_and_another_amount_under_it_is_reported(topics, make_checkpointer):
    accepted_payment(topics, "p1", "u1", "10")
    accepted_payment(topics, "p1", "u1", "10")  # the billing system sent it twice
    accepted_payment(topics, "p1", "u1", "99")  # ... and then a different amount under that id
    stage = make_checkpointer(ApplyBalances(SETTINGS, clock=lambda: NOW))
    await stage.start()
    await run_steps(stage, 3)
    await stage.stop()
    assert balances(topics) == {"u1": Decimal("10")}
    rejected = [orjson.loads(r.value) for r in topics.records("cdr.rejected")]
    assert [r["reason"] for r in rejected] == ["bad_payment"]
    assert "99" in rejected[0]["detail"] and "10" in rejected[0]["detail"]


async def test_a_replayed_debit_is_not_applied_twice(topics, make_checkpointer):
    parts = topics.partitions("balance.charges")
    partition = DefaultPartitioner()(b"u1", parts, parts)
    charge = {"account": "u1", "call": "ast1/c1", "amount": "0.5", "origin_partition": 0, "origin_offset": 3}
    for _ in range(2):
        topics.append(TopicPartition("balance.charges", partition), b"u1", orjson.dumps(charge))
    stage = make_checkpointer(ApplyBalances(SETTINGS, clock=lambda: NOW))
    await stage.start()
    await run_steps(stage, 3)
    await stage.stop()
    assert balances(topics) == {"u1": Decimal("-0.5")}


async def test_a_replay_cut_into_other_batches_still_debits_each_call_once(topics, make_checkpointer):
    """Debits travel a batch at a time (one message per account): a replay after a crash starts
    inside what an earlier message already carried, and only the calls past it may count."""
    from pipeline.balances.charges import charges_for

    calls = [rated(f"c{n}") for n in range(4)]
    for key, value in calls[:3]:
        topics.append(TopicPartition("cdr.rated", 0), key, value)
    charge = make_checkpointer(ChargeCalls(SETTINGS, clock=lambda: NOW))
    await charge.start()
    await run_steps(charge, 3)  # c0..c2 in one message per account
    charge.consumer.seek(TopicPartition("cdr.rated", 0), 1)  # the crash: c1, c2 again, with c3
    topics.append(TopicPartition("cdr.rated", 0), *calls[3])
    await run_steps(charge, 3)
    await charge.stop()
    # an old worker's single debit (v1), replayed as well: applied once with the rest
    v1 = {"account": "u1", "call": "ast1/c0", "amount": "0.5", "origin_partition": 1, "origin_offset": 0}
    parts = topics.partitions("balance.charges")
    for _ in range(2):
        topics.append(TopicPartition("balance.charges", DefaultPartitioner()(b"u1", parts, parts)), b"u1",
                      orjson.dumps(v1))
    balance = make_checkpointer(ApplyBalances(SETTINGS, clock=lambda: NOW))
    await balance.start()
    await run_steps(balance, 3)
    await balance.stop()
    expected: dict[str, Decimal] = {"u1": Decimal("-0.5")}
    for _, value in calls:
        for account, amount in charges_for(orjson.loads(value)):
            expected[account] = expected.get(account, Decimal(0)) - amount
    assert len(charges(topics)) > len(expected)  # the replay did send c1 and c2's debits again
    assert balances(topics) == expected


def cdr(call_id: str, account: str) -> bytes:
    return orjson.dumps({"call_id": call_id, "server_id": "ast1", "account": account, "dst": "37060000000",
                         "start_time": NOW.isoformat(), "billsec": 60, "provider": "p1"})


async def test_a_cdr_for_an_account_published_a_moment_ago_is_rated_not_rejected(topics, feed, make_checkpointer):
    topics.append(TopicPartition("cdr.raw", 0), b"x", cdr("c1", "u-new"))
    stage = make_checkpointer(RateCdrs(SETTINGS, feed))
    await stage.start()
    new_user = next(r.record for r in read_files([str(REPO_ROOT / "samples" / "resellers.json")])
                    if r.record.kind == "account" and r.record.type == "user")
    publish_reference(topics, new_user.model_copy(update={"id": "u-new"}))  # after the feed caught up
    await run_steps(stage, 2)
    await stage.stop()
    assert [r.key for r in topics.records("cdr.rated")] == [b"ast1/c1"]
    assert topics.records("cdr.rejected") == []


async def test_a_cdr_older_than_the_window_is_rejected_too_old_unless_replayed_with_the_override(topics, feed, make_checkpointer):
    old = orjson.dumps({**orjson.loads(cdr("c1", "u1")), "start_time": "2020-01-01T00:00:00Z"})
    topics.append(TopicPartition("cdr.raw", 0), b"x", old)
    topics.append(TopicPartition("cdr.raw", 0), b"x", old, headers=[("rating-allow-old", b"1")])
    stage = make_checkpointer(RateCdrs(SETTINGS, feed))
    await stage.start()
    await run_steps(stage, 2)
    await stage.stop()
    assert [orjson.loads(r.value)["reason"] for r in topics.records("cdr.rejected")] == ["too_old"]
    assert len(topics.records("cdr.rated")) == 1


async def test_a_rerating_adjustment_moves_the_balance_once_however_often_it_is_sent(topics, make_checkpointer):
    parts = topics.partitions("balance.adjustments")
    partition = DefaultPartitioner()(b"u1", parts, parts)
    adjustment = {"id": "run-1/ast1%2Fx/c1/u1", "account": "u1", "amount": "-0.25", "rerate_id": "run-1",
                  "call": "ast1/c1"}
    for _ in range(3):  # the run repeated, or resumed after a crash
        topics.append(TopicPartition("balance.adjustments", partition), b"u1", orjson.dumps(adjustment))
    stage = make_checkpointer(ApplyBalances(SETTINGS, clock=lambda: NOW))
    await stage.start()
    await run_steps(stage, 3)
    await stage.stop()
    assert balances(topics) == {"u1": Decimal("0.25")}  # the new price was 0.25 lower: u1 gets it back


async def test_an_unreadable_record_on_switch_control_does_not_stop_the_guard_taking_over(topics, feed, make_checkpointer):
    from pipeline.stages.guard_balances import GuardBalances

    topics.append(TopicPartition("switch.control", 0), b"u1", b"not a signal")  # written by hand
    stage = make_checkpointer(GuardBalances(SETTINGS, feed, topics.clients()))
    await stage.start()
    await run_steps(stage, 3)
    await stage.stop()
    signals = {r.key: orjson.loads(r.value) for r in topics.records("switch.control") if r.value != b"not a signal"}
    assert signals[b"u1"]["state"] == "blocked"  # prepaid at 0: judged and published all the same
    assert not stage.holding_failed


async def test_rated_calls_settle_holds_naming_whom_they_debit_and_ledgers_say_what_they_include(
        topics, make_checkpointer):
    """The authorizer's two inputs: every rated call once on auth.settlements (a second delivery
    charges nothing and settles nothing), and each balance update's cdr.rated offsets."""
    for n, value in enumerate((rated("c1"), rated("c1"), rated("c2", billsec=0, disposition="NO ANSWER", user_price="0", reseller_price="0"))):
        topics.append(TopicPartition("cdr.rated", 0), *value)
    charge = make_checkpointer(ChargeCalls(SETTINGS, clock=lambda: NOW))
    await charge.start()
    await run_steps(charge, 3)
    await charge.stop()
    settled = [entry for r in topics.records("auth.settlements") for entry in orjson.loads(r.value)["calls"]]
    example = example_json()
    payers = sorted(a for a in (example["account"], example["reseller"]) if a)
    assert [(key, partition, offset, sorted(debited)) for key, partition, offset, debited in settled] == [
        (f"{example['server_id']}/c1", 0, 0, payers), (f"{example['server_id']}/c2", 0, 2, [])]
    balance = make_checkpointer(ApplyBalances(SETTINGS, clock=lambda: NOW))
    await balance.start()
    await run_steps(balance, 3)
    await balance.stop()
    updates = [orjson.loads(r.value) for r in topics.records("balance.updates")]
    assert {u["account"] for u in updates} == set(payers)
    assert all(u["watermarks"] == {"0": 0} for u in updates)
