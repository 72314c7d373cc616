"""bench-api: p50/p95/p99 of a reseller's calls page and stats page with N calls in ClickHouse, and
API write throughput, each beside the same work done raw in the same run (clickhouse-driver for the
reads, reference_apply.publish for the writes). The same pages on the same calls also run on
current ClickHouse (chdb, in process, on the same cores): the local server is 18.16, production's is
24+. Both servers also answer the pages as they were read before the tenant-ordered copy
(migrations/0009: the same SQL over `rated_calls FINAL`, one query over the whole period), the
baseline of the table printed at the end.

Everything goes to a scratch topic prefix and ClickHouse database, dropped at the end. The API runs
as in production (uvicorn, the Kafka follower, ClickHouse) and is called over HTTP.
`python -m pipeline bench-api --calls 1000000` (or `python -m devkit.bench_api`).
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
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from devkit.scratch import delete_topics_with_prefix
from pipeline.api import daily_totals
from pipeline.api.newest_calls import newest_calls
from pipeline.reports.queries import Query
from pipeline.reports.run import Table, fetch
from pipeline.settings import REPO_ROOT, Settings

CHUNK = 100_000
COLUMNS = ("server_id", "call_id", "account", "reseller", "provider", "dst", "start_time", "billsec", "disposition",
           "user_prefix", "user_price", "reseller_price", "provider_price", "reseller_profit", "admin_profit",
           "currency", "loss", "version")
# (account, reseller, share of the calls): the samples' accounts
CALLERS = (("u1", "r1", 0.3), ("u2", "r1", 0.2), ("u3", "r2", 0.3), ("d1", "", 0.2))
DAYS = 30
BEFORE = "(before 0009: rated_calls FINAL, raw)"
UNSETTLED = "stats page, no past day settled"  # the first view of a period: its days from the calls
CURRENT = "(raw, current ClickHouse: chdb)"
BEFORE_CURRENT = "(before 0009, current ClickHouse: chdb)"


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


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99 (nearest rank)."""
    ordered = sorted(samples)
    return (statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
            ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))])


def timed(action: Callable[[], object], count: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def run(settings: Settings, calls: int, requests: int, writes: int, progress: Callable[[str], None] = print,
        baseline_requests: int | None = None) -> dict:
    """Every figure by name; the pages' as (p50, p95, p99) ms. `baseline_requests` (default a
    quarter of `requests`): how often the slow reads of before migrations/0009 are timed."""
    import httpx

    from pipeline.api import queries
    from pipeline.api.app import production_app
    from pipeline.api.config import ApiConfig
    from pipeline.api.kafka_backend import ensure_api_topics, publish_logins
    from pipeline.api.queries import Period
    from pipeline.api.visibility import Scope
    from pipeline.reference.publish import Located, apply_files, publish
    from pipeline.reference.records import parse_reference_record
    from pipeline.sinks.clickhouse import client_url, connect
    from pipeline.sinks.migrate import migrate

    tag = uuid.uuid4().hex[:8]
    database = f"{settings.clickhouse_database}_benchapi_{tag}"
    scratch = settings.model_copy(update={"topic_prefix": f"bench-api-{tag}-",
                                          "clickhouse_url": client_url(settings, database)})
    samples = REPO_ROOT / "samples"
    results: dict[str, tuple[float, float, float] | float | bool] = {}
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
        local = lambda query: fetch(client, query)  # noqa: E731
        today = datetime.now(timezone.utc).date()
        settle_past_days(local, database, today, progress)

        period = Period(today - timedelta(days=DAYS), today)
        query = f"from={period.first}&to={period.last}"
        scope = Scope("reseller", "r1")
        # each page as the API's store reads it, given a way to run a query on a database
        pages = {"calls page": lambda read, db: newest_calls(read, db, scope, period, 100, 0),
                 "stats page": lambda read, db: daily_totals.stats(read, db, scope, period, True, today)[0],
                 UNSETTLED: lambda read, db: read(queries.stats(db, scope, period, True))}
        # and as it was read before migrations/0009: one query over rated_calls FINAL
        before = {"calls page": lambda db: over_rated_calls(queries.calls(db, scope, period, 100, 0), db),
                  "stats page": lambda db: over_rated_calls(queries.stats(db, scope, period, True), db)}
        baseline_requests = baseline_requests or max(3, requests // 4)
        with serving(production_app(scratch, ApiConfig(secret="bench"))) as base, httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            def page(url: str) -> Callable[[], object]:
                def get():
                    answer = http.get(url)
                    answer.raise_for_status()
                return get

            measured = {
                "calls page (API)": page(f"/v1/calls?{query}&limit=100"),
                "calls page (raw query)": lambda: pages["calls page"](local, database),
                f"calls page {BEFORE}": lambda: local(before["calls page"](database)),
                "stats page (API)": page(f"/v1/stats?{query}&by=destination"),
                "stats page (raw query)": lambda: pages["stats page"](local, database),
                f"stats page {BEFORE}": lambda: local(before["stats page"](database)),
                f"{UNSETTLED} (raw query)": lambda: pages[UNSETTLED](local, database),
            }
            for name, action in measured.items():
                results[name] = percentiles(timed(action, baseline_requests if BEFORE in name else requests))
                report({name: results[name]}, progress)
            exact = "stats page: the figures of rated_calls FINAL"
            results[exact] = pages["stats page"](local, database).rows == local(before["stats page"](database)).rows
            report({exact: results[exact]}, progress)
            with current_clickhouse(calls, progress) as read_current:
                if read_current is not None:
                    settle_past_days(read_current, "rating", today, progress)
                    for name in pages:
                        now = f"{name} {CURRENT}"
                        results[now] = percentiles(timed(lambda name=name: pages[name](read_current, "rating"),
                                                         requests))
                        report({now: results[now]}, progress)
                        if name not in before:
                            continue
                        then = f"{name} {BEFORE_CURRENT}"
                        results[then] = percentiles(timed(lambda name=name: read_current(before[name]("rating")),
                                                          baseline_requests))
                        report({then: results[then]}, progress)
                    # both servers measured the same work: the same page of the same calls
                    here = [str(row[2]) for row in pages["calls page"](local, database).rows]
                    there = [row[2] for row in pages["calls page"](read_current, "rating").rows]
                    old = [str(row[2]) for row in local(before["calls page"](database)).rows]
                    same = "calls page: the same calls on both servers"
                    results[same] = bool(here) and here == there == old
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
    for line in summary(results, calls):
        progress(line)
    return results



@contextmanager
def current_clickhouse(calls: int, progress: Callable[[str], None]):
    """For the `with` block: a reader (Query -> Table of text cells) of current ClickHouse (chdb,
    in process), whose database `rating` holds the same calls, migrated as the server's; None
    without chdb."""
    try:
        from chdb.session import Session
    except ImportError:
        progress("chdb is not installed: no figures for current ClickHouse")
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="bench-api-chdb-") as directory:
        session = Session(directory)
        try:
            yield _chdb_reader(session, calls, progress)
        finally:
            session.close()


def _chdb_reader(session, calls: int, progress: Callable[[str], None]) -> Callable[[Query], Table]:
    from clickhouse_driver.util.escape import escape_params

    from pipeline.sinks.migrate import schema_statements

    for statement in schema_statements("rating"):
        session.query(statement)
    started = time.perf_counter()
    for rows in call_rows(calls):
        session.query(f"INSERT INTO rating.rated_calls ({', '.join(COLUMNS)}) FORMAT CSV\n"
                      + "\n".join(",".join(_csv(value) for value in row) for row in rows))
    progress(f"{calls:,} calls inserted into current ClickHouse (chdb) in {time.perf_counter() - started:.1f} s")

    def read(query: Query) -> Table:
        sql = query.sql % escape_params(query.params, None)  # what clickhouse-driver would send
        return Table((), [tuple(line.split("\t")) for line in str(session.query(sql, "TSV")).splitlines()])
    return read


def settle_past_days(read: Callable[[Query], Table], database: str, today: date,
                     progress: Callable[[str], None]) -> None:
    """Settles every day before today (pipeline/api/daily_totals.py), as the API's settler does
    once a day's count stays the same: here nothing is being inserted any more."""
    started = time.perf_counter()
    days = [today - timedelta(days=n) for n in range(1, DAYS + 2)]
    seen = daily_totals.counts(read, database, days)
    for day, count in seen.items():
        daily_totals.settle(read, database, day, count)
    progress(f"{len(seen)} past days settled in {database} in {time.perf_counter() - started:.1f} s")


def over_rated_calls(query: Query, database: str) -> Query:
    """A page's query as it read before migrations/0009: its SQL over `rated_calls FINAL`, the
    whole period in one piece (the sliced source of the tenant-ordered copy taken out; a read that
    adds its figures around it, queries._seen, keeps them)."""
    head, found, rest = query.sql.partition(" FROM (SELECT * FROM ")
    if not found:
        raise ValueError("not a query of the sliced tenant copy")
    depth, at = 1, 0
    while depth:  # to the parenthesis that closes the sliced source
        depth += {"(": 1, ")": -1}.get(rest[at], 0)
        at += 1
    return Query(f"{head} FROM {database}.rated_calls FINAL{rest[at:]}", query.params)


def _csv(value) -> str:
    if isinstance(value, datetime):
        return value.strftime('"%Y-%m-%d %H:%M:%S"')
    return f'"{value}"' if isinstance(value, str) else str(value)


def report(results: dict, progress: Callable[[str], None] = print) -> None:
    for name, value in results.items():
        if isinstance(value, bool):
            progress(f"{name:<56} {'yes' if value else 'NO'}")
        elif isinstance(value, tuple):
            progress(f"{name:<56} p50 {value[0]:8.1f} ms   p95 {value[1]:8.1f} ms   p99 {value[2]:8.1f} ms")
        else:
            progress(f"{name:<56} {value:8.1f}")


def summary(results: dict, calls: int) -> list[str]:
    """The pages side by side, both servers, now and before migrations/0009 (Markdown)."""
    columns = (("ClickHouse 18.16, API over HTTP", "(API)"), ("18.16, raw", "(raw query)"),
               ("18.16, before 0009", BEFORE), ("current ClickHouse (chdb), raw", CURRENT),
               ("current (chdb), before 0009", BEFORE_CURRENT))
    lines = [f"{calls:,} calls, a reseller's pages, p50 / p95 / p99 ms:", "",
             "| page | " + " | ".join(title for title, _ in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for page in ("calls page", "stats page", UNSETTLED):
        cells = []
        for _, suffix in columns:
            figures = results.get(f"{page} {suffix}")
            cells.append(" / ".join(f"{value:,.0f}" for value in figures) if figures else "-")
        lines.append(f"| {page} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--baseline-requests", type=int, default=None,
                        help="timings of the reads before migrations/0009 (default: a quarter of --requests)")
    arguments = parser.parse_args()
    run(Settings(), arguments.calls, arguments.requests, arguments.writes, baseline_requests=arguments.baseline_requests)


if __name__ == "__main__":
    main()
