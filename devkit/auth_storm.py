"""The overspend storm: prepaid users under prepaid resellers open many simultaneous calls through
POST /v1/authorize; each call's CDR says at most its max_seconds. Afterwards every prepaid balance
must be >= 0 to the micro-unit and equal what an independent price model says it should be.

Also measured: the false refusal rate, a refusal for money although, at that moment, the party's
money was neither spent by an ended call nor held by a running one (computed here, from what the
client knows: payments, the CDRs sent, the answers of the calls still running).

Used by `bench-auth --storm` and by tests/integration/test_auth_storm.py (smaller).
"""
from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from pipeline.reference.publish import Located, publish
from pipeline.reference.records import parse_reference_record
from pipeline.settings import Settings

DST = "37060000000"
START = "2026-12-01T10:00:00Z"
USER_RATE = {"rate": "0.3", "connection_fee": "0.01", "increment": 6, "min_time": 12}
RESELLER_RATE = {"rate": "0.12", "increment": 1}
MONEY_REASONS = {"low_balance": "caller", "no_free_balance": "caller", "low_balance_reseller": "reseller"}
MICRO = Decimal("0.000001")


def price(rate: dict, billsec: int) -> Decimal:
    """The pricing rules written out again (the model the pipeline is checked against)."""
    if billsec <= 0:
        return Decimal(0)
    increment, min_time = rate.get("increment", 1), rate.get("min_time", 0)
    billed = max(-(-billsec // increment) * increment, min_time)
    raw = Decimal(rate["rate"]) * billed / 60 + Decimal(rate.get("connection_fee", "0"))
    return raw.quantize(MICRO, ROUND_HALF_UP)


def first_unit(rate: dict) -> Decimal:
    return price(rate, 1)


@dataclass
class World:
    users: dict[str, str]  # user -> reseller
    paid: dict[str, Decimal]

    def records(self) -> list[dict]:
        out = [{"kind": "tariff", "id": "t-storm-admin", "owner": "admin",
                "rates": [{"prefix": "370", **RESELLER_RATE}]}]
        for reseller in sorted(set(self.users.values())):
            out += [{"kind": "account", "id": reseller, "type": "reseller", "tariff": "t-storm-admin",
                     "billing": "prepaid", "allow_loss_calls": True},
                    {"kind": "tariff", "id": f"t-{reseller}", "owner": reseller,
                     "rates": [{"prefix": "370", **USER_RATE}]}]
        out += [{"kind": "account", "id": user, "type": "user", "parent": reseller, "tariff": f"t-{reseller}",
                 "billing": "prepaid", "hold_cap_seconds": 120} for user, reseller in sorted(self.users.items())]
        return out


def make_world(users: int, resellers: int, rng: random.Random) -> World:
    names = {f"su{n}": f"sr{n % resellers}" for n in range(users)}
    paid = {user: Decimal(rng.randint(20, 300)) / 100 for user in names}  # 0.20 .. 3.00
    for reseller in set(names.values()):  # less than his users could spend at his price: he limits them
        paid[reseller] = Decimal(rng.randint(100, 400)) / 100
    return World(names, paid)


@dataclass
class StormReport:
    asked: int = 0
    allowed: int = 0
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    false_refusals: int = 0
    money_refusals: int = 0
    worst_balance: Decimal | None = None
    worst_account: str = ""
    balances_exact: bool = False
    mismatches: dict[str, tuple[Decimal | None, Decimal]] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0


class Ledger:
    """What the client knows of each party's money: paid, spent by ended calls, held by running ones."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.spent: dict[str, Decimal] = defaultdict(Decimal)
        self.running: dict[str, dict[str, Decimal]] = {}  # call -> holds

    def free(self, account: str) -> Decimal:
        held = sum((h.get(account, Decimal(0)) for h in self.running.values()), Decimal(0))
        return self.world.paid[account] - self.spent[account] - held

    def ended(self, call: str, user: str, billsec: int) -> None:
        self.running.pop(call, None)
        self.spent[user] += price(USER_RATE, billsec)
        self.spent[self.world.users[user]] += price(RESELLER_RATE, billsec)


async def storm(settings: Settings, base_url: str, token: str, *, users: int = 40, resellers: int = 4,
                calls: int = 600, concurrency: int = 32, seed: int = 1, say=print) -> StormReport:
    rng = random.Random(seed)
    world = make_world(users, resellers, rng)
    await publish(settings, [Located("storm", n, parse_reference_record(r)) for n, r in enumerate(world.records(), 1)])
    headers = {"Authorization": f"Bearer {token}"}
    report, ledger = StormReport(), Ledger(world)
    # one producer for every CDR (as a switch's adapter has); HTTP connections are not kept alive
    # between questions, so a pause (the CDRs' wait) never finds one the server has closed meanwhile
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5, acks="all")
    await producer.start()
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30, limits=limits) as client:
        send_cdr = _cdr_sender(settings, producer)
        for account in world.paid:  # the API follows ref.accounts: wait until it knows them all
            await _until(lambda a=account: client.get(f"/v1/accounts/{a}"), lambda r: r.status_code == 200)
        for account, amount in world.paid.items():
            answer = await client.post("/v1/payments", json={"id": f"storm-{account}", "account": account,
                                                              "amount": str(amount)})
            answer.raise_for_status()
        await _until_everyone_can_call(client, send_cdr, world, say)
        say(f"storm: {users} prepaid users under {resellers} prepaid resellers, {calls} calls, {concurrency} at once")
        queue = list(range(calls))
        cdrs: list[tuple[bytes, bytes]] = []
        pending_cdrs: list[asyncio.Task] = []
        started = time.perf_counter()

        async def caller() -> None:
            while queue:
                n = queue.pop()
                user = rng.choice(sorted(world.users))
                call = f"storm-{seed}-{n}"
                t0 = time.perf_counter()
                answer = (await client.post("/v1/authorize", json={"server_id": "storm", "call_id": call,
                                                                    "account": user, "dst": DST})).json()
                report.latencies_ms.append((time.perf_counter() - t0) * 1000)
                report.asked += 1
                if not answer["allowed"]:
                    report.refused[answer["reason"]] += 1
                    party = MONEY_REASONS.get(answer["reason"])
                    if party is not None:
                        report.money_refusals += 1
                        who = user if party == "caller" else world.users[user]
                        rate = USER_RATE if party == "caller" else RESELLER_RATE
                        if ledger.free(who) >= first_unit(rate):
                            report.false_refusals += 1
                    continue
                report.allowed += 1
                ledger.running[call] = {a: Decimal(v) for a, v in answer["holds"].items()}
                limit = answer["max_seconds"]
                billsec = rng.choice([0, limit, limit, rng.randint(1, limit)])  # many calls run to their limit
                pending_cdrs.append(asyncio.create_task(end_call(call, user, billsec)))

        async def end_call(call: str, user: str, billsec: int) -> None:
            await asyncio.sleep(rng.uniform(0.05, 0.6))  # the call runs a while: others are asked meanwhile
            cdr = {"call_id": call, "server_id": "storm", "account": user, "dst": DST, "start_time": START,
                   "billsec": billsec}
            await send_cdr(call, cdr)
            cdrs.append((call.encode(), orjson.dumps(cdr)))
            ledger.ended(call, user, billsec)

        await asyncio.gather(*(caller() for _ in range(concurrency)))
        await asyncio.gather(*pending_cdrs)
        report.seconds = time.perf_counter() - started
        say(f"storm: {report.asked} asked, {report.allowed} allowed, {len(cdrs)} CDRs sent; waiting for the balances")
        expected = {account: world.paid[account] - ledger.spent[account] for account in world.paid}
        final = await _settled_balances(client, expected)
    await producer.stop()
    report.mismatches = {a: (final[a], expected[a]) for a in expected if final[a] != expected[a]}
    report.balances_exact = not report.mismatches
    known = {a: b for a, b in final.items() if b is not None}
    if known:
        report.worst_account, report.worst_balance = min(known.items(), key=lambda item: item[1])
    return report


def _cdr_sender(settings: Settings, producer: AIOKafkaProducer):
    async def send(call: str, cdr: dict) -> None:
        await producer.send_and_wait(settings.topic("cdr.raw"), orjson.dumps(cdr), key=call.encode())

    return send


async def _until_everyone_can_call(client: httpx.AsyncClient, send_cdr, world: World, say) -> None:
    """The payments in the authorizer's view: a probe call per user until allowed, ended by a 0 s CDR."""
    deadline = time.monotonic() + 120
    waiting = set(world.users)
    attempt = 0
    while waiting and time.monotonic() < deadline:
        attempt += 1
        for user in sorted(waiting):
            call = f"probe-{user}-{attempt}"
            answer = (await client.post("/v1/authorize", json={"server_id": "storm", "call_id": call,
                                                                "account": user, "dst": DST})).json()
            if answer["allowed"]:
                waiting.discard(user)
                cdr = {"call_id": call, "server_id": "storm", "account": user, "dst": DST, "start_time": START,
                       "billsec": 0}
                await send_cdr(call, cdr)
        await asyncio.sleep(0.3)
    if waiting:
        raise RuntimeError(f"the authorizer never allowed {sorted(waiting)[:5]}")
    for account in world.paid:  # the probes' holds released
        await _wait_account(client, account, lambda b: Decimal(b["held"]) == 0)
    say("storm: every account paid and seen by the authorizer")


async def _until(ask, good, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        answer = await ask()
        if good(answer) or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.2)


async def _wait_account(client: httpx.AsyncClient, account: str, good, timeout: float = 120.0) -> dict:
    deadline, seen = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        seen = (await client.get(f"/v1/balances/{account}")).json()
        if good(seen):
            return seen
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{account}: still {seen} after {timeout} s")


async def _settled_balances(client: httpx.AsyncClient, expected: dict[str, Decimal],
                            timeout: float = 180.0) -> dict[str, Decimal | None]:
    """Every balance once every CDR is charged and every hold released (None: still held at the timeout)."""
    deadline, final = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        final = {}
        for account in expected:
            seen = (await client.get(f"/v1/balances/{account}")).json()
            final[account] = Decimal(seen["balance"]) if Decimal(seen["held"]) == 0 else None
        if all(final[a] == expected[a] for a in expected):
            break
        await asyncio.sleep(0.5)
    return final
