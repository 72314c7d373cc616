"""Chaos under load, shared by test_chaos.py and test_faults.py: the accounts, a load of CDRs and
payments produced while a fault happens, what the outcome must be (priced from the inputs by the
pure rating code, never read back from the pipeline's own outputs), the checks, and the report
table that `pytest_terminal_summary` (tests/integration/conftest.py) prints."""
from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import orjson
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from pipeline.balances.blocking import evaluate
from pipeline.balances.charges import charges_for
from pipeline.cdr.process import Source, process_cdr
from pipeline.control_topic import account_states, current_balances
from pipeline.kafka.clients import KafkaClients
from pipeline.kafka.topic_io import read_all
from pipeline.reference.book import ReferenceBook
from pipeline.reference.publish import read_files
from pipeline.schemas import wire
from pipeline.settings import REPO_ROOT, Settings
from pipeline.sinks.clickhouse import connect
from tests.integration.kit import GUARD_ACTIVE, wait_for

RESELLERS, USERS_PER_RESELLER, DIRECT_USERS = 3, 10, 5
DESTINATIONS = ("37061234567", "37052123456", "447700900123", "12125550123")
REPORT_PATH = REPO_ROOT / "tests" / "artifacts" / "faults-report.md"


# --- the accounts ---------------------------------------------------------------------------------
def chaos_accounts(tmp_path: Path, *, limits: bool = False) -> tuple[Path, list[str]]:
    """Tariffs from the samples plus 3 resellers with 10 users each and 5 direct users.

    Without `limits`: every account postpaid with no credit limit (never blocked: blocking is the
    switch's business, charging must go on regardless). With `limits`: a third of the users
    prepaid, a third postpaid with a credit limit of 300, and reseller cr2 prepaid, so that the
    guard has accounts to block on their own and by the cascade (reseller_blocked)."""
    records = [{"kind": "account", "id": "admin", "type": "admin"},
               {"kind": "provider", "id": "p1", "owner": "admin", "tariff": "t-p1"}]
    users = []

    def billing(n: int) -> dict:
        if not limits or n % 3 == 2:
            return {"billing": "postpaid"}
        return {"billing": "prepaid"} if n % 3 == 0 else {"billing": "postpaid", "credit_limit": "300"}

    for r in range(RESELLERS):
        reseller = f"cr{r}"
        records.append({"kind": "account", "id": reseller, "type": "reseller", "tariff": "t-r-buy",
                        **({"billing": "prepaid"} if limits and r == 2 else {"billing": "postpaid"})})
        records.append({"kind": "tariff", "id": f"t-{reseller}", "owner": reseller,
                        "rates": [{"prefix": "370", "rate": "2"}, {"prefix": "44", "rate": "0.9"}, {"prefix": "1", "rate": "0.5"}]})
        for u in range(USERS_PER_RESELLER):
            users.append(f"{reseller}u{u}")
            records.append({"kind": "account", "id": users[-1], "type": "user", "parent": reseller,
                            "tariff": f"t-{reseller}", **billing(u)})
    for d in range(DIRECT_USERS):
        users.append(f"cd{d}")
        records.append({"kind": "account", "id": users[-1], "type": "user", "tariff": "t-direct", **billing(d)})
    path = tmp_path / "chaos-resellers.json"
    path.write_bytes(orjson.dumps(records))
    return path, users


def chaos_cdr(tag: str, n: int, account: str, rng: random.Random) -> tuple[bytes, bytes]:
    cdr = {"call_id": f"{tag}-{n}", "server_id": "ast1", "account": account, "dst": rng.choice(DESTINATIONS),
           "start_time": f"2026-11-2{rng.randrange(3, 8)}T{rng.randrange(10, 23)}:00:00Z",
           "billsec": rng.choice((0, rng.randrange(1, 900))), "provider": "p1"}
    return cdr["call_id"].encode(), orjson.dumps(cdr)


def reference_book(*files: Path) -> ReferenceBook:
    """The reference data as the workers read it from ref.*, built from the same files."""
    book = ReferenceBook()
    for located in read_files([str(f) for f in files]):
        book.apply(located.record)
    return book


# --- a load and what it must come to --------------------------------------------------------------
@dataclass
class Load:
    """CDRs and payments in the order they are sent (re-sent ones included), and the outcome the
    pipeline owes: each distinct call priced by the pure rating code, and the payments by id."""

    cdrs: list[tuple[bytes, bytes]]
    payments: list[tuple[bytes, bytes]]
    priced: dict[str, dict]  # call key -> its cdr.rated record, as process_cdr makes it
    paid: dict[str, Decimal]  # account -> the sum of its distinct payments

    def balances(self) -> dict[str, Decimal]:
        """Payments minus each distinct call's debits, per account (zeros left out)."""
        balances = defaultdict(Decimal, self.paid)
        for record in self.priced.values():
            for account, amount in charges_for(record):
                balances[account] -= amount
        return {a: b for a, b in balances.items() if b != 0}

    def price_sums(self) -> tuple[Decimal, Decimal, Decimal]:
        return tuple(sum((Decimal(r[f"{level}_price"]) for r in self.priced.values()), Decimal(0))
                     for level in ("user", "reseller", "provider"))


def make_load(book: ReferenceBook, users: list[str], *, tag: str, cdrs: int, payments: int, seed: int,
              payment_cents: tuple[int, int] = (100, 10_000)) -> Load:
    """`cdrs` distinct calls with 5% of them sent twice (a switch re-sends), `payments` payments
    with 5% sent twice (the same id counts once), shuffled into one stream each."""
    rng = random.Random(seed)
    calls = [chaos_cdr(tag, n, rng.choice(users), rng) for n in range(cdrs)]
    sent = calls + rng.sample(calls, cdrs // 20)
    rng.shuffle(sent)
    payers = users + [f"cr{r}" for r in range(RESELLERS - 1)]  # cr2 (prepaid with limits) pays nothing
    pays, paid = [], defaultdict(Decimal)
    for n in range(payments):
        account = rng.choice(payers)
        amount = Decimal(rng.randrange(*payment_cents)) / 100
        pays.append((account.encode(), orjson.dumps({"id": f"{tag}-pay-{n}", "account": account, "amount": str(amount)})))
        paid[account] += amount
    pays += rng.sample(pays, payments // 20)
    rng.shuffle(pays)
    priced = {}
    rated_at = datetime.now(timezone.utc)
    for n, (key, value) in enumerate(calls):
        output = process_cdr(key, value, Source("cdr.raw", 0, n), book, rated_at)
        assert output.rated, f"an input of the load is not valid: {output.value[:300]!r}"
        priced[output.key.decode()] = wire.decode("rated_call.v1", output.value)
    return Load(sent, pays, priced, dict(paid))


class LoadRun:
    """Produces a load over about `seconds` in small slices, on the product's own producer
    (acks=all, idempotent); each slice's acks are awaited before the next. A slice the broker
    does not acknowledge is sent again, as a switch or a billing system would: the pipeline must
    count it once all the same."""

    def __init__(self, settings: Settings, load: Load, seconds: float = 15.0, slices: int = 60) -> None:
        self.settings, self.load, self.seconds, self.slices = settings, load, seconds, slices
        self.sent_slices = 0
        self.resent = 0
        self.started = 0.0
        self.done_at = 0.0  # seconds into the load when its last slice was acknowledged
        self.task: asyncio.Task | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    async def start(self) -> LoadRun:
        self.started = time.monotonic()
        self.task = asyncio.create_task(self._produce())
        return self

    async def until(self, fraction: float) -> float:
        """Wait until that share of the load is acknowledged; the seconds into the load."""
        while self.sent_slices < fraction * self.slices:
            if self.task.done():
                self.task.result()  # its error, if any
                break
            await asyncio.sleep(0.05)
        return self.elapsed()

    async def finish(self, timeout: float = 180.0) -> float:
        """Wait for the last slice's acks; the seconds into the load when they came."""
        await asyncio.wait_for(self.task, timeout)
        return self.done_at

    async def _produce(self) -> None:
        producer = KafkaClients(self.settings).producer(linger_ms=5)
        await producer.start()
        try:
            cdr_topic, pay_topic = self.settings.topic("cdr.raw"), self.settings.topic("balance.payments")
            for n in range(self.slices):
                part = ([(cdr_topic, m) for m in self.load.cdrs[n::self.slices]]
                        + [(pay_topic, m) for m in self.load.payments[n::self.slices]])
                for attempt in range(5):
                    try:
                        futures = [await producer.send(topic, value, key=key) for topic, (key, value) in part]
                        await asyncio.gather(*futures)
                        break
                    except Exception:  # noqa: BLE001 - unacknowledged: sent again, as a client would
                        if attempt == 4:
                            raise
                        self.resent += 1
                        await asyncio.sleep(1.0)
                self.sent_slices, self.done_at = n + 1, self.elapsed()
                await asyncio.sleep(max(0.0, self.started + (n + 1) * self.seconds / self.slices - time.monotonic()))
        finally:
            await producer.stop()


# --- the checks -----------------------------------------------------------------------------------
@dataclass
class Outcome:
    """The figures of the checks, for the report."""

    cdrs_sent: int = 0
    calls: int = 0
    payments_sent: int = 0
    accounts_exact: str = ""
    clickhouse: str = ""
    blocked: str = ""
    rejected: int = -1


async def check_outcome(settings: Settings, load: Load, book: ReferenceBook, outcome: Outcome,
                        timeout: float = 120.0) -> None:
    """Every balance exact to the micro-unit, every call once on cdr.rated and in rated_calls
    FINAL at its price, switch.control as the balances say, nothing rejected. Fills `outcome`
    as it goes, so a failed check still reports what passed."""
    outcome.cdrs_sent, outcome.calls, outcome.payments_sent = len(load.cdrs), len(load.priced), len(load.payments)
    expected = load.balances()
    await wait_for(lambda: balances_match(settings, expected), timeout, "exact balances")
    outcome.accounts_exact = f"{len(expected)}/{len(expected)}"

    rated = {m.key.decode(): wire.decode("rated_call.v1", m.value) for m in await read_all(settings, "cdr.rated")}
    assert rated.keys() == load.priced.keys(), (
        f"cdr.rated: {len(rated.keys() - load.priced.keys())} unknown calls, "
        f"{len(load.priced.keys() - rated.keys())} missing")
    wrong = [k for k, r in rated.items() if charges_for(r) != charges_for(load.priced[k])]
    assert not wrong, f"{len(wrong)} calls on cdr.rated at another price than the rating code's, e.g. {wrong[:3]}"

    rows = await wait_for(lambda: clickhouse_calls(settings, len(load.priced)), timeout, "every call in ClickHouse")
    count, distinct, sums = rows
    assert (count, distinct) == (len(load.priced), len(load.priced)), f"rated_calls FINAL: {count} rows, {distinct} calls"
    assert sums == load.price_sums(), f"rated_calls FINAL price sums {sums} != {load.price_sums()}"
    outcome.clickhouse = f"{count} rows = {distinct} calls, sums exact"

    states = expected_states(book, expected, settings.default_server)
    blocked = sum(1 for s in states.values() if s[0] == "blocked")
    assert 0 < blocked < len(states), f"the load should leave some accounts blocked and some not: {blocked}/{len(states)}"
    await wait_for(lambda: states_differ(settings, states), 60, "switch.control as the balances say")
    outcome.blocked = f"{blocked} blocked, {len(states) - blocked} active: consistent"

    outcome.rejected = await count_rejected(settings)
    assert outcome.rejected == 0, f"{outcome.rejected} messages on cdr.rejected, all inputs were valid"


def expected_states(book: ReferenceBook, balances: dict[str, Decimal], default_server: str) -> dict[str, tuple[str, str]]:
    """account -> (state, server) the guard owes the switches for these balances. Not the reason:
    the guard signals only when an account flips or moves (README), so a user blocked for his own
    balance stays so on switch.control when he pays while his reseller is blocked."""
    states = {}
    for account in book.accounts():
        state = evaluate(account.id, book.account, balances, default_server)
        if state is not None:
            states[account.id] = (state.state, state.server)
    return states


class StatesDiffer(dict):
    """account -> (on switch.control, expected); falsy while they differ, so that wait_for shows it."""

    def __bool__(self) -> bool:
        return False


async def states_differ(settings: Settings, expected: dict[str, tuple[str, str]]):
    """True once switch.control says what `expected` says of every account, else the differences."""
    states = await account_states(settings)
    got = {a: (s["state"], s["server"]) for a, s in states.items()}
    differences = {a: (got.get(a), want) for a, want in expected.items() if got.get(a) != want}
    return StatesDiffer(differences) if differences else True


def clickhouse_calls(settings: Settings, wanted: int):
    """(rows, distinct calls, (user, reseller, provider) price sums) in rated_calls FINAL, once
    every call is there; None before (or while ClickHouse does not answer)."""
    try:
        client = connect(settings)
    except Exception:  # noqa: BLE001 - down or still starting
        return None
    try:
        [(count, distinct, *sums)] = client.execute(
            f"SELECT count(), uniqExact(server_id, call_id), sum(user_price), sum(reseller_price), sum(provider_price) "
            f"FROM {settings.clickhouse_database}.rated_calls FINAL")
    except Exception:  # noqa: BLE001
        return None
    finally:
        client.disconnect()
    return (count, distinct, tuple(Decimal(s) for s in sums)) if distinct >= wanted else None


# --- test_chaos.py's own checks (it prices from cdr.rated: it re-sends with random kills) ---------
async def expected_balances(settings, paid, calls: int) -> dict[str, Decimal]:
    """Payments minus each distinct call's prices, computed from the inputs and cdr.rated's prices.

    Waits until every call is on cdr.rated; uses one record per call however often it is there.
    """
    records = await wait_for(lambda: distinct_rated(settings, calls), 240, f"{calls} distinct rated calls")
    balances = defaultdict(Decimal, paid)
    for record in records.values():
        for account, amount in charges_for(record):
            balances[account] -= amount
    return dict(balances)


async def distinct_rated(settings, calls: int):
    records = {m.key: wire.decode("rated_call.v1", m.value) for m in await read_all(settings, "cdr.rated")}
    return records if len(records) >= calls else None


async def balances_match(settings, expected: dict[str, Decimal]) -> bool:
    actual = {a: b for a, b in (await current_balances(settings)).items() if b != 0}
    return actual == {a: b for a, b in expected.items() if b != 0}


async def count_rejected(settings) -> int:
    return len(await read_all(settings, "cdr.rejected"))


# --- faults ---------------------------------------------------------------------------------------
async def group_members(settings: Settings, stage: str) -> tuple[str, tuple[str, ...]]:
    """(state, member ids) of a stage's consumer group: a member that left (or was dropped) and
    joined again has a new member id."""
    admin = KafkaClients(settings).admin()
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([f"{settings.app_id}-{stage}"])
    finally:
        await admin.close()
    [group] = response.to_object()["groups"]
    return group["state"], tuple(sorted(m["member_id"] for m in group["members"]))


async def coordinator_of(settings: Settings, stage: str) -> int:
    """The broker node that coordinates a stage's consumer group (its joins, heartbeats, commits)."""
    admin = KafkaClients(settings).admin()
    await admin.start()
    try:
        return await admin.find_coordinator(f"{settings.app_id}-{stage}")
    finally:
        await admin.close()


async def replication(settings: Settings, topic: str) -> tuple[set[int], str]:
    """(replica counts of the topic's partitions, its min.insync.replicas)."""
    admin = KafkaClients(settings).admin()
    await admin.start()
    try:
        name = settings.topic(topic)
        [described] = await admin.describe_topics([name])
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        await admin.close()
    [resource] = response.to_object()["resources"]
    configs = {c["config_names"]: c["config_value"] for c in resource["config_entries"]}
    return {len(p["replicas"]) for p in described["partitions"]}, configs.get("min.insync.replicas", "")


def guard_lines(worker) -> list[str]:
    """The worker's "balance guard active" lines: one each time it took the guard's partition."""
    return [line for line in worker.log_path.read_text(errors="replace").splitlines() if GUARD_ACTIVE in line]


def guard_holder(*workers):
    """Of live workers, the one that took the guard last (log lines start with their time)."""
    taken = [(lines[-1][:25], worker) for worker in workers if worker.alive() and (lines := guard_lines(worker))]
    return max(taken, key=lambda pair: pair[0])[1] if taken else None


def stack_pid_file() -> Path:
    """deploy/local/lib.sh: $RATING_LOCAL_DIR (default <repo>/.local) /run/clickhouse.pid."""
    state_dir = os.environ.get("RATING_LOCAL_DIR") or str(REPO_ROOT / ".local")
    return Path(state_dir).resolve() / "run" / "clickhouse.pid"


def native_address() -> tuple[str, int]:
    url = urlparse(Settings().clickhouse_url)  # the default environment's server, as `up` reads it
    return url.hostname or "127.0.0.1", url.port or 9000


def refuses_connections(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=1).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


def gone(pid: int) -> bool:
    """Exited (or a zombie nobody reaped yet: it serves nothing either)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return any(line.startswith("State:") and "Z" in line.split()[1] for line in status.splitlines())


def stop_clickhouse(timeout: float = 60.0) -> None:
    """SIGTERM to the shared local ClickHouse server; returns once it refuses connections."""
    pid_file = stack_pid_file()
    pid = int(pid_file.read_text().strip())
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    # the same check as lib.sh pid_is_ours: never signal a process that merely reused the number
    assert "clickhouse-server" in command and str(pid_file.parent.parent) in command, command
    os.kill(pid, signal.SIGTERM)
    address = native_address()
    deadline = time.monotonic() + timeout
    while not (gone(pid) and refuses_connections(address)):
        if time.monotonic() > deadline:
            raise AssertionError(f"ClickHouse (pid {pid}) still running {timeout} s after SIGTERM")
        time.sleep(0.2)


def start_clickhouse() -> None:
    # the default environment on purpose: the test settings' RATING_LOCAL_DIR is a temp dir
    subprocess.run([str(REPO_ROOT / "deploy" / "local" / "up")], check=True, timeout=300,
                   stdout=subprocess.DEVNULL)


# --- the report -----------------------------------------------------------------------------------
@dataclass
class FaultRow:
    case: str
    fault: str = ""
    at: str = ""  # seconds into the load
    outcome: Outcome = field(default_factory=Outcome)
    load: str = ""  # when the load was all acknowledged, and slices sent again
    seconds: float = 0.0
    result: str = "not run"

    async def load_done(self, run: LoadRun) -> None:
        done = await run.finish()
        self.load = f"{done:.1f}" + (f", {run.resent} slices re-sent" if run.resent else "")


COLUMNS = ("case", "fault", "when (s into load)", "load done (s)", "CDRs sent / calls", "payments", "balances exact",
           "rated_calls FINAL", "switch.control", "cdr.rejected", "test s", "result")
FAULT_ROWS: list[FaultRow] = []


def report_lines() -> list[str]:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in FAULT_ROWS:
        o = row.outcome
        cells = (row.case, row.fault, row.at, row.load or "-", f"{o.cdrs_sent} / {o.calls}", str(o.payments_sent),
                 o.accounts_exact or "-", o.clickhouse or "-", o.blocked or "-",
                 "-" if o.rejected < 0 else str(o.rejected), f"{row.seconds:.0f}", row.result)
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return lines


@contextlib.asynccontextmanager
async def reported(case: str):
    """A row of the report for the case: its figures, its time and its result, pass or fail."""
    row = FaultRow(case)
    FAULT_ROWS.append(row)
    started = time.monotonic()
    try:
        yield row
        row.result = "pass"
    except BaseException as exc:
        row.result = f"FAIL: {type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
        raise
    finally:
        row.seconds = time.monotonic() - started


def write_report() -> list[str]:
    lines = report_lines()
    REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    REPORT_PATH.write_text("# Faults under load (tests/integration/test_faults.py)\n\n" + "\n".join(lines) + "\n")
    return lines
