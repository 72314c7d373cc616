"""bench-api: p50/p99 of a reseller's calls page and stats page with N calls in ClickHouse, and API
write throughput, each beside the same work done raw in the same run (clickhouse-driver for the
reads, reference_apply.publish for the writes). The same two queries on the same calls also run on
current ClickHouse (chdb, in process, on the same cores): the local server is 18.16, production's is
24+, and the pages' cost is in ClickHouse's FINAL.

Everything goes to a scratch topic prefix and ClickHouse database, dropped at the end. The API runs
as in production (uvicorn, the Kafka follower, ClickHouse) and is called over HTTP.
`python -m devkit.bench_api --calls 1000000` (the lead wires `python -m pipeline bench-api`).
"""
from __future__ import annotations

import argparse
import asyncio
import random
import socket
import statistics
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable

from devkit.scratch import delete_topics_with_prefix
from pipeline.settings import REPO_ROOT, Settings

CHUNK = 100_000
COLUMNS = ("server_id", "call_id", "account", "reseller", "provider", "dst", "start_time", "billsec", "disposition",
           "user_prefix", "user_price", "reseller_price", "provider_price", "reseller_profit", "admin_profit",
           "currency", "loss", "version")
# (account, reseller, share of the calls): the samples' accounts
CALLERS = (("u1", "r1", 0.3), ("u2", "r1", 0.2), ("u3", "r2", 0.3), ("d1", "", 0.2))
DAYS = 30


@contextmanager
def serving(app, port: int | None = None):
    """The app on a real HTTP port (uvicorn in a thread); yields its base URL."""
    import uvicorn

    if port is None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="api-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API did not start (see the log above)")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def call_rows(count: int, seed: int = 7):
    """`count` rated calls over the last DAYS days, in chunks of rows for clickhouse-driver."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    weights = [share for *_, share in CALLERS]
    prefixes = [f"{country}{n}" for country in ("370", "44", "1", "49", "33") for n in range(10)]
    for start in range(0, count, CHUNK):
        rows = []
        for number in range(start, min(start + CHUNK, count)):
            account, reseller, _ = rng.choices(CALLERS, weights)[0]
            billsec = rng.choice((0, 0, 12, 35, 60, 95, 180, 600))
            minutes = Decimal(billsec) / 60
            user, res, prov = (minutes * 2).quantize(Decimal("0.000001")), (minutes * Decimal("1.2")).quantize(
                Decimal("0.000001")), (minutes * Decimal("0.3")).quantize(Decimal("0.000001"))
            prefix = rng.choice(prefixes)
            rows.append(("bench", f"c{number}", account, reseller, "p1", prefix + "5550100",
                         now - timedelta(seconds=rng.randrange(DAYS * 86400)), billsec,
                         "ANSWERED" if billsec else "NO ANSWER", prefix, user, res if reseller else Decimal(0), prov,
                         user - res if reseller else Decimal(0), res - prov if reseller else user - prov, "EUR", 0, 1))
        yield rows


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed(action: Callable[[], object], count: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def run(settings: Settings, calls: int, requests: int, writes: int, progress: Callable[[str], None] = print) -> dict:
    import httpx

    from pipeline.api import queries
    from pipeline.api.app import production_app
    from pipeline.api.config import ApiConfig
    from pipeline.api.kafka_backend import ensure_api_topics, publish_logins
    from pipeline.api.queries import Period
    from pipeline.api.visibility import Scope
    from pipeline.rating.reference import parse_reference_record
    from pipeline.reference_apply import Located, apply_files, publish
    from pipeline.sinks.clickhouse import client_url, connect
    from pipeline.sinks.migrate import migrate

    tag = uuid.uuid4().hex[:8]
    database = f"{settings.clickhouse_database}_benchapi_{tag}"
    scratch = settings.model_copy(update={"topic_prefix": f"bench-api-{tag}-",
                                          "clickhouse_url": client_url(settings, database)})
    samples = REPO_ROOT / "samples"
    results: dict[str, tuple[float, float] | float] = {}
    try:
        migrate(scratch)
        async def prepare() -> str:
            await ensure_api_topics(scratch)
            await apply_files(scratch, [str(samples / "operator.json"), str(samples / "resellers.json")])
            return (await publish_logins(scratch, ["r1"]))["r1"]

        token = asyncio.run(prepare())
        client = connect(scratch)
        started = time.perf_counter()
        insert = f"INSERT INTO {database}.rated_calls ({', '.join(COLUMNS)}) VALUES"
        for rows in call_rows(calls):
            client.execute(insert, rows)
        progress(f"{calls:,} calls inserted into {database} in {time.perf_counter() - started:.1f} s")

        today = datetime.now(timezone.utc).date()
        period = Period(today - timedelta(days=DAYS), today)
        query = f"from={period.first}&to={period.last}"
        scope = Scope("reseller", "r1")
        pages = {"calls page": lambda db: queries.calls(db, scope, period, 100, 0),
                 "stats page": lambda db: queries.stats(db, scope, period, True)}
        raw_calls, raw_stats = (page(database) for page in pages.values())
        with serving(production_app(scratch, ApiConfig(secret="bench"))) as base, httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            def page(url: str) -> Callable[[], object]:
                def get():
                    answer = http.get(url)
                    answer.raise_for_status()
                return get

            measured = {
                "calls page (API)": page(f"/v1/calls?{query}&limit=100"),
                "calls page (raw query)": lambda: client.execute(raw_calls.sql, raw_calls.params),
                "stats page (API)": page(f"/v1/stats?{query}&by=destination"),
                "stats page (raw query)": lambda: client.execute(raw_stats.sql, raw_stats.params),
            }
            for name, action in measured.items():
                results[name] = percentiles(timed(action, requests))
                report({name: results[name]}, progress)
            with current_clickhouse(calls, pages, progress) as current:
                for name, action in current.items():
                    results[name] = percentiles(timed(action, requests))
                    report({name: results[name]}, progress)
                if current:  # both servers measured the same work: the same page of the same calls
                    here = [row[2] for row in client.execute(raw_calls.sql, raw_calls.params)]
                    there = [line.split("\t")[2] for line in str(next(iter(current.values()))()).splitlines()]
                    same = "calls page: the same calls on both servers"
                    results[same] = bool(here) and here == there
                    report({same: results[same]}, progress)

            started = time.perf_counter()
            for number in range(writes):
                http.put(f"/v1/accounts/u-bench-{number}", json={"type": "user", "tariff": "t-r1-retail"}).raise_for_status()
            results["writes/s (API PUT, read-your-writes)"] = writes / (time.perf_counter() - started)
            report({"writes/s (API PUT, read-your-writes)": results["writes/s (API PUT, read-your-writes)"]}, progress)
            records = [parse_reference_record({"kind": "account", "id": f"u-raw-{n}", "type": "user", "parent": "r1",
                                               "tariff": "t-r1-retail"}) for n in range(writes)]
            started = time.perf_counter()
            for number, record in enumerate(records):
                asyncio.run(publish(scratch, [Located("bench", number, record)]))
            results["writes/s (raw transactional publish)"] = writes / (time.perf_counter() - started)
            report({"writes/s (raw transactional publish)": results["writes/s (raw transactional publish)"]}, progress)
    finally:
        connect(settings, database="default").execute(f"DROP DATABASE IF EXISTS {database}")
        asyncio.run(delete_topics_with_prefix(scratch))
    return results



@contextmanager
def current_clickhouse(calls: int, pages: dict, progress: Callable[[str], None]):
    """The pages' raw queries (name -> query of a database) as actions on current ClickHouse
    (chdb) holding the same calls, for the `with` block; none without chdb."""
    try:
        from chdb.session import Session
    except ImportError:
        progress("chdb is not installed: no figures for current ClickHouse")
        yield {}
        return
    with tempfile.TemporaryDirectory(prefix="bench-api-chdb-") as directory:
        session = Session(directory)
        try:
            yield _chdb_pages(session, calls, pages, progress)
        finally:
            session.close()


def _chdb_pages(session, calls: int, pages: dict, progress: Callable[[str], None]) -> dict[str, Callable[[], object]]:
    from clickhouse_driver.util.escape import escape_params

    from pipeline.sinks.migrate import schema_statements

    for statement in schema_statements("rating"):
        session.query(statement)
    started = time.perf_counter()
    for rows in call_rows(calls):
        session.query(f"INSERT INTO rating.rated_calls ({', '.join(COLUMNS)}) FORMAT CSV\n"
                      + "\n".join(",".join(_csv(value) for value in row) for row in rows))
    progress(f"{calls:,} calls inserted into current ClickHouse (chdb) in {time.perf_counter() - started:.1f} s")
    actions = {}
    for name, page in pages.items():
        query = page("rating")
        sql = query.sql % escape_params(query.params, None)  # what clickhouse-driver would send
        actions[f"{name} (raw, current ClickHouse: chdb)"] = lambda sql=sql: session.query(sql, "TSV")
    return actions


def _csv(value) -> str:
    if isinstance(value, datetime):
        return value.strftime('"%Y-%m-%d %H:%M:%S"')
    return f'"{value}"' if isinstance(value, str) else str(value)


def report(results: dict, progress: Callable[[str], None] = print) -> None:
    for name, value in results.items():
        if isinstance(value, bool):
            progress(f"{name:<44} {'yes' if value else 'NO'}")
        elif isinstance(value, tuple):
            progress(f"{name:<44} p50 {value[0]:8.1f} ms   p99 {value[1]:8.1f} ms")
        else:
            progress(f"{name:<44} {value:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--writes", type=int, default=50)
    arguments = parser.parse_args()
    run(Settings(), arguments.calls, arguments.requests, arguments.writes)


if __name__ == "__main__":
    main()
